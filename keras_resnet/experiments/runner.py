"""Train the models of an experiment through the package's training loop, resumably, and collect their records.

Every model is one ``keras_resnet.training.train`` run in its own run directory,
``<experiment folder>/runs/<model name>/``, with the same data (handed over in
memory), recipe, seed and budget. After each epoch the run also measures, in
inference mode, the training error on a fixed subset of the training images (the
papers' curves are training error, not the running error on augmented batches)
and the test error, plus the experiment's own measurement if any (kept in the
run's ``measurements.json``). The experiment's JSON gets each model's record once
it has finished. A rerun of the same command skips finished models, and ``train``
continues an interrupted one from its last checkpoint. A model may start from a
weights file instead of its initialisation (``ModelSpec.start_from``: a grown net).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
import warnings

import keras

from keras_resnet.errors import KerasResnetError
from keras_resnet.experiments.recipes import resolve_budget
from keras_resnet.files import read_json, write_json
from keras_resnet.run_directory import RunDirectory
from keras_resnet.training import EpochEvaluation, TrainingDiverged, build_network, train
from keras_resnet.training.callbacks import read_checkpoint_state
from keras_resnet.training.config import differences

STATE_FORMAT = 2
RUNS_DIR = "runs"  # inside the experiment folder: one run directory per model
MEASUREMENTS_FILE = "measurements.json"  # in a model's run directory: ``measure`` before training and per epoch
TRAIN_SUBSET, TEST = "train_subset", "test"  # the datasets evaluated after each epoch (history: train_subset_accuracy)
# How the experiments run train: the papers' float32 on one device (so the batch is the recipe's whole batch).
RUNTIME_OPTIONS = {"strategy": "default", "precision": "float32", "tensorboard": False, "validation_split": 0.0}


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One model of an experiment: a CIFAR-family ResNet (``keras_resnet.CifarResNet`` options)."""

    name: str  # file-safe key: "plain56", "exclusive_gating"
    label: str  # for tables and legends: "plain-56"
    options: dict  # CifarResNet keyword arguments, "depth" included
    start_from: str | None = None  # a .weights.h5 file (relative to the experiment folder) to start from instead
    #   of the initialisation: a grown net (experiments.construction)

    @property
    def depth(self):
        return int(self.options.get("depth", 20))

    def __post_init__(self):
        from keras_resnet.specs import cifar_units_per_stage

        if cifar_units_per_stage(self.depth, self.options.get("block", "basic")) is None:
            raise KerasResnetError(f"depth {self.depth} is not 6n+2 (8, 14, 20, 32, 44, 56, 110 ...):"
                                   " pick such a depth")

    @property
    def model(self):
        """The zoo name train builds from (the CIFAR ResNet of this depth) ..."""
        return f"resnet{self.depth}"

    @property
    def model_options(self):
        """... and the options that make it this model."""
        return {key: value for key, value in self.options.items() if key != "depth"}

    def build(self, input_shape, classes):
        """The model as ``train`` builds it."""
        return build_network(self.model, input_shape, classes, self.model_options)

    def to_dict(self):
        spec = {"name": self.name, "label": self.label, "options": dict(self.options)}
        return {**spec, "start_from": self.start_from} if self.start_from else spec


def _say(verbose, message):
    if verbose:
        print(message, flush=True)


def _error(accuracy):
    """Error in percent from an accuracy in [0, 1] (None stays None)."""
    return None if accuracy is None else 100.0 * (1.0 - float(accuracy))


class MeasurementLog(keras.callbacks.Callback):
    """``measure(model, probe)`` before the first epoch and after every epoch, kept in ``path`` as
    ``[{"epoch": 0, ...}, {"epoch": 1, ...}]``; a resumed run drops what came after its checkpoint."""

    def __init__(self, path, measure, probe):
        super().__init__()
        self.path, self.measure, self.probe = path, measure, probe
        self.measurements = None

    def _add(self, epoch):
        self.measurements.append({"epoch": epoch, **self.measure(self.model, self.probe)})
        write_json(self.path, self.measurements)

    def on_epoch_begin(self, epoch, logs=None):
        if self.measurements is None:  # the first epoch this process trains: a fresh start or a resume
            self.measurements = [entry for entry in read_json(self.path) or [] if entry["epoch"] <= epoch]
            if epoch == 0 and not self.measurements:
                self._add(0)

    def on_epoch_end(self, epoch, logs=None):
        self._add(epoch + 1)


