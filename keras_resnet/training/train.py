"""``train``: data -> model -> ``model.fit`` under ``tf.distribute`` -> a complete run directory.

    from keras_resnet.training import train
    result = train(model="resnet20", data="bundled", epochs=10)   # or train("config.yaml", epochs=5)
    result.run_dir, result.metrics["test_accuracy"], result.model

The run directory holds ``config.json`` (the resolved options), ``labels.txt``,
``history.json`` + ``history.png``, TensorBoard logs (``logs/``), resumable
checkpoints (``checkpoints/``), the final float32 ``model.keras`` and
``metrics.json`` (written last: its presence means the run finished). Rerunning
with the same ``run_dir`` resumes from the last checkpoint.

Data already in memory (a subset, arrays of your own) goes in as ``splits=``, a
``DatasetSplits``, without being written to disk; extra Keras ``callbacks=`` run
after each epoch's metrics and before the history is recorded, so what they add to
the epoch's logs (e.g. ``EpochEvaluation`` on more datasets) lands in history.json
and survives a resume.

Transfer learning (``weights=``, ``freeze_epochs=``, ``fine_tune_learning_rate=``; see
``keras_resnet.training.transfer``) runs in two phases: the new head alone with the
backbone frozen, then everything at the fine-tuning rate. Each phase is one ``model.fit``
with its own optimizer and schedule; checkpoints record their phase, so a resumed run
continues in the phase it was stopped in and never repeats the frozen epochs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import math
import os
import sys
import time
import warnings

from keras_resnet.errors import KerasResnetError, first_line
from keras_resnet.files import atomic_path
from keras_resnet.layers import all_layers
from keras_resnet.models import InputTooSmallError
from keras_resnet.run_directory import RunDirectory
from keras_resnet.training import callbacks as run_callbacks
from keras_resnet.training import multiworker_fix, transfer
from keras_resnet.training.config import TrainConfig, default_run_dir, differences, resolve_config
from keras_resnet.training.precision import choose_jit_compile, choose_precision, dtype_policy
from keras_resnet.training.schedules import run_length, scaled_learning_rate, schedule_for
from keras_resnet.training.strategy import StrategyChoice, choose_strategy, replica_average
from keras_resnet.zoo import build_network

IMAGENET_AUGMENT_MIN_SIZE = 128  # images at least this large get random-resized crops; smaller ones pad+crop


@dataclasses.dataclass
class TrainResult:
    """What ``train`` returns: where the run is, what it learned, and the trained float32 model."""

    run_dir: str
    history: dict  # per-epoch lists: loss, accuracy, val_loss, val_accuracy, learning_rate ...
    metrics: dict  # the contents of metrics.json
    config: TrainConfig  # the resolved options
    model: object = None  # keras.Model in float32, as saved to model.keras

    @property
    def model_path(self) -> str:
        return RunDirectory(self.run_dir).model_path


class TrainingDiverged(KerasResnetError):
    """The loss or the weights stopped being finite; the last good checkpoint of ``run_dir`` is kept."""

    def __init__(self, message, run_dir):
        super().__init__(message)
        self.run_dir = run_dir


def resolve_augment(requested, image_shape):
    """The augmentation ``augment="auto"`` means for images of ``image_shape``; others stay as given."""
    if requested != "auto":
        return requested
    height, width, channels = image_shape
    if channels == 1:
        return "crop"  # digits and text must not be mirrored
    return "imagenet" if min(height, width) >= IMAGENET_AUGMENT_MIN_SIZE else "cifar"


def fit_verbosity(verbose):
    """Keras fit's ``verbose``: "auto" is a progress bar on a terminal and one line per epoch in a log file or
    pipe (a bar redraws thousands of times per epoch with carriage returns that logs keep)."""
    if verbose != "auto":
        return verbose
    return 1 if sys.stdout.isatty() else 2


def _say(choice: StrategyChoice, config: TrainConfig, message: str):
    if choice.is_chief and config.verbose != 0:
        print(message, flush=True)


@dataclasses.dataclass
class _Plan:
    """Numbers derived from the config, the data and the strategy."""

    global_batch: int
    drop_remainder: bool
    steps_per_epoch: int
    epochs: int  # config.epochs, or enough to reach config.total_steps
    learning_rate: float
    fine_tune_learning_rate: float | None  # transfer learning with freeze_epochs: the rate once unfrozen
    precision: str
    jit_compile: bool
    augment: str


def epoch_steps(images: int, global_batch: int, drop_remainder: bool = False, cap: int | None = None) -> int:
    """Training steps per epoch: every image once (a last, smaller batch unless ``drop_remainder``), at most ``cap``."""
    steps = images // global_batch if drop_remainder else math.ceil(images / global_batch)
    return min(steps, cap) if cap else steps


def _plan(config, splits, choice, augment_shape=None) -> _Plan:
    global_batch = config.batch_size * choice.replicas
    drop = choice.distributed
    images = len(splits.train)
    if drop and images < global_batch:
        raise KerasResnetError(
            f"the training split has {images} images, fewer than one global batch of {global_batch} "
            f"({config.batch_size} per replica x {choice.replicas} replicas): lower --batch-size"
        )
    steps = epoch_steps(images, global_batch, drop, config.steps_per_epoch)
    return _Plan(
        global_batch=global_batch, drop_remainder=drop, steps_per_epoch=steps,
        epochs=run_length(steps, config.epochs, config.total_steps)[0],
        learning_rate=scaled_learning_rate(config.learning_rate, global_batch, config.reference_batch_size),
        fine_tune_learning_rate=(
            scaled_learning_rate(config.fine_tune_learning_rate, global_batch, config.reference_batch_size)
            if config.freeze_epochs else None),
        precision=choose_precision(config.precision, choice.kind),
        jit_compile=choose_jit_compile(config.jit_compile, choice.kind),
        augment=resolve_augment(config.augment, augment_shape or splits.image_shape),
    )


@dataclasses.dataclass
class _Phase:
    """One ``model.fit`` of the run: epochs [start, end) at ``learning_rate``, backbone (and its BatchNorm) frozen
    or not."""

    number: int  # 1, 2: recorded in each checkpoint so a resumed run knows where it stopped
    start: int
    end: int
    learning_rate: float
    frozen: bool
    batchnorm_frozen: bool

    def describe(self) -> dict:
        return {"phase": self.number, "epochs": [self.start, self.end], "backbone_frozen": self.frozen,
                "batchnorm_frozen": self.batchnorm_frozen, "learning_rate_used": self.learning_rate}


def _phases(config, plan) -> list[_Phase]:
    """One phase for ordinary training; frozen head-only epochs, then fine-tuning, with ``freeze_epochs``.
    Fine-tuning pretrained weights keeps the backbone's BatchNorm frozen with ``fine_tune_batchnorm="frozen"``."""
    tuned_batchnorm_frozen = config.weights is not None and config.fine_tune_batchnorm == "frozen"
    if not config.freeze_epochs:
        return [_Phase(1, 0, config.epochs, plan.learning_rate, frozen=False, batchnorm_frozen=tuned_batchnorm_frozen)]
    return [_Phase(1, 0, config.freeze_epochs, plan.learning_rate, frozen=True, batchnorm_frozen=True),
            _Phase(2, config.freeze_epochs, config.epochs, plan.fine_tune_learning_rate, frozen=False,
                   batchnorm_frozen=tuned_batchnorm_frozen)]


