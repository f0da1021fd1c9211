"""``export_all``: a model in, every artifact out, each verified, with the report card.

    from . import export_all
    result = export_all("runs/resnet20", "export/")          # run dir: labels and data come with it
    result.paths["int8"], result.report["artifacts"][0]["top1"]

Order of work: check every option (``ExportOptions``), load the model as float32 and
its data (the run's recipe rebuilt and its held-out split checked: ``datasets``; left
on disk where it can be), pick the calibration and verification images, claim the
folder (``ownership``), write ``labels.txt``, then let each format of the registry
(``formats``) write its artifacts, each staged, verified and only then moved into
place (``job``); with held-out labels ``report.json/.md/.png``; last ``export.json``
(what was made, from what data, how it verified, which files it owns).
"""

from __future__ import annotations

import dataclasses
import os
import time
import warnings

import numpy as np

from keras_resnet import files
from keras_resnet.errors import KerasResnetError

from . import formats, ownership
from .calibration import calibration_set, stratified_sample
from .camera import artifact_input_shape, resolve_rgb_input
from .job import ExportJob
from .labels import LABELS_FILE, write_labels_file
from .options import ExportOptions
from .report import REPORT_FILES
from .source import float32_model, load_source
from .timing import StageTimes
from .source import input_shape as model_input_shape

