"""``export_all``: a model in, every artifact out, each verified, with the report card.

    from . import export_all
    result = export_all("runs/resnet20", "export/")          # run dir: labels and data come with it
    result.paths["int8"], result.report["artifacts"][0]["top1"]

Order of work: check every option first (formats, modes, output folder, data
shapes), then write ``labels.txt``, the SavedModel and one ``.tflite`` per mode,
each staged, verified against the float32 Keras model and only then moved into
place; then the fine-tuned variants asked for (``"qat"`` among the modes,
``prune``, ``cluster``: see ``optimize``), each verified against its own fine-tuned
model; then ``export.json`` (what was made, from what, how it verified) and, with
held-out labels, ``report.json/.md/.png``.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
import warnings

import numpy as np

from keras_resnet import files
from keras_resnet.errors import KerasResnetError

from .calibration import (DEFAULT_CALIBRATION_SIZE, MIN_CALIBRATION_IMAGES, check_images, representative_dataset,
                          representative_set, stratified_sample)
from .labels import write_labels_file, write_sidecar
from .optimize import Optimizations, parse_quantize
from .source import float32_model, load_source
from .source import input_shape as model_input_shape
from .tflite import FULL_INTEGER_MODES, INT8_IO_TYPES, MODES
from .verify import DEFAULT_MIN_AGREEMENT, DEFAULT_VERIFY_IMAGES, verify

FORMATS = ("saved_model", "tflite")
SAVED_MODEL_DIR = "saved_model"
MANIFEST_FILE = "export.json"


@dataclasses.dataclass
class ExportResult:
    """Where everything went: ``paths`` by artifact (``saved_model``, ``float32`` ... ``int16x8``)."""

    out_dir: str
    paths: dict
    manifest: dict
    report: dict | None = None
    report_paths: dict | None = None
    models: dict = dataclasses.field(default_factory=dict)  # fine-tuned tf_keras models by variant (qat, pruned ...)

    @property
    def gate_passed(self) -> bool:
        return not (self.report and self.report.get("gate")) or self.report["gate"]["passed"]


def parse_formats(formats) -> list[str]:
    names = [str(name).strip().lower().replace("-", "_") for name in
             (formats.split(",") if isinstance(formats, str) else formats) if str(name).strip()]
    if names == ["all"]:
        return list(FORMATS)
    for name in names:
        if name not in FORMATS:
            raise KerasResnetError(f"unknown export format {name!r}: choose from {', '.join(FORMATS)} (or 'all')")
    if not names:
        raise KerasResnetError(f"no export format given: choose from {', '.join(FORMATS)}")
    return [name for name in FORMATS if name in names]


def _version() -> str:
    try:
        import keras_resnet

        return keras_resnet.__version__
    except Exception:  # pragma: no cover
        return "unknown"


def export_all(model_or_path, out_dir, *, formats=FORMATS, modes=MODES, class_names=None, labels_file=None,
               data=None, data_dir=None, calibration_images=None, calibration_labels=None, heldout_images=None,
               heldout_labels=None, calibration_size: int = DEFAULT_CALIBRATION_SIZE, seed: int = 0,
               int8_io: str = "uint8", verify_images: int = DEFAULT_VERIFY_IMAGES,
               min_agreement: float = DEFAULT_MIN_AGREEMENT, evaluate: bool = True, max_drop: float | None = None,
               latency_runs: int = 50, eval_seconds: float | None = None, stem: str = "model",
               progress: bool = True, qat_epochs: int = Optimizations.qat_epochs,
               qat_learning_rate: float = Optimizations.qat_learning_rate, prune: float | None = None,
               prune_epochs: int = Optimizations.prune_epochs,
               prune_learning_rate: float = Optimizations.prune_learning_rate, cluster: int | None = None,
               cluster_epochs: int = Optimizations.cluster_epochs,
               cluster_learning_rate: float = Optimizations.cluster_learning_rate,
               fine_tune_batch_size: int = Optimizations.batch_size) -> ExportResult:
    """Exports ``model_or_path`` (keras.Model, ``.keras`` file or training run folder) to ``out_dir``.

    Data: arrays (``calibration_images``/``labels`` from the training split,
    ``heldout_images``/``labels`` never trained on), or ``data`` (a
    ``load_dataset`` source such as ``"bundled"``; a run folder's own
    ``config.json`` supplies it by default). int8/int16x8 need calibration images;
    without held-out images, float artifacts are verified on synthetic ones and no
    report is made. ``eval_seconds`` caps each artifact's accuracy run in the report
    (int16x8 runs on slow reference kernels); ``max_drop`` sets ``report["gate"]``. Returns an ``ExportResult``; raises ``KerasResnetError`` on bad
    input or a failed verification (nothing half-written is left behind).

    Fine-tuned variants (tfmot, on the training images, i.e. the calibration images and labels):
    ``"qat"`` among ``modes`` (quantization-aware training, ``qat_epochs`` at ``qat_learning_rate``,
    then ``model_qat_int8.tflite``), ``prune=SPARSITY`` and ``cluster=N`` (``model_pruned_*`` /
    ``model_clustered_*``: float32, and int8 when int8 is among the modes).
    """
    started = time.perf_counter()
    formats = parse_formats(formats)
    modes, qat = parse_quantize(modes) if "tflite" in formats else ([], False)
    optimizations = Optimizations(
        qat=qat, qat_epochs=qat_epochs, qat_learning_rate=qat_learning_rate, prune=prune, prune_epochs=prune_epochs,
        prune_learning_rate=prune_learning_rate, cluster=cluster, cluster_epochs=cluster_epochs,
        cluster_learning_rate=cluster_learning_rate, batch_size=fine_tune_batch_size).check()
    if "tflite" not in formats and (prune is not None or cluster is not None):
        raise KerasResnetError("pruning and clustering make .tflite artifacts: add tflite to --formats")
    if int8_io not in INT8_IO_TYPES:
        raise KerasResnetError(f"unknown int8 I/O type {int8_io!r}: choose {' or '.join(INT8_IO_TYPES)}")
    if int(calibration_size) < MIN_CALIBRATION_IMAGES:
        raise KerasResnetError(f"calibration size {calibration_size} is too small: use at least "
                               f"{MIN_CALIBRATION_IMAGES} images (default {DEFAULT_CALIBRATION_SIZE})")
    if int(verify_images) < 1:
        raise KerasResnetError(f"verify_images={verify_images}: verify on at least 1 image (default 256)")
    if not 0.0 <= float(min_agreement) <= 1.0:
        raise KerasResnetError(f"min_agreement={min_agreement} is outside 0..1: use e.g. 0.8")
    out = files.prepare_output_dir(out_dir)
    source = load_source(model_or_path, class_names, labels_file)
    model = float32_model(source.model)
    shape = model_input_shape(model)
    names = list(source.class_names)

    # Data: arrays as given, else the named or the run's dataset.
    data_source = data or (source.data or {}).get("source")
    data_dir = data_dir or (source.data or {}).get("data_dir")
    described = None
    if calibration_images is None and heldout_images is None and data_source:
        from .datasets import load_export_data

        loaded = load_export_data(data_source, shape, data_dir)
        calibration_images, calibration_labels = loaded.train_images, loaded.train_labels
        heldout_images, heldout_labels = loaded.heldout_images, loaded.heldout_labels
        described = loaded.describe()
        if list(loaded.class_names) != names and len(loaded.class_names) == len(names):
            if source.run_dir is None and class_names is None and labels_file is None:
                names = list(loaded.class_names)  # the model had no labels: the data's names fit
            else:
                warnings.warn(f"the model's class names {names[:3]}... differ from the data's "
                              f"{loaded.class_names[:3]}...; using the model's", stacklevel=2)
    needs_calibration = any(mode in FULL_INTEGER_MODES for mode in modes) or optimizations.needs_calibration(modes)
    calibration = None
    if needs_calibration:
        if calibration_images is None:
            wanted = [m for m in modes if m in FULL_INTEGER_MODES] + optimizations.requested
            raise KerasResnetError(
                f"{' and '.join(wanted)} need calibration images: pass "
                "--data SOURCE (e.g. bundled, or your training folder), or leave those modes out of --quantize")
        calibration = representative_set(calibration_images, calibration_labels, calibration_size, seed, shape)
    if optimizations.requested:
        from .fine_tune import check_training_data
        from .source import output_classes

        calibration_images, calibration_labels = check_training_data(
            calibration_images, calibration_labels, shape, output_classes(model),
            " and ".join(optimizations.requested))
    synthetic = heldout_images is None
    if synthetic:
        from .datasets import synthetic_images

        warnings.warn("no held-out images: verifying on synthetic images and skipping the report; pass --data "
                      "to verify and evaluate on real ones", stacklevel=2)
        verify_x, heldout_labels = synthetic_images(min(int(verify_images), 64), shape, seed), None
    else:
        heldout_images = check_images(heldout_images, shape, "held-out images")
        if heldout_labels is not None:
            heldout_labels = np.asarray(heldout_labels).reshape(-1)
            if len(heldout_labels) != len(heldout_images):
                raise KerasResnetError(f"{len(heldout_images)} held-out images but {len(heldout_labels)} labels: "
                                       "give one label per image")
            picks = stratified_sample(heldout_labels, int(verify_images), seed)
        else:
            picks = np.arange(min(len(heldout_images), int(verify_images)))
        verify_x = heldout_images[picks]

    import tensorflow as tf

    from .runtime import KerasArtifact

    # TFLite runs on the CPU: compute the reference there too, so a GPU's TF32 convolutions
    # (on by default for Ampere and later) cannot push float32 differences past 1e-4.
    with tf.device("/CPU:0"):
        reference = KerasArtifact(model, class_names=names).predict(verify_x, progress=False)
    calibration_info = calibration.summary(
        f"{described['source']} train split" if described else "given calibration images") if calibration else None
    manifest = {
        "keras_resnet_version": _version(),
        "source": source.path or f"{source.model.name} (in memory)",
        "model": source.model.name,
        "input_shape": list(shape),
        "dtype_policy": source.original_policy,
        "rebuilt_in_float32": source.original_policy != "float32",
        "class_names": names,
        "data": described or ({"source": "given arrays"} if not synthetic else None),
        "calibration": calibration_info,
        "verification_images": {"count": int(len(verify_x)), "synthetic": synthetic},
        "artifacts": {},
    }
    paths = {"labels": write_labels_file(out, names)}
    common = {"class_names": names, "source_model": manifest["source"], "input_shape": list(shape),
              "keras_resnet_version": manifest["keras_resnet_version"], "data": manifest["data"]}

    if "saved_model" in formats:
        final = os.path.join(out, SAVED_MODEL_DIR)
        began = time.perf_counter()
        with files.atomic_path(final, directory=True) as folder:
            from .runtime import SavedModelArtifact
            from .saved_model import write_saved_model

            write_saved_model(model, folder, names, shape)
            artifact = SavedModelArtifact(folder)
            if artifact.class_names != names:
                raise KerasResnetError(f"the SavedModel's class_names signature returned {artifact.class_names[:3]}... "
                                       f"instead of {names[:3]}...; nothing was written at '{final}'")
            with tf.device("/CPU:0"):  # the reference's device (see above)
                result = verify(artifact, verify_x, reference, "float32", final, min_agreement, progress,
                                label="SavedModel")
            del artifact
        result["synthetic"] = synthetic
        manifest["artifacts"]["saved_model"] = {"path": final, "size_bytes": files.path_size(final),
                                                "verification": result,
                                                "seconds": round(time.perf_counter() - began, 2)}
        paths["saved_model"] = final

    tflite_keys, optimized_models = [], {}
    if modes or optimizations.requested:
        from .runtime import TFLiteArtifact
        from .tflite import convert, embed_metadata, tflite_name, write_conversion_source

        def write_tflite(conversion_source, mode, key, file_stem, expected, extra=None):
            """Converts, embeds metadata, verifies against ``expected`` and moves one ``.tflite`` into place."""
            began = time.perf_counter()
            final = os.path.join(out, tflite_name(file_stem, mode))
            dataset = (representative_dataset(calibration, progress)
                       if mode in FULL_INTEGER_MODES else None)
            content = convert(conversion_source, mode, dataset, int8_io)
            info = {**common, "format": "tflite", "mode": mode,
                    "int8_io": int8_io if mode == "int8" else None,
                    "calibration": calibration_info if mode in FULL_INTEGER_MODES else None, **(extra or {})}
            content = embed_metadata(content, info)
            what = f"TFLite {mode}" + (f" ({extra['optimization']['variant']})" if extra else "")
            with files.atomic_path(final) as temporary:
                with open(temporary, "wb") as handle:
                    handle.write(content)
                artifact = TFLiteArtifact(temporary, names)
                result = verify(artifact, verify_x, expected, mode, final, min_agreement, progress, label=what)
                result["synthetic"] = synthetic
                io = artifact.io()
                info.update({"input": io["input"], "output": io["output"], "ops": artifact.ops(),
                             "verification": result, "size_bytes": len(content),
                             "pixels": "raw 0-255 values, channels last; quantized inputs use the scale and "
                                       "zero point above (uint8 I/O: scale 1, zero point 0)"})
                artifact.close()
                write_sidecar(final, info)
            paths[key] = final
            tflite_keys.append(key)
            manifest["artifacts"][key] = {"path": final, "size_bytes": len(content), "verification": result,
                                          "seconds": round(time.perf_counter() - began, 2)}

        with tempfile.TemporaryDirectory(prefix="keras_resnet_export_") as scratch:
            if modes:
                conversion_source = write_conversion_source(model, os.path.join(scratch, "float_graph"), shape)
                for mode in modes:
                    write_tflite(conversion_source, mode, mode, stem, reference)
            if optimizations.requested:
                from .compression import tflite_compression
                from .optimize import predict, variants

                manifest["optimizations"] = {}
                for variant in variants(model, optimizations, calibration_images, calibration_labels, modes,
                                        check_images=verify_x, seed=seed, progress=progress):
                    # Each variant is verified against its own fine-tuned model, on the reference's device.
                    expected = predict(variant.model, verify_x)
                    source_dir = write_conversion_source(variant.model, os.path.join(scratch, variant.name), shape)
                    for mode in variant.modes:
                        key = f"{variant.name}_{mode}"
                        write_tflite(source_dir, mode, key, f"{stem}_{variant.name}", expected,
                                     {"optimization": variant.info})
                        manifest["artifacts"][key]["compression"] = tflite_compression(paths[key])
                    manifest["optimizations"][variant.name] = variant.info
                    optimized_models[variant.name] = variant.model

    manifest["export_seconds"] = round(time.perf_counter() - started, 2)
    report = report_paths = None
    if evaluate and heldout_labels is not None:
        from .report import evaluate_artifacts, write_report

        keras_entry = source.path if source.path else source.model
        artifacts = [keras_entry] + [paths[name] for name in ["saved_model", *tflite_keys] if name in paths]
        report = evaluate_artifacts(artifacts, heldout_images, heldout_labels, class_names=names,
                                    data=described or {"source": "given arrays"}, max_drop=max_drop,
                                    latency_runs=latency_runs, max_seconds=eval_seconds, seed=seed,
                                    progress=progress)
        report["calibration"] = calibration_info
        report_paths = write_report(report, out)
        manifest["report"] = report_paths
    manifest["total_seconds"] = round(time.perf_counter() - started, 2)
    files.write_json(os.path.join(out, MANIFEST_FILE), manifest)
    paths["manifest"] = os.path.join(out, MANIFEST_FILE)
    return ExportResult(out, paths, manifest, report, report_paths, optimized_models)
