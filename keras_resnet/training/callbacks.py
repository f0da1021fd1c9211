"""The callbacks a training run needs beyond Keras' own: NaN guard, per-epoch evaluation, history files,
resumable checkpoints.

``RunCheckpoint`` replaces ``keras.callbacks.BackupAndRestore``, which writes
its weights and its epoch counter in place and separately (a kill mid-write
leaves a corrupt or mismatched pair) and deletes the backup when fit ends. Here
each checkpoint is a new weights file (model + optimizer state, EMA included)
written under a temporary name and renamed, then ``checkpoint.json`` -- which
names that file, the epochs done and the history so far -- is replaced
atomically; older weights files are removed only after that. At any moment the
state file names a complete checkpoint. A checkpoint is only written while the
loss and every weight are finite, so the last one is always a good one.
"""

from __future__ import annotations

import glob
import math
import os
import shutil
import tempfile
import time

import keras
import numpy as np

from keras_resnet.files import atomic_path, read_json, write_json
from keras_resnet.run_directory import RunDirectory
from keras_resnet.training.history_plot import plot_history

STATE_FILE = "checkpoint.json"
KEEP_CHECKPOINTS = 2


def _finite_number(value):
    """An int stays one; anything else a float, or None for NaN/inf (JSON has no NaN)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class NanGuard(keras.callbacks.Callback):
    """Stops training as soon as the training loss stops being finite; remembers where."""

    def __init__(self):
        super().__init__()
        self.failure = None  # (epoch, batch or None, description) once the loss or the weights went bad
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and self.failure is None and not math.isfinite(float(loss)):
            self.fail(batch, f"the training loss became {float(loss)}")

    def fail(self, batch, description):
        if self.failure is None:
            self.failure = (self._epoch, batch, description)
        self.model.stop_training = True


def weights_are_finite(model) -> bool:
    return all(np.all(np.isfinite(keras.ops.convert_to_numpy(v))) for v in model.weights
               if keras.backend.is_float_dtype(v.dtype))


def current_learning_rate(model):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    return _finite_number(keras.ops.convert_to_numpy(optimizer.learning_rate))


def current_step(model):
    """The optimizer's step count (None without an optimizer)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    return int(keras.ops.convert_to_numpy(optimizer.iterations))


class EpochEvaluation(keras.callbacks.Callback):
    """Evaluates the model after every epoch, in inference mode, on named datasets (e.g. a fixed subset of the
    training images without augmentation: the papers' training-error curves) and adds ``{name}_{metric}``
    (``train_subset_accuracy`` ...) to the epoch's logs, so the history and its checkpoints keep them.

    The datasets yield ``(images, labels)`` as the compiled loss takes them (``make_pipeline(split,
    training=False)`` for sparse labels).
    """

    def __init__(self, datasets: dict):
        super().__init__()
        self.datasets = dict(datasets)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for name, dataset in self.datasets.items():
            for metric, value in self.model.evaluate(dataset, verbose=0, return_dict=True).items():
                logs[f"{name}_{metric}"] = value


class HistoryRecorder(keras.callbacks.Callback):
    """Keeps the per-epoch history across resumed runs; writes history.json and history.png each epoch.

    Besides the epoch's logs it records ``learning_rate`` (the rate the next step uses), ``step`` (the
    optimizer's step count: each phase of a transfer run starts a new optimizer) and ``epoch_seconds``.
    """

    def __init__(self, run_dir, history=None, write=True, unfrozen_after=None):
        super().__init__()
        self.run_dir = run_dir
        self.history = {key: list(values) for key, values in (history or {}).items()}
        self.write = write
        self.unfrozen_after = unfrozen_after  # transfer learning: epochs trained with a frozen backbone
        self._started = None

    @property
    def epochs(self) -> int:
        return max((len(values) for values in self.history.values()), default=0)

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        rate = current_learning_rate(self.model)
        if rate is not None:
            logs["learning_rate"] = rate
        step = current_step(self.model)
        if step is not None:
            logs["step"] = step
        if self._started is not None:
            logs["epoch_seconds"] = round(time.perf_counter() - self._started, 3)
        done = self.epochs
        for key, value in logs.items():
            self.history.setdefault(key, [None] * done).append(_finite_number(value))
        for values in self.history.values():  # a metric missing this epoch gets None
            values.extend([None] * (done + 1 - len(values)))
        if self.write:
            self.save()

    def save(self):
        run = RunDirectory(self.run_dir)
        write_json(run.history_path, self.history)
        plot_history(self.history, run.history_plot_path, unfrozen_after=self.unfrozen_after)