MANIFEST_FILE = ownership.MANIFEST_FILE


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
    """The splits an export works with (in memory or on disk), checked against the model's input."""

    class_names: list
    train: object | None  # a Split, for calibration and fine-tuning
    heldout: object | None  # a Split, for verification and the report
    train_labelled: bool  # whether the labels are real (stratified picks, fine-tuning) or placeholders
    heldout_labelled: bool
    described: dict | None  # what the manifest and report record about the data


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
    ``options.data`` (a ``load_dataset`` source), by default the data a run folder recorded: rebuilt
    with the run's recipe and its held-out split checked against the run's fingerprint. int8/int16x8
    need calibration images; without held-out images, float artifacts are verified on synthetic ones
    and no report is made (``max_drop`` then refuses). Returns an ``ExportResult``; raises
    ``KerasResnetError`` on bad input or a failed verification (nothing half-written is left behind).
    The folder ends up holding this export's files only, listed in ``export.json`` (``ownership``).

    Fine-tuned variants (tfmot, on the training images, i.e. the calibration images and labels):
    ``"qat"`` among ``modes`` (then ``model_qat_int8.tflite``), ``prune=SPARSITY`` and ``cluster=N``
    (``model_pruned_*`` / ``model_clustered_*``: float32, and int8 when int8 is among the modes).
    """
    started, times = time.perf_counter(), StageTimes()
    options = _options(options, overrides)
    with files.output_dir(out_dir) as out:  # removed again if this fails before writing into it
        with times.stage("load model"):
            source = load_source(model_or_path, options.class_names, options.labels_file)
            model = float32_model(source.model)
        with times.stage("load data"):
            data = _data(options, source, model_input_shape(model), calibration_images, calibration_labels,
                         heldout_images, heldout_labels)
        reporting = options.evaluate and data.heldout_labelled
        if options.max_drop is not None and not reporting:
            raise KerasResnetError(f"--max-drop {options.max_drop:g} needs labelled held-out images to check: "
                                   "pass --data (e.g. bundled, or your dataset folder with a test/ split) or drop "
                                   "--max-drop")
        with times.stage("pick calibration and verification images, Keras reference"):
            job = _job(options, out, source, model, data, times)
        planned = [LABELS_FILE, *formats.planned_outputs(options), *(REPORT_FILES if reporting else ())]
        folder = ownership.claim(out, planned)
        labels_path = write_labels_file(out, job.class_names)
        for module in formats.exporters(options.formats):
            module.export(job)
        manifest = _manifest(source, job)
        if job.optimizations:
            manifest["optimizations"] = job.optimizations
        manifest["export_seconds"] = round(time.perf_counter() - started, 2)
        report = report_paths = None
        if reporting:
            with times.stage("report card"):
                report, report_paths = _report(options, out, source, job, data)
            manifest["report"] = report_paths
        manifest["total_seconds"] = round(time.perf_counter() - started, 2)
        manifest["stage_seconds"] = dict(times)
        written = [name for name in planned if os.path.lexists(os.path.join(out, name))]
        manifest = folder.finish(manifest, written)
        paths = {"labels": labels_path, **job.paths, "manifest": os.path.join(out, MANIFEST_FILE)}
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
    from .reader import from_arrays

    names = list(source.class_names)
    if calibration_images is not None or heldout_images is not None:
        train = None if calibration_images is None else from_arrays(calibration_images, calibration_labels, shape,
                                                                    "calibration images")
        heldout = None if heldout_images is None else from_arrays(heldout_images, heldout_labels, shape,
                                                                  "held-out images")
        return _Data(names, train, heldout, calibration_labels is not None, heldout_labels is not None,
                     None if heldout is None else {"source": "given arrays"})
    if not options.data and not source.data:
        return _Data(names, None, None, False, False, None)
    from .datasets import load_export_data

    loaded = load_export_data(options.data, shape, options.data_dir, recorded=source.data,
                              label_offset=options.label_offset, stream=options.stream)
    if list(loaded.class_names) != names and len(loaded.class_names) == len(names):
        if source.run_dir is None and options.class_names is None and options.labels_file is None:
            names = list(loaded.class_names)  # the model had no labels: the data's names fit
        else:
            warnings.warn(f"the model's class names {names[:3]}... differ from the data's "
                          f"{loaded.class_names[:3]}...; using the model's", stacklevel=3)
    if loaded.note:
        warnings.warn(loaded.note, stacklevel=3)
    return _Data(names, loaded.train, loaded.heldout, True, True, loaded.describe())


def _job(options, out, source, model, data, times) -> ExportJob:
    """Calibration set, training data for fine-tuning, verification images and their Keras reference."""
    import tensorflow as tf

    from .formats.keras_model import KerasArtifact
    from .reader import read_examples

    shape = model_input_shape(model)
    calibration = None
    if options.needs_calibration:
        if data.train is None:
            raise KerasResnetError(
                f"{' and '.join(options.calibration_needed_by)} need calibration images: pass "
                "--data SOURCE (e.g. bundled, or your training folder), or leave those modes out of --quantize")
        calibration = calibration_set(data.train, options.calibration_size, options.seed, shape,
                                      stratified=data.train_labelled)
    training_images = training_labels = None
    if options.optimizations.requested:  # fine-tuning reads the whole training split
        from .fine_tune import check_training_data
        from .source import output_classes

        if data.train is not None:
            training_images, training_labels = read_examples(data.train, shape)
        training_images, training_labels = check_training_data(
            training_images, training_labels if data.train_labelled else None, shape, output_classes(model),
            " and ".join(options.optimizations.requested))
    synthetic = data.heldout is None
    if synthetic:
        from .datasets import synthetic_images

        warnings.warn("no held-out images: verifying on synthetic images and skipping the report; pass --data "
                      "to verify and evaluate on real ones", stacklevel=3)
        verify_images = synthetic_images(min(options.verify_images, 64), shape, options.seed)
    else:
        picks = (stratified_sample(data.heldout.labels, options.verify_images, options.seed)
                 if data.heldout_labelled else range(min(options.verify_images, len(data.heldout))))
        verify_images, _ = read_examples(data.heldout, shape, picks)
    # TFLite runs on the CPU: compute the reference there too, so a GPU's TF32 convolutions
    # (on by default for Ampere and later) cannot push float32 differences past 1e-4.
    began = time.perf_counter()
    with tf.device("/CPU:0"):
        reference = KerasArtifact(model, class_names=data.class_names).predict(verify_images, progress=False)
    reference_seconds = time.perf_counter() - began
    described = data.described
    calibration_info = calibration.summary(
        f"{described['source']} train split" if described else "given calibration images") if calibration else None
    rgb_input = resolve_rgb_input(options.rgb_input, shape[-1])
    info = {"class_names": data.class_names, "source_model": source.path or f"{source.model.name} (in memory)",
            "model": source.model.name, "input_shape": list(artifact_input_shape(shape, rgb_input)),
            "model_input_shape": list(shape), "rgb_input": rgb_input, "keras_resnet_version": _version(),
            "data": described or ({"source": "given arrays"} if not synthetic else None)}
    return ExportJob(options, out, model, data.class_names, shape, verify_images, reference, synthetic, info,
                     calibration, calibration_info, training_images, training_labels, rgb_input=rgb_input,
                     times=times, verify_indices=None if synthetic else np.asarray(picks, np.int64),
                     reference_seconds=reference_seconds)


def _manifest(source, job) -> dict:
    """``export.json``: what was made, from what, how each artifact verified."""
    return {
        "keras_resnet_version": job.info["keras_resnet_version"],
        "source": job.info["source_model"],
        "model": source.model.name,
        "input_shape": list(job.artifact_input_shape),
        "model_input_shape": list(job.input_shape),
        "rgb_input": job.rgb_input,
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
    from .known_outputs import KnownOutputs
    from .report import evaluate_artifacts, write_report

    artifacts = [source.path if source.path else source.model, *job.paths.values()]
    # Every artifact's verification answers (and the Keras model's, when it runs in float32 as export did)
    # are taken for the images they cover: the report reads those first and runs only the rest.
    reference = (KnownOutputs(job.verify_images, job.reference, job.reference_seconds)
                 if source.original_policy == "float32" else None)
    known = [reference, *(job.verified.get(path) for path in job.paths.values())]
    report = evaluate_artifacts(artifacts, data.heldout, class_names=job.class_names,
                                data=data.described or {"source": "given arrays"}, max_drop=options.max_drop,
                                latency_runs=options.latency_runs, max_seconds=options.eval_seconds,
                                seed=options.seed, progress=options.progress, read_first=job.verify_indices,
                                known=known)
    report["calibration"] = job.calibration_info
    return report, write_report(report, out)
