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

The held-out split is read a batch at a time for each artifact in turn (the float
reference first), so a split on disk is never held in memory; per image only the
answers are kept (and the reference's probabilities, to compare the others with).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import time

import numpy as np

from keras_resnet.errors import KerasResnetError
from keras_resnet.files import atomic_path, write_json, write_text

from . import formats
from .checks import check_max_drop, real_number, seed_number, whole_number
from .known_outputs import known_answers, reading_order
from .latency import DEFAULT_THREADS, latencies
from .progress import progress_bar
from .reader import keeps_order
from .runtime import all_threads
from .timing import StageTimes

REPORT_STEM = "report"
SLOW_ARTIFACT_FACTOR = 5  # without --eval-seconds, an artifact's accuracy run stops at this many times the reference's
MIN_AUTOMATIC_BUDGET = 20.0  # seconds: never cut sooner
BUDGETED_BATCH_SIZE = 4  # images per batch of an accuracy run under a time budget
REPORT_FILES = tuple(f"{REPORT_STEM}.{kind}" for kind in ("json", "md", "png"))
REFERENCE_KERNELS_WARNING = (
    "{name}: int16x8 runs on TFLite's reference kernels on CPU (no optimized int16 kernels){measured}; "
    "prefer int8 on CPU, or use it only where accuracy needs 16-bit activations"
)


MAX_BATCH_SIZE = 1024


@dataclasses.dataclass
class _Scores:
    """One artifact's answers on the held-out images it got through, one entry per image, in reading order."""

    labels: np.ndarray
    correct1: np.ndarray  # bool: the label is the top class
    correct5: np.ndarray  # bool: the label is among the top 5
    predicted: np.ndarray  # the top class
    difference: np.ndarray  # max |probability difference| against the reference (NaN where it has none)
    classes: int = 0
    complete: bool = True  # read to the end (not cut off by the time budget)
    probabilities: np.ndarray | None = None  # kept for the reference only
    note: str | None = None  # class names that differ (compared by id)
    seconds: float = 0.0  # what the answers took, those taken from KnownOutputs included
    taken: int = 0  # answers taken from KnownOutputs (export's verification), not run again

    def __len__(self) -> int:
        return len(self.labels)


def _pick_reference(artifacts, reference):
    """Index of the float reference: the one named, else the registry's choice (``formats.reference_index``)."""
    if reference is not None:
        for index, artifact in enumerate(artifacts):
            if _names(artifact, reference):
                return index
        raise KerasResnetError(f"reference '{reference}' is not among the artifacts: list it among them too")
    return formats.reference_index(artifacts)


def _names(artifact, reference) -> bool:
    """Whether ``reference`` (a path or name) names ``artifact``."""
    if reference in (artifact.path, artifact.name):
        return True
    if not artifact.path:
        return False
    wanted, path = os.path.abspath(os.fspath(reference)), os.path.abspath(artifact.path)
    return wanted == path or (artifact.kind == "keras" and wanted == os.path.dirname(path))  # a run folder


def _check_classes(artifact, class_names, classes: int, labels) -> str | None:
    """Errors when labels cannot line up with the outputs; a warning when only the names differ."""
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


def _held_out(images, labels, shape):
    """The held-out images as a split: one given (in memory or on disk), or arrays with their labels."""
    from keras_resnet.data.containers import ImageFiles, ImageRecords, LabeledImages

    from .reader import from_arrays

    if isinstance(images, (LabeledImages, ImageFiles, ImageRecords)):
        split = images
    elif labels is None:
        raise KerasResnetError("held-out images without labels cannot be graded: give one label per image")
    else:
        given = np.shape(images)
        if len(given) == 4 and {given[-1], shape[-1]} == {1, 3}:
            shape = (*shape[:2], given[-1])  # gray for RGB-input artifacts (or the reverse): converted per batch
        split = from_arrays(images, labels, shape, "held-out images")
    if not len(split):
        raise KerasResnetError("no held-out images to evaluate on: give at least one labelled image")
    return split


def _score(artifact, split, order, class_names, batch_size, max_seconds, progress, reference=None,
           keep=False, known=None) -> _Scores:
    """Runs ``artifact`` over ``split`` a batch at a time (in ``order``), until ``max_seconds`` if given;
    the images ``known`` (``KnownOutputs``) answered are not run again, and their seconds count as spent."""
    from .reader import batches

    parts = {"labels": [], "correct1": [], "correct5": [], "predicted": [], "difference": [], "probabilities": []}
    note, seen, classes, complete, taken = None, 0, 0, True, 0
    began = time.perf_counter() - (known.seconds if known is not None else 0.0)
    # Under a time budget, small batches: the budget is checked between batches, and one batch of 32 images
    # through int16x8 reference kernels at 224x224 alone takes minutes. An artifact that runs batches side
    # by side (int16x8: an interpreter a core) gets one small batch for each.
    at_once = max(1, artifact.concurrent_batches)
    step = batch_size if max_seconds is None else min(batch_size, BUDGETED_BATCH_SIZE * at_once)
    with progress_bar(len(split), f"Evaluating {artifact.name}", progress) as bar:
        for images, labels in batches(split, artifact.input_shape, step, order):
            count, probabilities = known_answers(known, seen, images)
            taken += count
            if count < len(images):
                predicted = artifact.predict(images[count:], batch_size=step if at_once == 1 else -(-step // at_once))
                probabilities = predicted if not count else np.concatenate([probabilities, predicted])
            if not seen:
                classes = probabilities.shape[-1]
                note = _check_classes(artifact, class_names, classes, split.labels)
            labels = labels.astype(np.int64)
            top = np.argsort(-probabilities, axis=-1, kind="stable")[:, :5]
            difference = np.full(len(labels), np.nan, np.float32)
            if reference is not None:
                common = max(0, min(len(labels), len(reference) - seen))
                if not np.array_equal(reference.labels[seen:seen + common], labels[:common]):
                    raise KerasResnetError("the held-out data changed while it was being read: evaluate again")
                expected = reference.probabilities[seen:seen + common]
                difference[:common] = np.max(np.abs(probabilities[:common] - expected), axis=-1)
            for key, value in (("labels", labels), ("correct1", top[:, 0] == labels),
                               ("correct5", np.any(top == labels[:, None], axis=-1)), ("predicted", top[:, 0]),
                               ("difference", difference), ("probabilities", probabilities if keep else None)):
                parts[key].append(value)
            seen += len(labels)
            bar.update(len(labels))
            spent = time.perf_counter() - began
            if max_seconds is not None and spent + spent / seen * min(step, len(split) - seen) > max_seconds:
                complete = seen >= len(split)  # the next batch would end past the budget (at this pace)
                break
    joined = {key: np.concatenate(values) if values and values[0] is not None else None
              for key, values in parts.items()}
    if joined["labels"] is None:
        raise KerasResnetError(f"no held-out image could be read for {artifact.name}: check the data")
    return _Scores(**joined, classes=classes, complete=complete, note=note, seconds=time.perf_counter() - began,
                   taken=taken)


def check_report_options(*, latency_runs=50, latency_warmup=10, batch_size=32, seed=0, max_seconds=None,
                         max_drop=None, latency_seconds=3.0) -> dict:
    """The report card's numeric options, checked (one-line errors) and normalised."""
    return {
        "latency_runs": whole_number(latency_runs, f"latency_runs={latency_runs!r}: time at least 1 run (e.g. 50)",
                                     1),
        "latency_warmup": whole_number(latency_warmup, f"latency_warmup={latency_warmup!r}: give 0 or more runs"),
        "latency_seconds": real_number(latency_seconds, f"latency_seconds={latency_seconds!r}: give a positive "
                                                        "number of seconds", positive=True),
        "batch_size": whole_number(batch_size, f"batch_size={batch_size!r}: give 1 to {MAX_BATCH_SIZE}", 1,
                                   MAX_BATCH_SIZE),
        "seed": seed_number(seed),
        "max_seconds": None if max_seconds is None else real_number(
            max_seconds, f"max_seconds={max_seconds!r}: give 0 or more seconds (0: one batch each)", minimum=0.0),
        "max_drop": None if max_drop is None else check_max_drop(max_drop),
    }


def evaluate_artifacts(artifacts, images, labels=None, *, class_names=None, reference=None, data=None,
                       threads=DEFAULT_THREADS, latency_runs: int = 50, latency_warmup: int = 10,
                       latency_seconds: float = 3.0, max_drop: float | None = None, batch_size: int = 32,
                       max_seconds: float | None = None, seed: int = 0, progress: bool = True, read_first=None,
                       known=None) -> dict:
    """Runs each artifact (path, model or loaded ``Artifact``) on the held-out images and builds the report dict.

    ``images``: a split (``LabeledImages`` in memory, or ``ImageFiles``/``ImageRecords`` on disk, read a
    batch at a time: nothing holds the whole split), or uint8 arrays with their ``labels``. ``data``
    describes them for the report (e.g. ``{"source": "bundled", "split": "test"}``; its ``note`` becomes
    the first warning). ``max_seconds`` caps each artifact's accuracy run (16x8 on reference kernels can
    take seconds per image); without it, an artifact is cut at ``SLOW_ARTIFACT_FACTOR`` times the
    reference's accuracy run (at least ``MIN_AUTOMATIC_BUDGET`` seconds), so one slow artifact cannot
    dominate the report's time (the first batch always runs; no later batch starts that would end past
    the budget at the pace so far). The images are read in one seeded random order (TFRecords: in file order),
    so a cut-off artifact is scored on the first images of it, and its drop and agreement on those same
    images; the report's warnings say which artifacts were cut and why. ``read_first``: held-out indices
    read before the rest (export: its verification images); ``known``: per artifact, ``None`` or the
    ``KnownOutputs`` it gave on those (export's verification), which are taken instead of run again.
    """
    checked = check_report_options(latency_runs=latency_runs, latency_warmup=latency_warmup, batch_size=batch_size,
                                   seed=seed, max_seconds=max_seconds, max_drop=max_drop,
                                   latency_seconds=latency_seconds)
    batch_size, seed, max_seconds, max_drop = (checked[key] for key in ("batch_size", "seed", "max_seconds",
                                                                        "max_drop"))
    timing = (checked["latency_warmup"], checked["latency_runs"], checked["latency_seconds"])
    loaded = [formats.load_artifact(item) for item in artifacts]
    if not loaded:
        raise KerasResnetError(f"no artifacts to evaluate: {formats.ARTIFACT_HELP}")
    split = _held_out(images, labels, loaded[0].input_shape)
    order = reading_order(np.random.default_rng(seed).permutation(len(split)) if keeps_order(split) else None,
                          read_first)
    known = list(known) if known is not None else [None] * len(loaded)
    reference_index = _pick_reference(loaded, reference)
    optimized = any((artifact.info or {}).get("optimization") for artifact in loaded)
    sequence = sorted(range(len(loaded)), key=lambda index: index != reference_index)  # the reference first
    rows, scores, budgets = [None] * len(loaded), [None] * len(loaded), [max_seconds] * len(loaded)
    for index in sequence:
        artifact = loaded[index]
        expected = scores[reference_index] if reference_index is not None and index != reference_index else None
        seconds = StageTimes()
        if max_seconds is None and index != reference_index and reference_index is not None:
            budgets[index] = max(SLOW_ARTIFACT_FACTOR * scores[reference_index].seconds, MIN_AUTOMATIC_BUDGET)
        with seconds.stage("accuracy"):
            scores[index] = _score(artifact, split, order, class_names, batch_size, budgets[index], progress,
                                   expected, keep=index == reference_index, known=known[index])
        row = artifact.summary()
        with seconds.stage("latency"):
            latency = latencies(artifact, threads, *timing)
        row.update({
            "latency_ms": latency,
            "seconds": dict(seconds),
            "ops": artifact.ops(),
            "calibration": (artifact.info or {}).get("calibration"),
            "verification": (artifact.info or {}).get("verification"),
            "optimization": (artifact.info or {}).get("optimization"),
        })
        if optimized:  # pruning/clustering show in compressed size: measure every file
            compression = artifact.compression()
            if compression:
                row["compression"] = compression
        artifact.close()
        rows[index] = row
    loaded.clear()  # the models and interpreters can go; the rows say everything
    # every image of the split, or as many as a full pass read (a streamed split may skip unreadable ones)
    total = max((len(score) for score in scores if score.complete), default=len(split))
    notes = [data["note"]] if (data or {}).get("note") else []
    for row, score, budget in zip(rows, scores, budgets):
        _grade(row, score, scores[reference_index] if reference_index is not None else None)
        if score.note:
            notes.append(score.note)
        if len(score) < total:
            where = "" if order is not None else ", the first in file order"
            why = (f"time budget {max_seconds:g} s per artifact" if max_seconds is not None else
                   f"stopped at {budget:.0f} s, {SLOW_ARTIFACT_FACTOR}x the reference's accuracy run; "
                   "--eval-seconds sets the budget")
            notes.append(f"{row['name']}: scored on {len(score)} of {total} images ({why}{where})")
    _compare_qat_with_post_training(rows, scores)
    report = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "data": {**(data or {}), "images": int(total), "classes": int(scores[0].classes)},
        "reference": rows[reference_index]["name"] if reference_index is not None else None,
        "all_threads": all_threads(),
        "artifacts": rows,
        "warnings": notes + _warnings(rows),
    }
    report["gate"] = gate(report, max_drop) if max_drop is not None else None
    return report


def _grade(row: dict, score: _Scores, reference: _Scores | None) -> None:
    """Accuracy, and agreement, top-1 drop and largest difference against the reference on the images both scored."""
    row.update({"images": len(score), "top1": float(score.correct1.mean()), "top5": float(score.correct5.mean()),
                "answers_from_verification": score.taken})
    if reference is None:
        row["agreement"] = row["top1_drop_points"] = None
        return
    common = min(len(score), len(reference))
    row["agreement"] = float(np.mean(score.predicted[:common] == reference.predicted[:common]))
    row["top1_drop_points"] = _top1_gain_points(reference, score)
    row["max_abs_diff_vs_reference"] = float(np.max(score.difference[:common])) if score is not reference else 0.0


def _compare_qat_with_post_training(rows, scores) -> None:
    """Each QAT row's top-1 gain (+) or loss (-) in points against the post-training int8 row of the same
    report, on the images both scored: what the fine-tuning earned over plain calibration."""
    post_training = next((index for index, row in enumerate(rows) if row["kind"] == "tflite"
                          and row["mode"] == "int8" and not row.get("optimization")), None)
    for row, score in zip(rows, scores):
        if post_training is None or (row.get("optimization") or {}).get("variant") != "qat":
            continue
        row["top1_vs_post_training_int8"] = {"artifact": rows[post_training]["name"],
                                             "points": _top1_gain_points(score, scores[post_training])}


def _top1_gain_points(score: _Scores, baseline: _Scores) -> float:
    """Top-1 points ``score`` is above ``baseline`` on the images both scored (the first of the reading order)."""
    common = min(len(score), len(baseline))
    return round(float(score.correct1[:common].mean() - baseline.correct1[:common].mean()) * 100, 4)


def _warnings(rows) -> list[str]:
    notes = []
    int8 = next((row for row in rows if row["kind"] == "tflite" and row["mode"] == "int8"), None)
    for row in rows:
        if row["kind"] == "tflite" and row["mode"] == "int16x8":
            notes.append(reference_kernels_warning(row, int8))
        ops = row.get("ops") or {}
        if row["mode"] in ("int8", "int16x8") and ops.get("float_ops"):  # .tflite and .onnx
            names = ", ".join(f"{name} x{count}" for name, count in ops["float_ops"].items())
            notes.append(f"{row['name']}: ops left in float32 (fallbacks): {names}")
        if row["latency_ms"].get("1", 0) is None and "1" in row["latency_ms"]:
            notes.append(f"{row['name']}: 1-thread latency not measured (TensorFlow fixes its thread count "
                         "at start-up); TFLite and ONNX rows have it")
        verification = row.get("verification") or {}
        if verification.get("synthetic"):
            notes.append(f"{row['name']}: was verified at export on synthetic images (no held-out data given)")
    return notes


def _one_thread_p50(row):
    """Median batch-1 latency at 1 thread of a report row, or None (no row, or not measured)."""
    return ((row or {}).get("latency_ms", {}).get("1") or {}).get("p50_ms")


def reference_kernels_warning(int16x8_row: dict, int8_row: dict | None) -> str:
    """The int16x8 warning, with how much slower than int8 it ran at 1 thread (p50) in this report; no figure
    when either latency is missing."""
    slow, fast = _one_thread_p50(int16x8_row), _one_thread_p50(int8_row)
    measured = ""
    if slow and fast:
        ratio = slow / fast
        measured = f", {ratio:.{0 if ratio >= 10 else 1}f}x slower than int8 at 1 thread here (median latency)"
    return REFERENCE_KERNELS_WARNING.format(name=int16x8_row["name"], measured=measured)


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
    fingerprint = (f" Held-out split fingerprint: {data['fingerprint_check']} (SHA-256 "
                   f"`{data['heldout']['sha256'][:12]}`)." if data.get("heldout") else "")
    lines = [
        "# Report card",
        "",
        f"Held-out data: {source}{split}, {data['images']} images, {data['classes']} classes.{fingerprint} "
        f"Reference (float): {report['reference'] or 'none'}. Latency: batch 1, p50 / p90 ms, "
        f"1 thread and all {report['all_threads']} threads, after warm-up.",
        "",
        *([f"**Warning: {data['note']}.**", ""] if data.get("note") else []),
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
    for row in report["artifacts"]:
        versus = row.get("top1_vs_post_training_int8")
        if versus:
            lines += ["", f"QAT: {row['name']} {versus['points']:+.2f} top-1 points against post-training int8 "
                          f"({versus['artifact']}) on the same images."]
    calibrations = {row["calibration"]["sha256"]: row["calibration"] for row in report["artifacts"]
                    if row.get("calibration")}
    for calibration in calibrations.values():
        lines += ["", f"Calibration: {calibration['images']} images (stratified, seed {calibration['seed']}) "
                      f"from {calibration.get('source') or 'the training data'}, SHA-256 `{calibration['sha256']}`."]
    lines += _compression_lines(report)
    notes = [note for note in report["warnings"] if note != data.get("note")]  # that one stands at the top
    if notes:
        lines += ["", "## Warnings", ""] + [f"- {note}" for note in notes]
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
