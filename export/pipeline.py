"""``export_all``: a model in, every artifact out, each verified, with the report card.

    from . import export_all
    result = export_all("runs/resnet20", "export/")          # run dir: labels and data come with it
    result.paths["int8"], result.report["artifacts"][0]["top1"]

Order of work: check every option (``ExportOptions``), load the model as float32 and
its data (shapes checked), write ``labels.txt``, then let each format of the registry
(``formats``) write its artifacts, each staged, verified and only then moved into
place (``job``); then ``export.json`` (what was made, from what, how it verified) and,
with held-out labels, ``report.json/.md/.png``.
"""

from __future__ import annotations

import dataclasses
import os
import time
import warnings

import numpy as np

from keras_resnet import files
from keras_resnet.errors import KerasResnetError

from . import formats
from .calibration import check_images, representative_set, stratified_sample
from .job import ExportJob
from .labels import write_labels_file
from .options import ExportOptions
from .source import float32_model, load_source
from .source import input_shape as model_input_shape

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


@dataclasses.dataclass
class _Data:
    """The images an export works with, checked against the model's input."""

    class_names: list
    calibration_images: np.ndarray | None
    calibration_labels: np.ndarray | None
    heldout_images: np.ndarray | None
    heldout_labels: np.ndarray | None
    described: dict | None  # {"source": ..., "split": ...} when loaded from a dataset


def _version() -> str:
    try:
        import keras_resnet

        return keras_resnet.__version__
    except Exception:  # pragma: no cover
        return "unknown"


def export_all(model_or_path, out_dir, options: ExportOptions | None = None, *, calibration_images=None,
               calibration_labels=None, heldout_images=None, heldout_labels=None, **overrides) -> ExportResult:
    """Exports ``model_or_path`` (keras.Model, ``.keras`` file or training run folder) to ``out_dir``.

    ``options`` (an ``ExportOptions``) and/or its fields as keywords (``modes="float32,int8,qat"``,
    ``qat_epochs=1``, ``data="bundled"`` ...) say what and how. Data: arrays (``calibration_images``/
    ``labels`` from the training split, ``heldout_images``/``labels`` never trained on), or
    ``options.data`` (a ``load_dataset`` source; a run folder's own ``config.json`` supplies it by
    default). int8/int16x8 need calibration images; without held-out images, float artifacts are
    verified on synthetic ones and no report is made. Returns an ``ExportResult``; raises
    ``KerasResnetError`` on bad input or a failed verification (nothing half-written is left behind).

    Fine-tuned variants (tfmot, on the training images, i.e. the calibration images and labels):
    ``"qat"`` among ``modes`` (then ``model_qat_int8.tflite``), ``prune=SPARSITY`` and ``cluster=N``
    (``model_pruned_*`` / ``model_clustered_*``: float32, and int8 when int8 is among the modes).
    """
    started = time.perf_counter()
    options = _options(options, overrides)
    out = files.prepare_output_dir(out_dir)
    source = load_source(model_or_path, options.class_names, options.labels_file)
    model = float32_model(source.model)
    data = _data(options, source, model_input_shape(model), calibration_images, calibration_labels,
                 heldout_images, heldout_labels)
    job = _job(options, out, source, model, data)
    labels_path = write_labels_file(out, job.class_names)
    for module in formats.exporters(options.formats):
        module.export(job)
    manifest = _manifest(source, job)
    if job.optimizations:
        manifest["optimizations"] = job.optimizations
    manifest["export_seconds"] = round(time.perf_counter() - started, 2)
    report = report_paths = None
    if options.evaluate and data.heldout_labels is not None:
        report, report_paths = _report(options, out, source, job, data)
        manifest["report"] = report_paths
    manifest["total_seconds"] = round(time.perf_counter() - started, 2)
    manifest_path = os.path.join(out, MANIFEST_FILE)
    files.write_json(manifest_path, manifest)
    paths = {"labels": labels_path, **job.paths, "manifest": manifest_path}
    return ExportResult(out, paths, manifest, report, report_paths, job.models)


def _options(options, overrides) -> ExportOptions:
    """``options`` (default: all defaults) with ``overrides`` applied, checked."""
    options = options or ExportOptions()
    unknown = sorted(set(overrides) - {field.name for field in dataclasses.fields(ExportOptions)})
    if unknown:
        raise TypeError(f"export_all() got unknown option(s) {', '.join(unknown)}: see ExportOptions")
    return dataclasses.replace(options, **overrides) if overrides else options