class RunCheckpoint(keras.callbacks.Callback):
    """Writes a resumable checkpoint at each epoch end and every ``every_steps`` steps (0: epochs only).

    ``write=False`` (multi-worker workers other than the chief) saves in step with the chief but discards it.
    """

    def __init__(self, directory, recorder: HistoryRecorder, guard: NanGuard, every_steps=0, write=True,
                 before_save=None, extra_state=None):
        super().__init__()
        self.extra_state = dict(extra_state or {})  # written into checkpoint.json, e.g. the training phase
        self.before_save = before_save  # e.g. averaging BatchNorm statistics over replicas
        self.directory = directory
        self.recorder = recorder
        self.guard = guard
        self.every_steps = int(every_steps)
        self.write = write
        self._epoch = 0
        self.steps_before = {}  # epoch -> steps done before this fit (a run resumed mid-epoch)
        self.last_path = latest_checkpoint(directory)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        done = self.steps_before.get(self._epoch, 0) + batch + 1
        if self.every_steps and done % self.every_steps == 0:
            self._save(epochs_done=self._epoch, steps_in_epoch=done)

    def on_epoch_end(self, epoch, logs=None):
        self._save(epochs_done=epoch + 1, steps_in_epoch=0)

    def _save(self, epochs_done, steps_in_epoch):
        if self.guard.failure is not None:  # never overwrite the last good checkpoint with a diverged state
            return
        if self.before_save is not None:
            self.before_save()
        if not weights_are_finite(self.model):
            self.guard.fail(steps_in_epoch - 1 if steps_in_epoch else None, "the weights stopped being finite")
            return
        step = current_step(self.model)
        if not self.write:
            # Another multi-worker worker: saving runs collective ops, so every worker must save in step
            # with the chief; it writes to a scratch folder that is removed at once.
            scratch = tempfile.mkdtemp(prefix="keras-resnet-worker-checkpoint-")
            try:
                self.model.save_weights(os.path.join(scratch, "scratch.weights.h5"))
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            return
        path = os.path.join(self.directory, f"ckpt-{epochs_done:04d}-{step:08d}.weights.h5")
        with atomic_path(path) as temporary:
            self.model.save_weights(temporary)
        history = {key: values[:epochs_done] for key, values in self.recorder.history.items()}
        write_json(os.path.join(self.directory, STATE_FILE), {
            "weights": os.path.basename(path), "epochs_done": epochs_done, "steps_in_epoch": steps_in_epoch,
            "step": step, "history": history, **self.extra_state,
        })
        self.last_path = path
        for old in sorted(glob.glob(os.path.join(self.directory, "ckpt-*.weights.h5")))[:-KEEP_CHECKPOINTS]:
            if os.path.abspath(old) != os.path.abspath(path):
                os.remove(old)


def read_checkpoint_state(directory):
    """The state of the last complete checkpoint in ``directory`` (with an absolute ``path``), or None."""
    state = read_json(os.path.join(directory, STATE_FILE))
    if not state:
        return None
    path = os.path.join(directory, state["weights"])
    if not os.path.exists(path):
        return None
    return {**state, "path": path}


def latest_checkpoint(directory):
    state = read_checkpoint_state(directory)
    return state["path"] if state else None
