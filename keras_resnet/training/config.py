"""``TrainConfig``: every training option in one place, from defaults, a YAML/JSON file and overrides.

Precedence: built-in defaults < config file < keyword arguments (or CLI flags).
The resolved config is saved as ``config.json`` in the run directory; giving
that file back (``--config run/config.json``) repeats the run.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import json
import math
import os

from keras_resnet.errors import KerasResnetError
from keras_resnet.zoo import get_entry

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("step", "cosine", "constant")
AUGMENTS = ("auto", "none", "crop", "cifar", "imagenet")
STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
JIT_COMPILE = ("auto", "on", "off")
BAD_IMAGE = ("error", "skip")
FINE_TUNE_BATCHNORM = ("frozen", "train")

# Per-optimizer defaults for options left at None.
DEFAULT_LEARNING_RATE = {"sgd": 0.1, "adamw": 1e-3}  # for a global batch of REFERENCE_BATCH_SIZE
DEFAULT_WEIGHT_DECAY = {"sgd": 1e-4, "adamw": 0.05}
DEFAULT_FINE_TUNE_FACTOR = "0.1x"  # fine-tuning after the frozen epochs runs at a tenth of the learning rate
REFERENCE_BATCH_SIZE = 128  # He et al. 2015, CIFAR-10: lr 0.1 at batch 128

# Keyword arguments of the model builders that train itself decides.
RESERVED_MODEL_OPTIONS = ("include_top", "weights", "classes", "input_shape", "input_tensor", "pooling")

# Options that may differ when a run is resumed: they change how, not what, is trained.
RUNTIME_KEYS = ("strategy", "precision", "jit_compile", "verbose", "tensorboard", "run_dir", "data_dir", "stream",
                "steps_per_execution")


@dataclasses.dataclass
class TrainConfig:
    """All options of :func:`keras_resnet.training.train`; see the field comments."""

    # model
    model: str = "resnet20"  # a zoo name (keras-resnet models), or resnetN/plainN for any CIFAR depth 6n+2
    model_options: dict = dataclasses.field(default_factory=dict)  # e.g. {"stochastic_depth": 0.1}
    # transfer learning: a pretrained backbone and a new head for the data's classes
    weights: str | None = None  # imagenet | timm:NAME | hf-hub:ORG/NAME | PATH (.keras, .weights.h5, keras.applications
    # .h5, PyTorch .safetensors/.pth/.bin); None: from scratch
    freeze_epochs: int = 0  # with weights: train only the new head this many epochs (backbone + its BN frozen)
    fine_tune_learning_rate: float | str | None = None  # after freeze_epochs: a rate, or "0.1x" of learning_rate
    fine_tune_batchnorm: str = "train"  # with weights, while fine-tuning the backbone: train (batch statistics,
    #   all updated) | frozen (inference mode, statistics and gamma/beta fixed, as Keras' transfer-learning guide);
    #   benchmarks/fine_tune_batchnorm.py: train wins, and frozen diverges at higher fine-tuning rates
    # data
    data: str = "bundled"  # bundled | folder | .npz | TFRecords | tfds:NAME | cifar10, cifar100, mnist, fashion_mnist
    image_size: int | list | None = None  # resize to this (int or [h, w]); None keeps the dataset's size
    channels: int | None = None  # 1 or 3; None keeps the dataset's
    validation_split: float = 0.1  # carved from train, stratified, unless the source has its own
    on_bad_image: str = "error"  # error | skip
    data_dir: str | None = None  # where TFDS keeps prepared datasets
    label_offset: int = 0  # subtracted from TFRecord labels: 1 for ImageNet-layout TFRecords (labels 1..1000)
    stream: str | bool = "auto"  # folders/TFRecords: read from disk as training goes; auto: when too big for memory
    augment: str = "auto"  # auto | none | crop | cifar | imagenet; auto: crop (1 channel), cifar (< 128 px), imagenet
    # schedule of the run
    epochs: int = 10
    total_steps: int | None = None  # train this many optimizer steps instead (the papers count iterations):
    #   epochs become enough to reach it, and the schedule's milestones are fractions of it
    steps_per_epoch: int | None = None  # cap on training steps per epoch (None: the whole training split)
    batch_size: int = 128  # per replica; the global batch is batch_size x replicas
    # optimisation
    optimizer: str = "sgd"  # sgd | adamw
    learning_rate: float | None = None  # for a global batch of reference_batch_size; None: 0.1 (sgd), 1e-3 (adamw)
    reference_batch_size: int = REFERENCE_BATCH_SIZE  # lr used = learning_rate x global batch / this
    momentum: float = 0.9  # sgd only
    nesterov: bool = False  # sgd only
    weight_decay: float | None = None  # sgd: L2 coefficient (1e-4); adamw: decoupled (0.05); never on BN/bias
    label_smoothing: float = 0.0
    schedule: str = "step"  # step (/10 at step_milestones) | cosine | constant
    step_milestones: list = dataclasses.field(default_factory=lambda: [0.5, 0.75])  # fractions of training
    step_factor: float = 0.1
    warmup_epochs: float = 0.0  # linear warm-up from ~0 to the learning rate
    warmup_steps: int = 0  # the warm-up in optimizer steps instead of epochs
    warmup_learning_rate: float | None = None  # hold this rate during warm-up (for reference_batch_size, scaled
    #   like learning_rate) instead of rising linearly; He et al.: 0.01 for ResNet-110's first 400 iterations
    ema: bool = False  # keep an exponential moving average of the weights; it becomes the final model
    ema_momentum: float = 0.999
    sync_batchnorm: bool = False  # BatchNorm statistics over the global batch instead of per replica
    seed: int = 0
    # hardware
    strategy: str = "auto"  # auto | default | mirrored | multi_worker | tpu
    precision: str = "auto"  # auto | float32 | mixed_float16 | mixed_bfloat16
    jit_compile: str = "auto"  # auto (GPU with one device) | on | off
    steps_per_execution: int = 1
    # outputs
    run_dir: str | None = None  # default runs/<model>-<time>; rerun with the same run_dir to resume
    checkpoint_steps: int = 0  # also checkpoint every N steps (0: at the end of each epoch only)
    tensorboard: bool = True
    verbose: str | int = "auto"  # Keras fit verbosity: auto | 0 | 1 | 2

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


FIELDS = {field.name: field for field in dataclasses.fields(TrainConfig)}
# Keys train() writes into config.json for information (the hardware it resolved); ignored on reading.
INFORMATIONAL_KEYS = ("resolved",)


def _normalize_key(key: str) -> str:
    return str(key).strip().replace("-", "_")


def _unknown_key(key: str, where: str) -> KerasResnetError:
    close = difflib.get_close_matches(key, FIELDS, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"known options: {', '.join(FIELDS)}"
    return KerasResnetError(f"unknown training option '{key}' in {where}: {hint}")


def load_config_file(path) -> dict:
    """The options in a YAML (``.yaml``/``.yml``) or JSON file, as a dict."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        raise KerasResnetError(f"no config file '{path}': give the path of a YAML or JSON file") from None
    except (UnicodeDecodeError, IsADirectoryError):
        raise KerasResnetError(f"config file '{path}' is not a text file: give a YAML or JSON file") from None
    try:
        if path.lower().endswith(".json"):
            data = json.loads(text) if text.strip() else {}
        else:
            import yaml

            data = yaml.safe_load(text) or {}
    except Exception as error:  # json.JSONDecodeError, yaml.YAMLError
        message = str(error).replace("\n", " ")
        raise KerasResnetError(f"config file '{path}' does not parse: {message}; fix the syntax") from None
    if not isinstance(data, dict):
        raise KerasResnetError(
            f"config file '{path}' holds a {type(data).__name__}, not a mapping: write 'option: value' lines"
        )
    return data