class StartFrom(keras.callbacks.Callback):
    """Loads the weights in ``path`` into the model before a fresh run's first step (a resumed run has them
    in its checkpoint, and keeps those)."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_train_begin(self, logs=None):
        if self.path:
            with warnings.catch_warnings():  # the file holds the model's weights only, not the fresh optimizer's
                warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
                self.model.load_weights(self.path)
            self.path = None


class ProgressLine(keras.callbacks.Callback):
    """One line per epoch: training error (fixed subset) and test error, seconds; says so when the loss is NaN."""

    def __init__(self, position, label, epochs):
        super().__init__()
        self.position, self.label, self.epochs = position, label, epochs
        self._started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train_error, test_error = _error(logs.get(f"{TRAIN_SUBSET}_accuracy")), _error(logs.get(f"{TEST}_accuracy"))
        diverged = not math.isfinite(float(logs.get("loss", math.nan)))
        print(f"{self.position} {self.label} epoch {epoch + 1}/{self.epochs}: train error {train_error:.2f}%, test"
              f" error {test_error:.2f}% ({time.perf_counter() - self._started:.0f} s)"
              f"{'  DIVERGED (loss is NaN): stopping' * diverged}", flush=True)


def experiment_history(history):
    """The run's history.json as the experiments' per-epoch record (errors in percent, as the papers plot)."""
    count = len(history.get("loss") or [])
    column = lambda key: list(history.get(key) or [None] * count)  # noqa: E731
    return {"epoch": list(range(1, count + 1)),
            "train_error": [_error(value) for value in column(f"{TRAIN_SUBSET}_accuracy")],
            "test_error": [_error(value) for value in column(f"{TEST}_accuracy")],
            "train_error_running": [_error(value) for value in column("accuracy")],
            "train_loss": column("loss"), "learning_rate": column("learning_rate"), "iterations": column("step"),
            "seconds": column("epoch_seconds")}


class ExperimentState:
    """The experiment's JSON file: config, one record per finished model (history, measurements), summary."""

    def __init__(self, folder, experiment, config):
        self.folder = os.fspath(folder)
        self.experiment = experiment
        self.path = os.path.join(self.folder, f"{experiment}.json")
        try:
            existing = read_json(self.path)
        except KerasResnetError:
            raise KerasResnetError(f"{self.path} is not valid JSON: delete it (or the folder) to start over,"
                                   " or use another --out") from None
        if existing is None:
            self.data = {"format": STATE_FORMAT, "experiment": experiment, "config": config, "models": {}}
            return
        if existing.get("experiment") != experiment or existing.get("config") != json.loads(json.dumps(config)):
            differing = sorted(key for key in set(config) | set(existing.get("config", {}))
                               if json.loads(json.dumps(config.get(key))) != existing.get("config", {}).get(key))
            raise KerasResnetError(
                f"{self.path} holds a {existing.get('experiment')} run with other settings"
                f" ({', '.join(differing) or 'format'} differ): rerun with the same options to resume it,"
                " or use another --out")
        self.data = existing

    @property
    def models(self):
        return self.data["models"]

    def run_directory(self, name) -> RunDirectory:
        """Where the model ``name`` trains."""
        return RunDirectory(os.path.join(self.folder, RUNS_DIR, name))

    def save(self):
        write_json(self.path, self.data)


def _record(state, spec, run, diverged):
    """A finished model's record, read from its run directory."""
    return {"spec": spec.to_dict(), "parameters": run.read_config()["resolved"]["parameters"], "status": "finished",
            "run_dir": os.path.relpath(run.path, state.folder), "diverged": diverged,
            "history": experiment_history(read_json(run.history_path) or {}),
            "measurements": read_json(run.file(MEASUREMENTS_FILE)) or []}


