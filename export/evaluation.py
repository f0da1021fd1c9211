"""``evaluate``: the report card of artifacts already on disk, on the held-out data they were made from.

    report, paths = evaluate(["runs/r20", "export/saved_model", "export/model_int8.tflite"], max_drop=0.5)

Every option is checked, and the report folder proven writable, before any model or data is loaded.
The data is ``data`` if given, else what the artifacts recorded: a run folder's recipe and held-out
fingerprint, or the ones an export wrote into ``export.json`` and the sidecars. Either way it is rebuilt
and checked as at export (``datasets.load_export_data``) and read a batch at a time.
"""

from __future__ import annotations

import os

from keras_resnet.errors import KerasResnetError

from . import formats

def recorded_data(paths) -> dict | None:
    """``{"recipe", "heldout", "origin", "note"}`` recorded for these artifacts: a run folder's, else an export's
    (sidecar JSON or ``export.json`` next to the artifact; exports made before recipes give the source only)."""
    from keras_resnet.files import read_json

    from .labels import read_sidecar
    from .ownership import MANIFEST_FILE
    from .source import is_run_dir, run_data

    for path in map(os.fspath, paths):
        if is_run_dir(path):
            found = run_data(path)
            if found:
                return found
        manifest = os.path.join(os.path.dirname(os.path.abspath(os.path.normpath(path))), MANIFEST_FILE)
        try:
            candidates = [read_sidecar(path), read_json(manifest) if os.path.isfile(manifest) else None]
        except KerasResnetError:
            candidates = [read_sidecar(path)]
        for info in candidates:
            data = (info or {}).get("data") if isinstance(info, dict) else None
            if not isinstance(data, dict) or not data.get("source") or data["source"] == "given arrays":
                continue
            recipe = data.get("recipe") if isinstance(data.get("recipe"), dict) else {
                "data": data["source"], "data_dir": data.get("data_dir")}
            heldout = data.get("heldout") if isinstance(data.get("heldout"), dict) else None
            return {"recipe": recipe, "heldout": heldout, "origin": "export", "note": data.get("note")}
    return None


def default_report_dir(first_artifact) -> str:
    """Where ``evaluate`` writes by default: a run folder itself, else the first artifact's folder."""
    from .source import is_run_dir

    path = os.path.abspath(os.path.normpath(os.fspath(first_artifact)))
    return path if is_run_dir(path) else os.path.dirname(path)


def evaluate(paths, data: str | None = None, split: str | None = None, max_images: int | None = None,
             data_dir=None, seed: int = 0, label_offset: int | None = None, stream: bool | None = None,
             out_dir=None, reference=None, **options) -> tuple[dict, dict]:
    """``evaluate_artifacts`` on the recorded (or named) held-out data; writes the report card into ``out_dir``
    (default: ``default_report_dir``). Returns ``(report, {"json", "md", "png": path})``.

    ``split`` grades on another split than the held-out one; ``max_images`` on a stratified, seeded subset;
    ``data_dir``, ``label_offset`` and ``stream`` as for ``export_all``; other ``options`` go to
    ``evaluate_artifacts`` (``max_drop``, ``max_seconds``, ``latency_runs`` ...).
    """
    from keras_resnet.files import output_dir

    from .calibration import stratified_sample
    from .checks import seed_number, whole_number
    from .datasets import SPLIT_NAMES, check_data, load_export_data
    from .options import MAX_LABEL_OFFSET
    from .report import check_report_options, evaluate_artifacts, write_report

    paths = [os.fspath(path) for path in paths]
    if not paths:
        raise KerasResnetError(f"no artifacts to evaluate: {formats.ARTIFACT_HELP}")
    check_report_options(seed=seed, **{key: value for key, value in options.items() if key in (
        "latency_runs", "latency_warmup", "batch_size", "max_seconds", "max_drop", "latency_seconds")})
    if split is not None and split not in SPLIT_NAMES:
        raise KerasResnetError(f"split {split!r}: choose {', '.join(SPLIT_NAMES)}")
    if max_images is not None:
        max_images = whole_number(max_images, f"--max-images {max_images!r}: evaluate on at least 1 image", 1)
    if label_offset is not None:
        label_offset = whole_number(label_offset, f"--label-offset {label_offset!r}: give a whole number 0 to "
                                                  f"{MAX_LABEL_OFFSET} (1 for ImageNet TFRecords)", 0, MAX_LABEL_OFFSET)
    seed = seed_number(seed)
    if reference is not None and not any(_names_path(reference, path) for path in paths):
        raise KerasResnetError(f"reference '{reference}' is not among the artifacts: list it among them too")
    for path in paths:
        formats.format_of(path)  # every path is a model we can load, before anything is loaded
    if options.get("max_drop") is not None and reference is None and not any(map(_may_be_reference, paths)):
        raise KerasResnetError("--max-drop needs a float reference to compare with: add the .keras model or run "
                               "folder, the SavedModel or the float32 .tflite to the artifacts")
    if data is not None:
        check_data(data, stream, label_offset)
    with output_dir(out_dir or default_report_dir(paths[0])) as folder:  # removed again if this fails first
        recorded = recorded_data(paths)
        if data is None and not recorded:
            raise KerasResnetError("no held-out data named or recorded with the artifacts: pass --data "
                                   "(e.g. bundled, or your dataset folder)")
        first = formats.load_artifact(paths[0])
        shape = first.input_shape
        first.close()
        loaded = load_export_data(data, shape, data_dir, split, recorded=recorded, label_offset=label_offset,
                                  stream=stream)
        heldout, described = loaded.heldout, loaded.describe()
        if max_images is not None and max_images < len(heldout):
            heldout = heldout.take(stratified_sample(heldout.labels, max_images, seed))
            described["subset"] = f"{max_images} of {len(loaded.heldout)} images (stratified, seed {seed})"
        report = evaluate_artifacts(paths, heldout, class_names=loaded.class_names, data=described, seed=seed,
                                    reference=reference, **options)
        return report, write_report(report, folder)


def _may_be_reference(path: str) -> bool:
    """Whether the artifact at ``path`` can be the float reference (``formats.reference_index``), as far as its
    recorded metadata tells without loading it (a ``.tflite`` without any is given the benefit of the doubt)."""
    from .labels import read_sidecar
    from .tflite import read_metadata

    kind = formats.artifact_kind(path)
    info = read_sidecar(path) or (read_metadata(path) if kind == "tflite" else None)
    return not info or (info.get("mode") == "float32" and not info.get("optimization"))


def _names_path(reference, path: str) -> bool:
    reference = os.fspath(reference)
    return reference in (path, os.path.basename(os.path.normpath(path))) or \
        os.path.abspath(reference) == os.path.abspath(path)