def _check_choice(name, value, choices):
    if value not in choices:
        raise KerasResnetError(f"{name}={value!r} is not supported: choose one of {', '.join(choices)}")


def _number(name, value, kind, low=None, high=None, low_open=False, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise KerasResnetError(f"{name}={value!r} must be a number: e.g. {name}={kind(low or 1)}")
    if kind is int and value != int(value):
        raise KerasResnetError(f"{name}={value!r} must be a whole number")
    value = kind(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    if too_low or (high is not None and value > high):
        bounds = f"{'>' if low_open else '>='} {low}" if high is None else f"in [{low}, {high}]"
        raise KerasResnetError(f"{name}={value} is out of range: it must be {bounds}")
    return value


def _boolean(name, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
        return value.lower() in ("true", "yes", "on", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise KerasResnetError(f"{name}={value!r} must be true or false")


def validate(config: TrainConfig) -> TrainConfig:
    """Checks every option and fills the per-optimizer defaults; returns a new config."""
    c = dataclasses.replace(config)
    c.model = str(c.model).strip().lower()
    get_entry(c.model)  # an unknown model stops here, before any data is read or any file written
    if not isinstance(c.model_options, dict):
        raise KerasResnetError(f"model_options={c.model_options!r} must be a mapping, e.g. {{stochastic_depth: 0.1}}")
    for key in RESERVED_MODEL_OPTIONS:
        if key in c.model_options:
            fix = ("pass it as the weights option (--weights)" if key == "weights"
                   else "remove it: train builds the model with a classifier head for the data's classes")
            raise KerasResnetError(f"model option {key!r} is not for train: {fix}")
    c.data = os.fspath(c.data) if c.data is not None else "bundled"
    if c.image_size is not None:
        if isinstance(c.image_size, (list, tuple)):
            if len(c.image_size) != 2:
                raise KerasResnetError(f"image_size={c.image_size!r} must be one size or [height, width]")
            c.image_size = [_number("image_size", v, int, 1) for v in c.image_size]
        else:
            c.image_size = _number("image_size", c.image_size, int, 1)
    if c.channels is not None and c.channels not in (1, 3):
        raise KerasResnetError(f"channels={c.channels!r} must be 1 or 3 (or left out to keep the dataset's)")
    c.validation_split = _number("validation_split", c.validation_split, float, 0.0, 0.99)
    _check_choice("on_bad_image", c.on_bad_image, BAD_IMAGE)
    c.label_offset = _number("label_offset", c.label_offset, int, 0)
    c.stream = c.stream if c.stream == "auto" else _boolean("stream", c.stream)
    _check_choice("augment", c.augment, AUGMENTS)
    c.epochs = _number("epochs", c.epochs, int, 1)
    c.total_steps = _number("total_steps", c.total_steps, int, 1, allow_none=True)
    c.steps_per_epoch = _number("steps_per_epoch", c.steps_per_epoch, int, 1, allow_none=True)
    c.batch_size = _number("batch_size", c.batch_size, int, 1)
    c.optimizer = str(c.optimizer).lower()
    _check_choice("optimizer", c.optimizer, OPTIMIZERS)
    if c.learning_rate is None:
        c.learning_rate = DEFAULT_LEARNING_RATE[c.optimizer]
    c.learning_rate = _number("learning_rate", c.learning_rate, float, 0.0, low_open=True)
    c.reference_batch_size = _number("reference_batch_size", c.reference_batch_size, int, 1)
    c.momentum = _number("momentum", c.momentum, float, 0.0, 0.999999)
    c.nesterov = _boolean("nesterov", c.nesterov)
    if c.weight_decay is None:
        c.weight_decay = DEFAULT_WEIGHT_DECAY[c.optimizer]
    c.weight_decay = _number("weight_decay", c.weight_decay, float, 0.0)
    c.label_smoothing = _number("label_smoothing", c.label_smoothing, float, 0.0, 0.99)
    _check_choice("schedule", c.schedule, SCHEDULES)
    if not isinstance(c.step_milestones, (list, tuple)) or not all(
        isinstance(m, (int, float)) and not isinstance(m, bool) and 0 < m < 1 for m in c.step_milestones
    ):
        raise KerasResnetError(
            f"step_milestones={c.step_milestones!r} must be fractions of training in (0, 1), e.g. [0.5, 0.75]"
        )
    c.step_milestones = sorted(float(m) for m in c.step_milestones)
    c.step_factor = _number("step_factor", c.step_factor, float, 0.0, 1.0, low_open=True)
    _validate_warmup(c)
    _validate_transfer(c)
    c.ema = _boolean("ema", c.ema)
    c.ema_momentum = _number("ema_momentum", c.ema_momentum, float, 0.0, 0.999999)
    c.sync_batchnorm = _boolean("sync_batchnorm", c.sync_batchnorm)
    c.seed = _number("seed", c.seed, int, 0)
    _check_choice("strategy", c.strategy, STRATEGIES)
    _check_choice("precision", c.precision, PRECISIONS)
    if isinstance(c.jit_compile, bool):
        c.jit_compile = "on" if c.jit_compile else "off"
    _check_choice("jit_compile", c.jit_compile, JIT_COMPILE)
    c.steps_per_execution = _number("steps_per_execution", c.steps_per_execution, int, 1)
    c.checkpoint_steps = _number("checkpoint_steps", c.checkpoint_steps, int, 0)
    c.tensorboard = _boolean("tensorboard", c.tensorboard)
    if c.verbose not in ("auto", 0, 1, 2):
        raise KerasResnetError(f"verbose={c.verbose!r} must be auto, 0, 1 or 2")
    if c.run_dir is not None:
        c.run_dir = os.fspath(c.run_dir)
    return c


def _validate_warmup(c: TrainConfig) -> None:
    """warmup_epochs / warmup_steps / warmup_learning_rate against the length of training (in place)."""
    c.warmup_epochs = _number("warmup_epochs", c.warmup_epochs, float, 0.0)
    c.warmup_steps = _number("warmup_steps", c.warmup_steps, int, 0)
    c.warmup_learning_rate = _number("warmup_learning_rate", c.warmup_learning_rate, float, 0.0, low_open=True,
                                     allow_none=True)
    if c.warmup_epochs and c.warmup_steps:
        raise KerasResnetError(
            f"warmup_epochs={c.warmup_epochs} and warmup_steps={c.warmup_steps} both set the warm-up: give one"
        )
    if c.total_steps is None and c.warmup_epochs >= c.epochs:
        raise KerasResnetError(
            f"warmup_epochs={c.warmup_epochs} is not less than epochs={c.epochs}: shorten the warm-up"
        )
    if c.total_steps is not None and c.warmup_steps >= c.total_steps:
        raise KerasResnetError(
            f"warmup_steps={c.warmup_steps} is not less than total_steps={c.total_steps}: shorten the warm-up"
        )


def _validate_transfer(c: TrainConfig) -> None:
    """weights / freeze_epochs / fine_tune_learning_rate / fine_tune_batchnorm, alone and together (in place)."""
    if c.weights is not None:
        c.weights = os.fspath(c.weights).strip() if isinstance(c.weights, (str, os.PathLike)) else c.weights
        if not isinstance(c.weights, str) or not c.weights:
            raise KerasResnetError(f"weights={c.weights!r} must be imagenet or the path of a weights file, or timm:NAME")
        if c.weights.lower() == "imagenet":
            c.weights = "imagenet"
    c.freeze_epochs = _number("freeze_epochs", c.freeze_epochs, int, 0)
    c.fine_tune_batchnorm = str(c.fine_tune_batchnorm).strip().lower()
    _check_choice("fine_tune_batchnorm", c.fine_tune_batchnorm, FINE_TUNE_BATCHNORM)
    if not c.freeze_epochs:
        if c.fine_tune_learning_rate is not None:
            raise KerasResnetError(
                f"fine_tune_learning_rate={c.fine_tune_learning_rate!r} applies only after freeze_epochs, which is 0: "
                "add --freeze-epochs N, or set the rate with --learning-rate"
            )
        return
    if c.total_steps is not None:
        raise KerasResnetError(
            f"total_steps={c.total_steps} counts the steps of one training phase, but freeze_epochs="
            f"{c.freeze_epochs} makes two: give the length as epochs"
        )
    if c.weights is None:
        raise KerasResnetError(
            f"freeze_epochs={c.freeze_epochs} freezes a pretrained backbone, but no weights are given: add "
            "--weights imagenet or --weights PATH, or drop --freeze-epochs"
        )
    if c.freeze_epochs >= c.epochs:
        raise KerasResnetError(
            f"freeze_epochs={c.freeze_epochs} leaves none of the {c.epochs} epochs to fine-tune the unfrozen "
            f"network: raise --epochs above {c.freeze_epochs} or lower --freeze-epochs"
        )
    rate = DEFAULT_FINE_TUNE_FACTOR if c.fine_tune_learning_rate is None else c.fine_tune_learning_rate
    c.fine_tune_learning_rate = fine_tune_rate(rate, c.learning_rate)
    shortest = min(c.freeze_epochs, c.epochs - c.freeze_epochs)
    if c.warmup_epochs >= shortest:
        raise KerasResnetError(
            f"warmup_epochs={c.warmup_epochs} is not less than the shorter training phase ({shortest} epochs; "
            "each phase, frozen and fine-tuning, warms up): shorten the warm-up"
        )


def default_run_dir(model: str) -> str:
    """``runs/<model>-<YYYYmmdd-HHMMSS>`` under the current folder."""
    return os.path.join("runs", f"{model}-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}")


def resolve_config(config=None, **overrides) -> TrainConfig:
    """A validated ``TrainConfig`` from ``config`` (None, a TrainConfig, a dict, or a YAML/JSON path)
    with ``overrides`` on top; keys may use dashes (``batch-size``) or underscores."""
    values: dict = {}
    if isinstance(config, TrainConfig):
        values.update(config.to_dict())
        where = "the config"
    elif isinstance(config, dict):
        values.update(config)
        where = "the config"
    elif config is not None:
        values.update(load_config_file(config))
        where = f"config file '{os.fspath(config)}'"
    else:
        where = "the options"
    merged = {}
    for source, items in ((where, values), ("the options", overrides)):
        for key, value in items.items():
            name = _normalize_key(key)
            if name in INFORMATIONAL_KEYS:
                continue
            if name not in FIELDS:
                raise _unknown_key(str(key), source)
            merged[name] = value
    return validate(TrainConfig(**merged))


def differences(saved: dict, current: TrainConfig) -> list[str]:
    """The options (other than RUNTIME_KEYS) whose values differ between a saved run and ``current``."""
    now = current.to_dict()
    return [
        f"{key}: {saved.get(key)!r} then, {now[key]!r} now"
        for key in now
        if key not in RUNTIME_KEYS and key in saved and _comparable(saved[key]) != _comparable(now[key])
    ]


def _comparable(value):
    return json.loads(json.dumps(value))


def fine_tune_rate(value, learning_rate: float):
    """``value`` as a learning rate: a number, or ``"0.1x"`` (a factor of ``learning_rate``)."""
    if isinstance(value, str):
        text = value.strip().lower()
        factor = text.endswith("x")
        try:
            number = float(text[:-1] if factor else text)
        except ValueError:
            number = None
        if number is None or not math.isfinite(number):
            raise KerasResnetError(
                f"fine_tune_learning_rate={value!r} must be a rate (e.g. 0.001) or a factor of the learning rate "
                "(e.g. 0.1x)"
            )
        value = number * learning_rate if factor else number
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or not math.isfinite(value):
        raise KerasResnetError(
            f"fine_tune_learning_rate={value!r} must be a positive rate (e.g. 0.001) or a factor of the learning "
            "rate (e.g. 0.1x)"
        )
    return float(value)