def _train_one(state, spec, data, recipe, budget, seed, measure, verbose, position):
    """Trains (or resumes) one model with ``train``; records and returns its finished record."""
    run = state.run_directory(spec.name)
    # augment and epochs as train resolves them, so config.json compares equal when the run is met again
    config = recipe.train_config(spec.depth, budget, model=spec.model, model_options=spec.model_options,
                                 data=data.source, seed=seed, run_dir=run.path, augment=data.augment,
                                 epochs=budget.epochs, verbose=1 if verbose >= 2 else 0, **RUNTIME_OPTIONS)
    diverged = False
    if run.is_finished():  # finished just before the experiment's JSON could record it
        changed = differences(run.read_config(), config)
        if changed:
            raise KerasResnetError(f"run directory '{run.path}' holds a {spec.label} trained with other options"
                                   f" ({'; '.join(changed[:3])}): delete it, or use another --out")
    else:
        checkpoint = read_checkpoint_state(run.checkpoints_dir)
        if checkpoint:
            _say(verbose, f"{position} {spec.label}: resuming after epoch {checkpoint['epochs_done']}")
        # Keras' progress bar (verbose 2) goes first, so it finishes an epoch's bar before our line is printed.
        callbacks = [keras.callbacks.ProgbarLogger()] if verbose >= 2 else []
        if spec.start_from and not checkpoint:
            callbacks.append(StartFrom(os.path.join(state.folder, spec.start_from)))
        callbacks.append(EpochEvaluation({TRAIN_SUBSET: data.eval_pipeline(data.train_eval),
                                          TEST: data.eval_pipeline(data.test)}))
        if measure:
            callbacks.append(MeasurementLog(run.file(MEASUREMENTS_FILE), measure, data.probe_batch()))
        if verbose:
            callbacks.append(ProgressLine(position, spec.label, budget.epochs))
        try:
            train(config, splits=data.splits(), callbacks=callbacks)
        except TrainingDiverged:
            diverged = True  # recorded as it stood when the loss became NaN; the report says "diverged"
    record = _record(state, spec, run, diverged)
    state.models[spec.name] = record
    state.save()
    return record


def run_models(state, specs, data, recipe, seed=0, measure=None, verbose=1):
    """Trains every model of ``specs`` not finished in ``state``; returns ``{name: record}`` in spec order.

    ``measure(model, probe_batch) -> dict`` (optional) is recorded before training
    and after every epoch, in the record's ``measurements``.
    """
    budget = resolve_budget(recipe, len(data.train))
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise KerasResnetError(f"model names repeat in {names}: give each model once")
    for number, spec in enumerate(specs, start=1):
        position = f"[{number}/{len(specs)}]"
        record = state.models.get(spec.name)
        if record is not None and record.get("spec") != json.loads(json.dumps(spec.to_dict())):
            raise KerasResnetError(
                f"{state.path} has a model {spec.name!r} built with other options: use another --out")
        if record is not None and record.get("status") == "finished":
            errors = record["history"]["test_error"]
            final = f"test error {errors[-1]:.2f}%" if errors and errors[-1] is not None else "no epochs"
            _say(verbose, f"{position} {spec.label}: finished earlier ({final}), skipped")
            continue
        _say(verbose, f"{position} {spec.label}: training {budget.epochs} epoch(s) of "
                      f"{budget.steps_per_epoch} steps on {len(data.train)} images")
        try:
            _train_one(state, spec, data, recipe, budget, seed, measure, verbose, position)
        except KeyboardInterrupt:
            _say(verbose, f"{position} {spec.label}: interrupted; rerun the same command to resume after its"
                          f" last finished epoch (checkpoints in {state.run_directory(spec.name).checkpoints_dir})")
            raise
    return {spec.name: state.models[spec.name] for spec in specs}


def default_verbosity():
    """2 (Keras progress bars and a line per epoch) on a terminal, else 1 (lines only)."""
    return 2 if sys.stdout.isatty() else 1
