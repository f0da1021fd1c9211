"""Train several models under one recipe and record per-epoch training and test error, resumably.

Every model of an experiment gets the same data, recipe, seed and budget. After
each epoch the runner measures the training error on a fixed subset of the
training images (inference mode, no augmentation: the papers' curves are
training error) and the test error, writes a checkpoint (weights, optimizer
state and the history so far) and the experiment's JSON state. A rerun of the
same command skips finished models and continues an interrupted one from its
last epoch; epoch ``k`` always shuffles and augments with the same seed, so a
resumed run sees the same batches as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time

import numpy as np

from keras_resnet.errors import KerasResnetError
from keras_resnet.experiments.recipes import learning_rate_at, learning_rate_steps, make_schedule, resolve_budget
from keras_resnet.files import atomic_path, read_json, write_json

STATE_FORMAT = 1


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One model of an experiment: a CIFAR-family ResNet (``keras_resnet.CifarResNet`` options)."""

    name: str  # file-safe key: "plain56", "exclusive_gating"
    label: str  # for tables and legends: "plain-56"
    options: dict  # CifarResNet keyword arguments, "depth" included

    @property
    def depth(self):
        return int(self.options.get("depth", 20))

    def __post_init__(self):
        from keras_resnet.specs import cifar_units_per_stage

        if cifar_units_per_stage(self.depth, self.options.get("block", "basic")) is None:
            raise KerasResnetError(f"depth {self.depth} is not 6n+2 (8, 14, 20, 32, 44, 56, 110 ...):"
                                   " pick such a depth")

    def build(self, input_shape, classes):
        from keras_resnet.models import CifarResNet

        options = dict(self.options)
        return CifarResNet(options.pop("depth", 20), input_shape=tuple(input_shape), classes=classes,
                           name=self.name, **options)

    def to_dict(self):
        return {"name": self.name, "label": self.label, "options": dict(self.options)}


def _say(verbose, message):
    if verbose:
        print(message, flush=True)


def add_weight_decay(model, weight_decay):
    """The papers' L2 penalty (gradient ``weight_decay * w``, through momentum) on conv and dense kernels only."""
    import keras

    if not weight_decay:
        return
    penalty = keras.regularizers.L2(weight_decay / 2.0)
    for variable in model.trainable_variables:
        if len(variable.shape) >= 2:
            variable.regularizer = penalty


def _jit_compile():
    import tensorflow as tf

    # XLA is slower than plain TensorFlow on CPU (DESIGN.md); let Keras decide on accelerators.
    return "auto" if tf.config.list_physical_devices("GPU") else False


def compile_model(model, recipe, boundaries, values):
    import keras

    add_weight_decay(model, recipe.weight_decay)
    optimizer = keras.optimizers.SGD(learning_rate=make_schedule(boundaries, values), momentum=recipe.momentum)
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=["accuracy"], jit_compile=_jit_compile())
    optimizer.build(model.trainable_variables)


def _empty_history():
    return {"epoch": [], "train_error": [], "test_error": [], "train_error_running": [], "train_loss": [],
            "learning_rate": [], "iterations": [], "seconds": []}


class ExperimentState:
    """The experiment's JSON file: config, one record per model (status, history, measurements), summary."""

    def __init__(self, folder, experiment, config):
        self.folder = os.fspath(folder)
        self.experiment = experiment
        self.path = os.path.join(self.folder, f"{experiment}.json")
        try:
            existing = read_json(self.path)
        except (json.JSONDecodeError, UnicodeDecodeError):
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

    def checkpoint_path(self, name):
        return os.path.join(self.folder, "checkpoints", f"{self.experiment}-{name}.npz")

    def save(self):
        write_json(self.path, self.data)


def _save_checkpoint(path, model, record):
    arrays = {f"weight_{i}": np.asarray(v) for i, v in enumerate(model.weights)}
    arrays.update({f"optimizer_{i}": np.asarray(v) for i, v in enumerate(model.optimizer.variables)})
    arrays["record"] = np.array(json.dumps(record))
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as file:
            np.savez(file, **arrays)


def _load_checkpoint(path, model):
    """Restores weights and optimizer state into the compiled ``model``; returns the record saved with them."""
    with np.load(path) as stored:
        weights = [stored[f"weight_{i}"] for i in range(len(model.weights))]
        optimizer = [stored[f"optimizer_{i}"] for i in range(len(model.optimizer.variables))]
        record = json.loads(str(stored["record"]))
    for variable, value in zip(model.weights, weights):
        variable.assign(value)
    for variable, value in zip(model.optimizer.variables, optimizer):
        variable.assign(value)
    return record