def _data(options, source, shape, calibration_images, calibration_labels, heldout_images, heldout_labels) -> _Data:
    """Arrays as given, else the named or the run's dataset; class names reconciled with the data's."""
    names = list(source.class_names)
    data_source = options.data or (source.data or {}).get("source")
    described = None
    if calibration_images is None and heldout_images is None and data_source:
        from .datasets import load_export_data

        loaded = load_export_data(data_source, shape, options.data_dir or (source.data or {}).get("data_dir"))
        calibration_images, calibration_labels = loaded.train_images, loaded.train_labels
        heldout_images, heldout_labels = loaded.heldout_images, loaded.heldout_labels
        described = loaded.describe()
        if list(loaded.class_names) != names and len(loaded.class_names) == len(names):
            if source.run_dir is None and options.class_names is None and options.labels_file is None:
                names = list(loaded.class_names)  # the model had no labels: the data's names fit
            else:
                warnings.warn(f"the model's class names {names[:3]}... differ from the data's "
                              f"{loaded.class_names[:3]}...; using the model's", stacklevel=3)
    if heldout_images is not None:
        heldout_images = check_images(heldout_images, shape, "held-out images")
        if heldout_labels is not None:
            heldout_labels = np.asarray(heldout_labels).reshape(-1)
            if len(heldout_labels) != len(heldout_images):
                raise KerasResnetError(f"{len(heldout_images)} held-out images but {len(heldout_labels)} labels: "
                                       "give one label per image")
    return _Data(names, calibration_images, calibration_labels, heldout_images, heldout_labels, described)


def _job(options, out, source, model, data) -> ExportJob:
    """Calibration set, training data for fine-tuning, verification images and their Keras reference."""
    import tensorflow as tf

    from .formats.keras_model import KerasArtifact

    shape = model_input_shape(model)
    calibration = None
    if options.needs_calibration:
        if data.calibration_images is None:
            raise KerasResnetError(
                f"{' and '.join(options.calibration_needed_by)} need calibration images: pass "
                "--data SOURCE (e.g. bundled, or your training folder), or leave those modes out of --quantize")
        calibration = representative_set(data.calibration_images, data.calibration_labels, options.calibration_size,
                                         options.seed, shape)
    training_images, training_labels = data.calibration_images, data.calibration_labels
    if options.optimizations.requested:
        from .fine_tune import check_training_data
        from .source import output_classes

        training_images, training_labels = check_training_data(
            training_images, training_labels, shape, output_classes(model),
            " and ".join(options.optimizations.requested))
    synthetic = data.heldout_images is None
    if synthetic:
        from .datasets import synthetic_images

        warnings.warn("no held-out images: verifying on synthetic images and skipping the report; pass --data "
                      "to verify and evaluate on real ones", stacklevel=3)
        verify_images = synthetic_images(min(options.verify_images, 64), shape, options.seed)
    elif data.heldout_labels is not None:
        verify_images = data.heldout_images[stratified_sample(data.heldout_labels, options.verify_images,
                                                              options.seed)]
    else:
        verify_images = data.heldout_images[:options.verify_images]
    # TFLite runs on the CPU: compute the reference there too, so a GPU's TF32 convolutions
    # (on by default for Ampere and later) cannot push float32 differences past 1e-4.
    with tf.device("/CPU:0"):
        reference = KerasArtifact(model, class_names=data.class_names).predict(verify_images, progress=False)
    described = data.described
    calibration_info = calibration.summary(
        f"{described['source']} train split" if described else "given calibration images") if calibration else None
    info = {"class_names": data.class_names, "source_model": source.path or f"{source.model.name} (in memory)",
            "input_shape": list(shape), "keras_resnet_version": _version(),
            "data": described or ({"source": "given arrays"} if not synthetic else None)}
    return ExportJob(options, out, model, data.class_names, shape, verify_images, reference, synthetic, info,
                     calibration, calibration_info, training_images, training_labels)


def _manifest(source, job) -> dict:
    """``export.json``: what was made, from what, how each artifact verified."""
    return {
        "keras_resnet_version": job.info["keras_resnet_version"],
        "source": job.info["source_model"],
        "model": source.model.name,
        "input_shape": list(job.input_shape),
        "dtype_policy": source.original_policy,
        "rebuilt_in_float32": source.original_policy != "float32",
        "class_names": job.class_names,
        "data": job.info["data"],
        "calibration": job.calibration_info,
        "verification_images": {"count": int(len(job.verify_images)), "synthetic": job.synthetic},
        "artifacts": job.artifacts,
    }


def _report(options, out, source, job, data):
    """The report card over the Keras model and every artifact that landed, written next to them."""
    from .report import evaluate_artifacts, write_report

    artifacts = [source.path if source.path else source.model, *job.paths.values()]
    report = evaluate_artifacts(artifacts, data.heldout_images, data.heldout_labels, class_names=job.class_names,
                                data=data.described or {"source": "given arrays"}, max_drop=options.max_drop,
                                latency_runs=options.latency_runs, max_seconds=options.eval_seconds,
                                seed=options.seed, progress=options.progress)
    report["calibration"] = job.calibration_info
    return report, write_report(report, out)