def _start_phase(phases, state) -> int:
    """Index of the phase the checkpoint ``state`` was written in (0 for a fresh start)."""
    if not state or len(phases) == 1:
        return 0
    number = state.get("phase")
    if number is None:  # a checkpoint without the field: only the end of the last frozen epoch is ambiguous
        frozen_end = phases[0].end
        done, partial = state["epochs_done"], state.get("steps_in_epoch", 0)
        number = 1 if done < frozen_end or (done == frozen_end and not partial) else 2
    return max(0, min(len(phases) - 1, int(number) - 1))


def _pretrained(config):
    """The weights to start from: read from ``config.weights``, or, when resuming a run (whose checkpoint
    holds every weight), only what its config.json recorded about them."""
    if config.weights is None:
        return None
    run = RunDirectory(config.run_dir)
    if run_callbacks.read_checkpoint_state(run.checkpoints_dir):
        record = transfer.recorded(run.read_config(), config)
        if record is not None:
            return record
    return transfer.load_pretrained(config)


def _fit_channels(splits, config, pretrained, choice):
    """Converts the data to the channels the pretrained weights take (gray <-> RGB), or says how.

    Returns the splits and the shape augmentation is chosen for (the data's own: converted digits stay unmirrored).
    """
    from keras_resnet.data import LabeledImages
    from keras_resnet.data.images import convert_channels

    native = splits.image_shape
    needed = pretrained.channels if pretrained else None
    if needed is None or native[-1] == needed:
        if needed is not None:
            config.channels = needed
        return splits, native
    where = "the ImageNet weights take" if pretrained.source == "imagenet" else f"--weights '{pretrained.source}' takes"
    if config.channels is not None:
        raise KerasResnetError(
            f"--channels {config.channels} gives {native[-1]}-channel images but {where} {needed}: pass "
            f"--channels {needed} (or leave --channels out to convert automatically)"
        )
    if any(not isinstance(split, LabeledImages) for split in splits.splits().values()):
        raise KerasResnetError(f"the data has {native[-1]} channel(s) but {where} {needed}: pass --channels {needed}")
    splits = dataclasses.replace(splits, **{
        name: LabeledImages(convert_channels(split.images, needed), split.labels)
        for name, split in splits.splits().items()})
    config.channels = needed  # recorded in config.json: the run as it really was
    _say(choice, config, f"Converted the {native[-1]}-channel images to {needed} channel(s): {where} {needed}")
    return splits, native