def _epoch_seed(seed, epoch):
    return int(seed) * 100_003 + int(epoch)


def _error(metrics):
    return 100.0 * (1.0 - float(metrics["accuracy"]))


def _train_one(state, spec, data, recipe, budget, seed, measure, verbose, position):
    """Trains (or resumes) one model; returns its finished record."""
    import keras

    key = spec.name
    boundaries, values = learning_rate_steps(recipe, budget, spec.depth)
    keras.utils.set_random_seed(seed)  # the same initial weights on every rerun
    model = spec.build(data.image_shape, len(data.class_names))
    compile_model(model, recipe, boundaries, values)
    record = {"spec": spec.to_dict(), "parameters": int(model.count_params()), "status": "training",
              "learning_rate_steps": {"boundaries": boundaries, "values": values},
              "history": _empty_history(), "measurements": [], "diverged": False}
    checkpoint = state.checkpoint_path(key)
    if os.path.exists(checkpoint):
        try:
            record = _load_checkpoint(checkpoint, model)
        except (OSError, ValueError, KeyError):
            raise KerasResnetError(f"checkpoint {checkpoint} is unreadable: delete it to retrain {spec.label}"
                                   " from the start") from None
        _say(verbose, f"{position} {spec.label}: resuming after epoch {len(record['history']['epoch'])}")
    probe = data.probe_batch() if measure else None
    if measure and not record["measurements"]:
        record["measurements"].append({"epoch": 0, **measure(model, probe)})
    train_eval, test = data.eval_pipeline(data.train_eval), data.eval_pipeline(data.test)
    fit_verbose = 1 if verbose >= 2 else 0
    history = record["history"]
    for epoch in range(len(history["epoch"]), budget.epochs):
        started = time.perf_counter()
        fitted = model.fit(data.train_pipeline(recipe.batch_size, _epoch_seed(seed, epoch)),
                           epochs=epoch + 1, initial_epoch=epoch, shuffle=False, verbose=fit_verbose)
        loss = float(fitted.history["loss"][-1])
        iterations = int(model.optimizer.iterations.numpy())
        history["epoch"].append(epoch + 1)
        history["train_error_running"].append(_error({"accuracy": fitted.history["accuracy"][-1]}))
        history["train_loss"].append(loss)
        history["train_error"].append(_error(model.evaluate(train_eval, verbose=0, return_dict=True)))
        history["test_error"].append(_error(model.evaluate(test, verbose=0, return_dict=True)))
        history["learning_rate"].append(learning_rate_at(boundaries, values, max(0, iterations - 1)))
        history["iterations"].append(iterations)
        history["seconds"].append(time.perf_counter() - started)
        if measure:
            record["measurements"].append({"epoch": epoch + 1, **measure(model, probe)})
        record["diverged"] = not math.isfinite(loss)
        _say(verbose, f"{position} {spec.label} epoch {epoch + 1}/{budget.epochs}: train error "
                      f"{history['train_error'][-1]:.2f}%, test error {history['test_error'][-1]:.2f}%"
                      f" ({history['seconds'][-1]:.0f} s){'  DIVERGED (loss is NaN): stopping' * record['diverged']}")
        if record["diverged"]:
            break
        _save_checkpoint(checkpoint, model, record)
        state.models[key] = record
        state.save()
    record["status"] = "finished"
    state.models[key] = record
    state.save()
    if os.path.exists(checkpoint):
        os.remove(checkpoint)
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
            if os.path.exists(state.checkpoint_path(spec.name)):  # left by a crash just after finishing
                os.remove(state.checkpoint_path(spec.name))
            history = record["history"]
            final = f"test error {history['test_error'][-1]:.2f}%" if history["test_error"] else "no epochs"
            _say(verbose, f"{position} {spec.label}: finished earlier ({final}), skipped")
            continue
        _say(verbose, f"{position} {spec.label}: training {budget.epochs} epoch(s) of "
                      f"{budget.steps_per_epoch} steps on {len(data.train)} images")
        try:
            _train_one(state, spec, data, recipe, budget, seed, measure, verbose, position)
        except KeyboardInterrupt:
            _say(verbose, f"{position} {spec.label}: interrupted; rerun the same command to resume after its"
                          f" last finished epoch (state in {state.path})")
            raise
    return {spec.name: state.models[spec.name] for spec in specs}


def default_verbosity():
    """2 (Keras progress bars and a line per epoch) on a terminal, else 1 (lines only)."""
    return 2 if sys.stdout.isatty() else 1
