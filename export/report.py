"""The report card: every artifact run through its real runtime on held-out data.

For each artifact: top-1/top-5 accuracy, agreement with and top-1 drop against the
float reference, file size, batch-1 latency (p50/p90, 1 thread and all threads),
the share of ops in integer arithmetic and any float fallbacks, I/O dtypes and
quantization; for fine-tuned variants (QAT, pruned, clustered) what made them, and for
every .tflite then its gzip size, weight sparsity and distinct weight values. Written as
``report.json``, ``report.md`` and ``report.png``
(accuracy against size and against latency). ``max_drop`` turns it into a release
gate: ``report["gate"]["passed"]`` is false when any artifact loses more top-1
points than that against the float reference.
"""

from __future__ import annotations

import datetime
import os

import numpy as np

from keras_resnet.errors import KerasResnetError
from keras_resnet.files import atomic_path, write_json, write_text

from . import formats
from .latency import DEFAULT_THREADS, latencies
from .runtime import all_threads

REPORT_STEM = "report"
REFERENCE_KERNELS_WARNING = (
    "{name}: int16x8 runs on TFLite's reference kernels on CPU (no optimized int16 kernels), {ratio}; "
    "prefer int8 on CPU, or use it only where accuracy needs 16-bit activations"
)


def _top_k_accuracy(probabilities, labels, k):
    k = min(k, probabilities.shape[-1])
    top = np.argpartition(-probabilities, k - 1, axis=-1)[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=-1)))


def _pick_reference(artifacts, reference):
    """Index of the float reference: the one named, else the registry's choice (``formats.reference_index``)."""
    if reference is not None:
        for index, artifact in enumerate(artifacts):
            if reference in (artifact.path, artifact.name) or (
                    artifact.path and os.path.abspath(str(reference)) == os.path.abspath(artifact.path)):
                return index
        raise KerasResnetError(f"reference '{reference}' is not among the artifacts: list it among them too")
    return formats.reference_index(artifacts)


def _check_classes(artifact, class_names, probabilities, labels) -> str | None:
    """Errors when labels cannot line up with the outputs; a warning when only the names differ."""
    classes = probabilities.shape[-1]
    if labels.size and labels.max() >= classes:
        raise KerasResnetError(
            f"{artifact.name} predicts {classes} classes but the data has labels up to {labels.max()}: "
            "evaluate on the dataset the model was trained on"
        )
    mine, theirs = list(artifact.class_names or []), list(class_names or [])
    if not mine or not theirs or mine == theirs:
        return None
    if sorted(mine) == sorted(theirs):
        raise KerasResnetError(
            f"{artifact.name} orders its classes {mine[:3]}... but the data orders them {theirs[:3]}...: "
            "class ids would not line up; give the labels.txt the model was trained with"
        )
    return (f"{artifact.name}: class names {mine[:3]}... differ from the data's {theirs[:3]}...; "
            "compared by class id, assuming the same order")