def _pipelines(splits, config, plan, classes):
    """``(training batches from (epoch, step), validation, test)``: the first a function, so a run resumed at
    any step gets the batches an uninterrupted run of the same seed would (``training_epochs``)."""
    import tensorflow as tf

    from keras_resnet.data import make_pipeline
    from keras_resnet.data.pipeline import training_epochs

    def labelled(dataset):
        return dataset.map(lambda images, labels: (images, tf.one_hot(labels, classes))) \
            if config.label_smoothing else dataset

    augment = None if plan.augment == "none" else plan.augment

    def train_from(epoch, end, step=0):
        return labelled(training_epochs(splits.train, batch_size=plan.global_batch, epochs=end,
                                        steps_per_epoch=plan.steps_per_epoch, augment=augment, seed=config.seed,
                                        drop_remainder=plan.drop_remainder, first_epoch=epoch, first_step=step))

    evaluation = {
        name: labelled(make_pipeline(split, batch_size=plan.global_batch, training=False))
        for name, split in (("validation", splits.validation), ("test", splits.test)) if split is not None
    }
    return train_from, evaluation.get("validation"), evaluation.get("test")


def _loss_and_metrics(config, classes):
    import keras

    if config.label_smoothing:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
        metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
        if classes > 10:
            metrics.append(keras.metrics.TopKCategoricalAccuracy(5, name="top5_accuracy"))
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        if classes > 10:
            metrics.append(keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5_accuracy"))
    return loss, metrics


def _check_run_dir(run_dir, config, checkpoint_dir, plan):
    """The checkpoint state to resume from (None: start fresh); errors for a finished or different run."""
    run = RunDirectory(run_dir)
    if run.is_finished():
        raise KerasResnetError(
            f"run directory '{run_dir}' already holds a finished run (model.keras, metrics.json): "
            "pass another --run-dir, or delete it to train again"
        )
    state = run_callbacks.read_checkpoint_state(checkpoint_dir)
    saved = run.read_config()
    if state and saved:
        changed = differences(saved, config)
        if changed:
            raise KerasResnetError(
                f"run directory '{run_dir}' holds a run with other options ({'; '.join(changed[:3])}): "
                "rerun with the same options to resume, or pass another --run-dir"
            )
        before = saved.get("resolved") or {}
        if before.get("global_batch_size", plan.global_batch) != plan.global_batch:
            raise KerasResnetError(
                f"run directory '{run_dir}' was trained with a global batch of {before['global_batch_size']}, "
                f"this machine gives {plan.global_batch}: set --batch-size so that batch size x replicas matches"
            )
        precisions = {before.get("precision", plan.precision), plan.precision}
        if len(precisions) > 1 and "mixed_float16" in precisions:  # loss scaling changes the optimizer's state
            raise KerasResnetError(
                f"run directory '{run_dir}' was trained with --precision {before['precision']}, this run would use "
                f"{plan.precision}: pass --precision {before['precision']} to resume"
            )
    return state


def _save_float32_model(model, config, input_shape, classes, path, write, model_options=None):
    """Rebuilds the network with float32 layers, copies the trained weights (mixed-precision training keeps
    float32 variables, so nothing is rounded) and saves it atomically after a reload check."""
    import keras
    import numpy as np

    with dtype_policy("float32"):
        exported = _build_model(config, input_shape, classes,
                                config.model_options if model_options is None else model_options)
    exported.set_weights(model.get_weights())
    if not write:
        return exported
    probe = np.random.default_rng(0).uniform(0, 255, (1, *input_shape)).astype("float32")
    with atomic_path(path) as temporary:
        exported.save(temporary)
        reloaded = keras.saving.load_model(temporary, compile=False)
        # Called directly, not through predict: a process training several models (the experiments) would
        # otherwise retrace a predict function per model, and TensorFlow warns about that.
        if not np.allclose(np.asarray(reloaded(probe, training=False)), np.asarray(exported(probe, training=False)),
                           atol=1e-5):
            raise RuntimeError(f"the model saved to {temporary} does not reproduce the trained model")
    return exported


def _build_model(config, input_shape, classes, model_options):
    """The network for the data; a too-small image size names the flag that fixes it."""
    try:
        return build_network(config.model, input_shape, classes, model_options)
    except InputTooSmallError as error:
        raise KerasResnetError(f"{error}: pass --image-size {error.minimum} or larger") from None


def _compiled_model(config, plan, input_shape, classes, model_options=None, phase=None, pretrained=None):
    """The network (pretrained weights in, when given), compiled with our optimizer, schedule, loss and
    metrics for ``phase`` (call under policy and scope). Returns it and its running statistics (the
    variables no optimizer trains, e.g. BatchNorm moving means: replicas average them before a checkpoint)."""
    import keras

    model = _build_model(config, input_shape, classes,
                         config.model_options if model_options is None else model_options)
    if pretrained is not None:
        transfer.load_into(model, pretrained, config.model)
    if config.sync_batchnorm:
        for layer in all_layers(model):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.synchronized = True
    statistics = list(model.non_trainable_variables)  # before any freezing: statistics only
    _compile(model, config, plan, classes, phase or _phases(config, plan)[0])
    return model, statistics


def _compile(model, config, plan, classes, phase):
    """Freezes or unfreezes the backbone for ``phase``, then compiles with a new optimizer and a schedule
    over the phase's epochs (a new optimizer because its state is per trainable variable)."""
    from keras_resnet.training.optimizers import make_optimizer

    transfer.set_backbone_trainable(model, not phase.frozen, batchnorm=not phase.batchnorm_frozen)
    schedule = schedule_for(config, phase.learning_rate, plan.steps_per_epoch, phase.end - phase.start,
                            plan.global_batch)
    loss, metrics = _loss_and_metrics(config, classes)
    model.compile(optimizer=make_optimizer(model, config, schedule), loss=loss, metrics=metrics,
                  jit_compile=plan.jit_compile, steps_per_execution=config.steps_per_execution)


def _restore(model, state, choice, config, phase=None):
    """Loads the checkpoint ``state`` (weights and optimizer); returns (epochs done, history so far)."""
    if not state:
        return 0, {}
    model.optimizer.build(model.trainable_variables)
    try:
        model.load_weights(state["path"])
    except (ValueError, OSError) as error:
        raise KerasResnetError(
            f"checkpoint '{state['path']}' does not fit this model ({first_line(error, 200)}): resume with the "
            "options it was trained with, or pass another --run-dir"
        ) from None
    where = ""
    if config.freeze_epochs and phase is not None:
        where = f", in phase {phase.number} ({'backbone frozen' if phase.frozen else 'fine-tuning'})"
    _say(choice, config, f"Resuming from checkpoint {state['path']}: {state['epochs_done']}/{config.epochs} "
                         f"epochs done, optimizer step {state['step']}{where}")
    return state["epochs_done"], state.get("history") or {}


def _callbacks(model, config, choice, history, phase=None, statistics=None, extra=()):
    """NaN guard, the caller's ``extra`` callbacks, history files, resumable checkpoints and TensorBoard, in the
    order they must run."""
    import keras

    run_dir = config.run_dir
    two_phases = bool(config.freeze_epochs) and phase is not None
    guard = run_callbacks.NanGuard()
    recorder = run_callbacks.HistoryRecorder(run_dir, history, write=choice.is_chief,
                                             unfrozen_after=config.freeze_epochs or None)
    statistics = model.non_trainable_variables if statistics is None else statistics
    checkpoint = run_callbacks.RunCheckpoint(
        RunDirectory(run_dir).checkpoints_dir, recorder, guard, config.checkpoint_steps, write=choice.is_chief,
        before_save=replica_average(choice.strategy, statistics) if choice.distributed else None,
        extra_state={"phase": phase.number} if two_phases else None,
    )
    callbacks = [guard, *extra, recorder, checkpoint]
    if config.tensorboard and choice.is_chief:
        if importlib.util.find_spec("tensorboard") is None:
            warnings.warn("tensorboard is not installed, so the run writes no TensorBoard logs: "
                          "pip install tensorboard, or pass tensorboard=False", stacklevel=3)
        else:
            callbacks.append(keras.callbacks.TensorBoard(RunDirectory(run_dir).logs_dir, write_graph=False))
    return guard, recorder, checkpoint, callbacks


@contextlib.contextmanager
def _weights_left_as_trained(optimizer):
    """Keeps ``fit``'s end from replacing the weights with their EMA average (Keras does that when fit ends):
    the rest of a resumed epoch is not the end of training, and the next ``fit`` continues from these weights."""
    optimizer.finalize_variable_values = lambda variables: None
    try:
        yield
    finally:
        del optimizer.finalize_variable_values


def _nan_message(guard, plan, checkpoint):
    epoch, batch, what = guard.failure
    kept = f"the last good checkpoint is kept at '{checkpoint}'" if checkpoint else "no checkpoint had been written"
    where = f"epoch {epoch + 1}, step {batch + 1}" if batch is not None else f"the end of epoch {epoch + 1}"
    return (f"training diverged at {where}: {what}; lower --learning-rate "
            f"(the rate in use was {plan.learning_rate:g}) or add --warmup-epochs; {kept}")


def _data_recipe(config, stream: bool) -> dict:
    """The data options as loaded, with a local ``data`` path made absolute (export may run from elsewhere)."""
    recipe = {**config.to_dict(), "stream": stream}
    if os.path.exists(config.data):
        recipe["data"] = os.path.abspath(config.data)
    return recipe


def _heldout_fingerprint(splits) -> dict | None:
    """``{"split", "count", "sha256"}`` of the split export and evaluate grade on (test, else validation)."""
    from keras_resnet.data.fingerprint import split_fingerprint

    available = splits.splits()
    name = "test" if "test" in available else "validation" if "validation" in available else None
    return {"split": name, **split_fingerprint(splits, name)} if name else None


def _stream(config, choice) -> bool:
    """``config.stream``, with "auto" decided from the data's decoded size against free memory (said in one line)."""
    if config.stream != "auto":
        return config.stream
    from keras_resnet.data.memory import estimate

    found = estimate(config.data, config.image_size, config.channels)
    if found is None or found.fits:
        return False
    _say(choice, config, f"Streaming '{config.data}' from disk: {found.describe()} (--stream false loads it anyway)")
    return True


def _splits(config, given, stream=False):
    """The data: ``given`` splits (recorded in config.json as they are), or ``config.data`` loaded."""
    from keras_resnet.data import DatasetSplits, load_dataset

    if given is None:
        return load_dataset(config.data, image_size=config.image_size, channels=config.channels,
                            validation_split=config.validation_split, seed=config.seed,
                            on_bad_image=config.on_bad_image, data_dir=config.data_dir,
                            label_offset=config.label_offset, stream=stream)
    if not isinstance(given, DatasetSplits):
        raise KerasResnetError(f"splits= takes a DatasetSplits (load_dataset's result), not "
                               f"{type(given).__name__}: wrap arrays as DatasetSplits(class_names, "
                               "train=LabeledImages.from_arrays(images, labels))")
    if config.image_size is not None or config.channels not in (None, given.image_shape[-1]):
        raise KerasResnetError("image_size and channels apply to data train loads itself: resize or convert "
                               "the given splits first, and leave those options out")
    return given


def train(config=None, *, splits=None, callbacks=(), **options) -> TrainResult:
    """Trains a ResNet and writes a complete run directory; returns a :class:`TrainResult`.

    ``config``: None, a :class:`TrainConfig`, a dict, or a YAML/JSON file; ``options``
    (the fields of TrainConfig) override it. ``splits``: a ``DatasetSplits`` to train on
    instead of loading ``config.data`` (which should then name where they came from, for
    export and evaluate; config.json records their sizes). ``callbacks``: extra Keras
    callbacks, run after each epoch's metrics and before the history records them.
    Errors a user can cause raise :class:`keras_resnet.KerasResnetError`; a diverged run
    (loss NaN/inf) raises :class:`TrainingDiverged`, one of them, after keeping the last
    good checkpoint. The learning rate is given for a global
    batch of ``reference_batch_size`` (128) and scaled linearly to the global batch
    (per-replica ``batch_size`` x replicas), and so is ``fine_tune_learning_rate``.
    ``weights`` ("imagenet" or a file) starts from pretrained weights with a new head;
    ``freeze_epochs`` trains that head alone first (see ``keras_resnet.training.transfer``).
    """
    config = resolve_config(config, **options)
    # First: MultiWorkerMirroredStrategy must be created before TensorFlow runs anything.
    choice = choose_strategy(config.strategy)
    if choice.kind == "multi_worker" and config.run_dir is None:
        raise KerasResnetError(
            "multi-worker training needs --run-dir, the same folder for every worker on a filesystem they all "
            "see (worker 0 writes it; all resume from it)"
        )
    config.run_dir = config.run_dir or default_run_dir(config.model)

    pretrained = _pretrained(config)  # before the data: the weights decide its channels
    given = splits is not None
    stream = False if given else _stream(config, choice)
    loaded = _splits(config, splits, stream)
    heldout = _heldout_fingerprint(loaded)  # before any channel conversion: file-backed splits hash their members
    recipe = _data_recipe(config, stream)  # the options as loaded (pretrained weights may convert channels next)
    splits, augment_shape = _fit_channels(loaded, config, pretrained, choice)
    plan = _plan(config, splits, choice, augment_shape)
    config.augment, config.epochs = plan.augment, plan.epochs  # recorded in config.json as resolved
    run_dir = config.run_dir
    run = RunDirectory(run_dir)
    checkpoint_dir = run.checkpoints_dir
    state = _check_run_dir(run_dir, config, checkpoint_dir, plan)
    phases = _phases(config, plan)
    model_options = {**config.model_options, **(pretrained.model_options if pretrained else {})}
    resolved = {
        "strategy": choice.kind, "replicas": choice.replicas, "global_batch_size": plan.global_batch,
        "learning_rate_used": plan.learning_rate, "precision": plan.precision, "jit_compile": plan.jit_compile,
        "steps_per_epoch": plan.steps_per_epoch, "image_shape": list(splits.image_shape),
        "classes": splits.num_classes, "stream": stream,
    }
    if given:
        resolved["given_splits"] = {f"{name}_images": len(split) for name, split in splits.splits().items()}
    if pretrained:
        resolved.update({"pretrained": pretrained.describe(), "model_options": model_options,
                         "phases": [phase.describe() for phase in phases]})
        if plan.fine_tune_learning_rate is not None:
            resolved["fine_tune_learning_rate_used"] = plan.fine_tune_learning_rate
    _say(choice, config, f"Run directory: {run_dir} ({choice.kind} strategy, {choice.replicas} replica(s), "
                         f"{plan.precision}, global batch {plan.global_batch}, learning rate {plan.learning_rate:g})")
    if splits.skipped:
        _say(choice, config, f"Skipped {splits.skipped} unreadable image(s), first: {splits.skipped_files[0]}")

    import keras

    keras.utils.set_random_seed(config.seed)
    classes = splits.num_classes
    train_from, validation_data, test_data = _pipelines(splits, config, plan, classes)
    scope = choice.strategy.scope() if choice.distributed else contextlib.nullcontext()
    started = time.time()
    first = _start_phase(phases, state)
    with dtype_policy(plan.precision), scope:
        # A resumed run takes every weight from its checkpoint: the pretrained file is not read into it again.
        model, statistics = _compiled_model(config, plan, splits.image_shape, classes, model_options, phases[first],
                                            pretrained if state is None else None)
        resolved["parameters"] = int(model.count_params())
        if choice.is_chief:
            os.makedirs(run_dir, exist_ok=True)
            run.write_config({**config.to_dict(), "resolved": resolved})
            run.write_labels(splits.class_names)
            run.write_data(recipe, heldout)
        if choice.kind == "multi_worker":
            multiworker_fix.apply(model)
        initial_epoch, history = _restore(model, state, choice, config, phases[first])
        resumed_epoch = initial_epoch
        if pretrained and state is None:
            _say(choice, config, f"Loaded {'ImageNet' if pretrained.source == 'imagenet' else pretrained.source} "
                                 f"weights into the backbone; new head for {classes} classes")
        for phase in phases[first:]:
            if phase is not phases[first]:  # unfreeze: new optimizer and schedule at the fine-tuning rate
                _compile(model, config, plan, classes, phase)
            if len(phases) > 1 and initial_epoch < phase.end:
                epochs = (f"epoch {phase.end}" if phase.end - phase.start == 1
                          else f"epochs {phase.start + 1}-{phase.end}")
                what = ("backbone frozen, training the new head" if phase.frozen else
                        "all layers but BatchNorm (inference mode)" if phase.batchnorm_frozen else "all layers")
                _say(choice, config, f"Phase {phase.number}, {epochs} of {config.epochs}: {what} "
                                     f"at learning rate {phase.learning_rate:g}")
            start = max(initial_epoch, phase.start)
            done_in_epoch = state.get("steps_in_epoch", 0) if state and start == state["epochs_done"] else 0
            guard, recorder, checkpoint, fit_callbacks = _callbacks(model, config, choice, history, phase,
                                                                    statistics, callbacks)
            fit = functools.partial(model.fit, validation_data=validation_data, callbacks=fit_callbacks,
                                    verbose=fit_verbosity(config.verbose), shuffle=False)  # the pipeline shuffles
            if done_in_epoch and start < phase.end:  # killed mid-epoch: first the rest of that epoch
                checkpoint.steps_before[start] = done_in_epoch
                with _weights_left_as_trained(model.optimizer):
                    fit(train_from(start, start + 1, done_in_epoch), epochs=start + 1, initial_epoch=start,
                        steps_per_epoch=plan.steps_per_epoch - done_in_epoch)
                start += 1
            # A phase already complete in the checkpoint still gets its (empty) fit: fit's end finalizes the
            # weights (the EMA average) exactly as the uninterrupted run did.
            if guard.failure is None:
                fit(train_from(min(start, phase.end - 1), phase.end), epochs=phase.end, initial_epoch=start,
                    steps_per_epoch=plan.steps_per_epoch)
            if guard.failure is not None:
                raise TrainingDiverged(_nan_message(guard, plan, checkpoint.last_path), run_dir)
            history, initial_epoch = recorder.history, max(initial_epoch, phase.end)
        train_seconds = time.time() - started
        test = model.evaluate(test_data, verbose=0, return_dict=True) if test_data is not None else {}
    exported = _save_float32_model(model, config, splits.image_shape, classes,
                                   run.model_path, write=choice.is_chief,
                                   model_options=model_options)
    images_seen = (config.epochs - resumed_epoch) * plan.steps_per_epoch * plan.global_batch
    metrics_file = {
        **{f"test_{name}": float(value) for name, value in test.items()},
        **{f"final_{name}": values[-1] for name, values in recorder.history.items() if values},
        "epochs": config.epochs,
        "train_images": len(splits.train),
        "validation_images": len(splits.validation) if splits.validation is not None else 0,
        "test_images": len(splits.test) if splits.test is not None else 0,
        "skipped_images": splits.skipped,
        "train_seconds": round(train_seconds, 2),
        "images_per_second": round(images_seen / train_seconds, 1),
        "resumed_from": ({"epochs_done": state["epochs_done"], "step": state["step"],
                          **({"phase": phases[first].number} if len(phases) > 1 else {})} if state else None),
        **resolved,
        "completed": True,  # metrics.json is written last: it marks a finished run
    }
    if choice.is_chief:
        recorder.save()
        run.write_metrics(metrics_file)
    if "test_accuracy" in metrics_file:
        _say(choice, config, f"Test accuracy {metrics_file['test_accuracy']:.4f}; model saved to "
                             f"{run.model_path}")
    return TrainResult(run_dir, recorder.history, metrics_file, config, exported)