def evaluate_artifacts(artifacts, images, labels, *, class_names=None, reference=None, data=None,
                       threads=DEFAULT_THREADS, latency_runs: int = 50, latency_warmup: int = 10,
                       latency_seconds: float = 3.0, max_drop: float | None = None, batch_size: int = 32,
                       max_seconds: float | None = None, seed: int = 0, progress: bool = True) -> dict:
    """Runs each artifact (path, model or loaded ``Artifact``) on ``images`` and builds the report dict.

    ``data`` describes the images for the report (e.g. ``{"source": "bundled", "split": "test"}``).
    ``max_seconds`` caps each artifact's accuracy run (16x8 on reference kernels can take
    seconds per image): the images are shuffled once (``seed``), so a cut-off artifact is
    scored on a random subset, and its drop and agreement are computed on that same subset.
    """
    images = np.asarray(images)
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    if len(images) != len(labels) or not len(labels):
        raise KerasResnetError(
            f"{len(images)} held-out images and {len(labels)} labels: give one label per image, at least one")
    order = np.random.default_rng(seed).permutation(len(labels))
    images, labels = images[order], labels[order]
    loaded, rows, predictions, notes = [], [], [], []
    for item in artifacts:
        artifact = formats.load_artifact(item)
        probabilities = artifact.predict(images, batch_size=batch_size, progress=progress,
                                         label=f"Evaluating {artifact.name}", max_seconds=max_seconds)
        count = len(probabilities)
        note = _check_classes(artifact, class_names, probabilities, labels[:count])
        if note:
            notes.append(note)
        if count < len(labels):
            notes.append(f"{artifact.name}: scored on {count} of {len(labels)} images "
                         f"(time budget {max_seconds:g} s per artifact)")
        row = artifact.summary()
        row.update({
            "images": count,
            "top1": _top_k_accuracy(probabilities, labels[:count], 1),
            "top5": _top_k_accuracy(probabilities, labels[:count], 5),
            "latency_ms": latencies(artifact, threads, latency_warmup, latency_runs, latency_seconds),
            "ops": artifact.ops(),
            "calibration": (artifact.info or {}).get("calibration"),
            "verification": (artifact.info or {}).get("verification"),
            "optimization": (artifact.info or {}).get("optimization"),
        })
        rows.append(row)
        predictions.append(probabilities)
        loaded.append(artifact)
        artifact.close()
    if any(row["optimization"] for row in rows):  # pruning/clustering show in compressed size: measure every file
        for row, artifact in zip(rows, loaded):
            compression = artifact.compression()
            if compression:
                row["compression"] = compression
    reference_index = _pick_reference(loaded, reference)
    for row, probabilities in zip(rows, predictions):
        if reference_index is None:
            row["agreement"] = row["top1_drop_points"] = None
            continue
        expected = predictions[reference_index]
        common = min(len(expected), len(probabilities))  # both score the first `common` shuffled images
        mine, theirs = probabilities[:common], expected[:common]
        row["agreement"] = float(np.mean(mine.argmax(-1) == theirs.argmax(-1)))
        row["top1_drop_points"] = round((_top_k_accuracy(theirs, labels[:common], 1)
                                         - _top_k_accuracy(mine, labels[:common], 1)) * 100, 4)
        row["max_abs_diff_vs_reference"] = float(np.max(np.abs(mine - theirs)))
    report = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "data": {**(data or {}), "images": int(len(labels)), "classes": int(predictions[0].shape[-1])},
        "reference": rows[reference_index]["name"] if reference_index is not None else None,
        "all_threads": all_threads(),
        "artifacts": rows,
        "warnings": notes + _warnings(rows),
    }
    report["gate"] = gate(report, max_drop) if max_drop is not None else None
    return report


def _warnings(rows) -> list[str]:
    notes = []
    int8 = [row for row in rows if row["kind"] == "tflite" and row["mode"] == "int8"]
    for row in rows:
        if row["kind"] == "tflite" and row["mode"] == "int16x8":
            slow = (row["latency_ms"].get("1") or {}).get("p50_ms")
            fast = (int8[0]["latency_ms"].get("1") or {}).get("p50_ms") if int8 else None
            ratio = (f"{slow / fast:.0f}x slower than int8 at 1 thread here" if slow and fast else
                     "about 40x slower than int8 when measured on this stack")
            notes.append(REFERENCE_KERNELS_WARNING.format(name=row["name"], ratio=ratio))
        ops = row.get("ops") or {}
        if row["kind"] == "tflite" and row["mode"] in ("int8", "int16x8") and ops.get("float_ops"):
            names = ", ".join(f"{name} x{count}" for name, count in ops["float_ops"].items())
            notes.append(f"{row['name']}: ops left in float32 (fallbacks): {names}")
        if row["latency_ms"].get("1", 0) is None and "1" in row["latency_ms"]:
            notes.append(f"{row['name']}: 1-thread latency not measured (TensorFlow fixes its thread count "
                         "at start-up); TFLite rows have it")
        verification = row.get("verification") or {}
        if verification.get("synthetic"):
            notes.append(f"{row['name']}: was verified at export on synthetic images (no held-out data given)")
    return notes


def gate(report: dict, max_drop: float) -> dict:
    """Which artifacts lose more than ``max_drop`` top-1 points against the reference."""
    if report["reference"] is None:
        raise KerasResnetError(
            "--max-drop needs a float reference: include the .keras model, the SavedModel or the float32 .tflite")
    failures = [{"name": row["name"], "top1_drop_points": row["top1_drop_points"]}
                for row in report["artifacts"] if row["top1_drop_points"] is not None
                and row["top1_drop_points"] > max_drop]
    return {"max_drop_points": float(max_drop), "passed": not failures, "failures": failures}


def _kib(size):
    return "-" if size is None else f"{size / 1024:,.0f} KiB"


def _latency(row, key):
    value = row["latency_ms"].get(key)
    return "n/a" if value is None else f"{value['p50_ms']:.2f} / {value['p90_ms']:.2f}"


def _tensor(tensor):
    if not tensor:
        return "-"
    quantization = tensor.get("quantization")
    if quantization:
        return f"{tensor['dtype']} (s={quantization['scale']:.4g}, z={quantization['zero_point']})"
    return tensor["dtype"]


def _ops(row):
    ops = row.get("ops")
    if not ops:
        return "-", "-"
    floats = ", ".join(ops["float_ops"]) if row["mode"] in ("int8", "int16x8") and ops["float_ops"] else "-"
    return f"{ops['integer_share']:.0%}", floats


def _percent(value):
    return "-" if value is None else f"{value * 100:.2f}%"


_VARIANT_LABELS = {"qat": "QAT", "pruned": "pruned", "clustered": "clustered"}


def _mode(row) -> str:
    variant = (row.get("optimization") or {}).get("variant")
    return f"{row['kind']} {row['mode']}" + (f" ({_VARIANT_LABELS.get(variant, variant)})" if variant else "")


def _optimization(row) -> str:
    info = row.get("optimization") or {}
    if not info:
        return "-"
    detail = (f"{info['target_sparsity']:.0%} target sparsity" if "target_sparsity" in info else
              f"{info['clusters']} clusters" if "clusters" in info else info.get("method", ""))
    return f"{_VARIANT_LABELS.get(info.get('variant'), info.get('variant'))}: {detail}, {info.get('epochs')} epoch(s)"


def _compression_lines(report) -> list[str]:
    rows = [row for row in report["artifacts"] if row.get("compression")]
    if not rows:
        return []
    lines = ["", "## Compression", "",
             "Weights of the conv and dense layers as stored in each file (after BatchNorm folding and "
             "quantization); distinct values are counted per output channel.", "",
             "| Artifact | Mode | Fine-tuning | Top-1 | Size | Gzip size | Weight sparsity | Distinct values "
             "per channel (max / mean) |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        stats = row["compression"]
        lines.append(f"| {row['name']} | {_mode(row)} | {_optimization(row)} | {_percent(row['top1'])} "
                     f"| {_kib(stats['size_bytes'])} | {_kib(stats['gzip_bytes'])} | {stats['sparsity']:.1%} "
                     f"| {stats['max_unique_per_channel']} / {stats['mean_unique_per_channel']:g} |")
    return lines


def markdown(report: dict) -> str:
    """The report card as a Markdown table with its notes."""
    data = report["data"]
    source = data.get("source", "given images")
    split = f", {data['split']} split" if data.get("split") else ""
    lines = [
        "# Report card",
        "",
        f"Held-out data: {source}{split}, {data['images']} images, {data['classes']} classes. "
        f"Reference (float): {report['reference'] or 'none'}. Latency: batch 1, p50 / p90 ms, "
        f"1 thread and all {report['all_threads']} threads, after warm-up.",
        "",
        "| Artifact | Mode | Top-1 | Top-5 | Drop (pts) | Agreement | Size | 1 thread ms | All threads ms "
        "| Integer ops | Float fallbacks | Input | Output |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["artifacts"]:
        integer, floats = _ops(row)
        drop = "-" if row["top1_drop_points"] is None else f"{row['top1_drop_points']:+.2f}"
        partial = f" (n={row['images']})" if row.get("images", data["images"]) < data["images"] else ""
        lines.append(
            f"| {row['name']} | {_mode(row)} | {_percent(row['top1'])}{partial} | {_percent(row['top5'])} "
            f"| {drop} | {_percent(row['agreement'])} | {_kib(row['size_bytes'])} | {_latency(row, '1')} "
            f"| {_latency(row, 'all')} | {integer} | {floats} | {_tensor(row.get('input'))} "
            f"| {_tensor(row.get('output'))} |")
    calibrations = {row["calibration"]["sha256"]: row["calibration"] for row in report["artifacts"]
                    if row.get("calibration")}
    for calibration in calibrations.values():
        lines += ["", f"Calibration: {calibration['images']} images (stratified, seed {calibration['seed']}) "
                      f"from {calibration.get('source') or 'the training data'}, SHA-256 `{calibration['sha256']}`."]
    lines += _compression_lines(report)
    if report["warnings"]:
        lines += ["", "## Warnings", ""] + [f"- {note}" for note in report["warnings"]]
    if report.get("gate"):
        result = report["gate"]
        verdict = "passed" if result["passed"] else "FAILED: " + ", ".join(
            f"{item['name']} ({item['top1_drop_points']:+.2f} pts)" for item in result["failures"])
        lines += ["", f"Gate (max top-1 drop {result['max_drop_points']} points): {verdict}"]
    return "\n".join(lines) + "\n"


def plot(report: dict, path: str) -> None:
    """``report.png``: top-1 against file size and against 1-thread latency (log scales).

    One colour and marker per artifact, the same in both panels, named in the legend.
    Keras and SavedModel points use all-thread latency (marked so in the legend).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 5.2), dpi=110)
    FigureCanvasAgg(figure)
    size_axes, latency_axes = figure.subplots(1, 2)
    markers = "osD^vP*Xhp<>"
    handles = []
    for index, row in enumerate(report["artifacts"]):
        style = {"marker": markers[index % len(markers)], "color": f"C{index % 10}", "s": 60, "alpha": 0.85}
        top1 = row["top1"] * 100
        label = f"{row['name']} ({_mode(row)})"
        handle = None
        if row["size_bytes"]:
            handle = size_axes.scatter(row["size_bytes"] / 1024, top1, **style)
        latency = row["latency_ms"].get("1") or row["latency_ms"].get("all")
        if latency:
            if not row["latency_ms"].get("1"):
                label += ", latency: all threads"
            handle = latency_axes.scatter(latency["p50_ms"], top1, **style)
        if handle is not None:
            handles.append((handle, label))
    for axes, xlabel in ((size_axes, "file size (KiB, log scale)"),
                         (latency_axes, "batch-1 latency p50, 1 thread (ms, log scale)")):
        axes.set_xscale("log")
        axes.set_xlabel(xlabel)
        axes.set_ylabel("top-1 accuracy (%)")
        axes.grid(True, which="both", alpha=0.3)
        low, high = axes.get_ylim()
        axes.set_ylim(min(low, high - 1.0), max(high, low + 1.0))
    size_axes.set_title("Accuracy vs size")
    latency_axes.set_title("Accuracy vs latency")
    figure.legend([h for h, _ in handles], [label for _, label in handles], loc="lower center",
                  ncol=2, fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.06 + 0.035 * ((len(handles) + 1) // 2), 1, 1))
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png")


def write_report(report: dict, folder: str, stem: str = REPORT_STEM) -> dict:
    """Writes ``report.json``, ``report.md`` and ``report.png`` into ``folder``; returns their paths."""
    from keras_resnet.files import prepare_output_dir

    folder = prepare_output_dir(folder)
    paths = {kind: os.path.join(folder, f"{stem}.{kind}") for kind in ("json", "md", "png")}
    write_json(paths["json"], report)
    write_text(paths["md"], markdown(report))
    plot(report, paths["png"])
    return paths


def recorded_data(paths) -> dict | None:
    """The dataset an export recorded for these artifacts (sidecar JSON, export.json or run config)."""
    import json

    from .labels import read_sidecar
    from .source import is_run_dir, run_data_source

    for path in map(os.fspath, paths):
        if is_run_dir(path):
            found = run_data_source(path)
            if found:
                return found
        candidates = [read_sidecar(path)]
        manifest = os.path.join(os.path.dirname(os.path.abspath(os.path.normpath(path))), "export.json")
        if os.path.isfile(manifest):
            try:
                with open(manifest, encoding="utf-8") as file:
                    candidates.append(json.load(file))
            except (OSError, ValueError):
                pass
        for info in candidates:
            data = (info or {}).get("data") or {}
            if isinstance(data, dict) and data.get("source") and data["source"] != "given arrays":
                return {"source": data["source"], "data_dir": data.get("data_dir")}
    return None


def evaluate(paths, data: str | None = None, split: str | None = None, max_images: int | None = None,
             data_dir=None, seed: int = 0, **options) -> dict:
    """``evaluate_artifacts`` on a named dataset (default: the one recorded at export), resized to fit."""
    from .calibration import stratified_sample
    from .datasets import load_export_data

    paths = list(paths)
    if not paths:
        raise KerasResnetError(f"no artifacts to evaluate: {formats.ARTIFACT_HELP}")
    first = formats.load_artifact(paths[0])
    shape = first.input_shape
    first.close()
    recorded = recorded_data(paths) or {}
    source = data or recorded.get("source")
    if not source:
        raise KerasResnetError("no held-out data named or recorded with the artifacts: pass --data "
                               "(e.g. bundled, or your dataset folder)")
    loaded = load_export_data(source, shape, data_dir or recorded.get("data_dir"), split)
    images, labels = loaded.heldout_images, loaded.heldout_labels
    if max_images is not None and max_images < len(labels):
        if max_images < 1:
            raise KerasResnetError(f"--max-images {max_images}: evaluate on at least 1 image")
        picks = stratified_sample(labels, int(max_images), seed)
        images, labels = images[picks], labels[picks]
    return evaluate_artifacts(paths, images, labels, class_names=loaded.class_names, data=loaded.describe(),
                              **options)


def default_report_dir(first_artifact) -> str:
    """Where ``evaluate`` writes by default: a run folder itself, else the first artifact's folder."""
    from .source import is_run_dir

    path = os.path.abspath(os.path.normpath(os.fspath(first_artifact)))
    return path if is_run_dir(path) else os.path.dirname(path)
