"""Quantization-aware training (QAT) of a Keras 3 model through its tf_keras twin and tfmot.

    qat_model = quantization_aware_training(model, train_images, train_labels, epochs=1)
    # then: a full-integer int8 .tflite (see export_all(..., modes="int8,qat"))

tfmot's default 8-bit scheme quantizes Conv-BN(-ReLU) as one folded op, Add(-ReLU),
Dense and pooling. Our models need three more things, given per layer through
quantize configs (``quantization_plan`` says which layer gets what):

* ``output``: BatchNormalization with no convolution to fold it into and no ReLU after it;
  the Rescaling preprocessing and the Table-1 shortcut scaling; the gates' Multiply.
  Their outputs get an 8-bit range (TFLite runs them as int8 MUL/ADD).
* ``pass_through``: ``ZeroPadChannels`` (option-A shortcut) appends zeros and keeps
  its input's range, like TFLite's int8 PAD; a BatchNormalization that feeds a ReLU
  (after an addition, or opening a pre-activation v2 unit): TFLite fuses the ReLU
  into its ADD, so only the ReLU's output has an 8-bit range. A range on the BN
  output too cost ResNet-20 v2 on per-image dimmed digits 97 % -> 25 % (fake-quant).
* a layer neither tfmot nor this table knows: a one-line error naming it.

The input range is pinned to raw pixels 0..255, so the int8 model's uint8 input has
scale 1 and zero point 0, exactly like the post-training int8 export. Every other range
starts from a calibration pass (``initialize_ranges``), not tfmot's [-6, 6], and stays there
(``FREEZE_RANGES``); the fine-tuning ends on the checkpoint that does best on training images
held out of it (``best_checkpoint``), the calibrated start included.
"""

from __future__ import annotations

import contextlib
import functools
import math

import numpy as np

from keras_resnet.errors import KerasResnetError, first_line

from .fine_tune import (DEFAULT_BATCH_SIZE, check_epochs, check_learning_rate, check_training_data, fine_tune,
                        outputs_logits, predict)
from .tfmot_env import tf_keras, tfmot

DEFAULT_QAT_EPOCHS = 1
DEFAULT_QAT_LEARNING_RATE = 1e-4  # peak of the cosine decay. Where PTQ fails (dimmed digits, 1/300) one epoch at 1e-4
# won back 61 % of the loss, at 1e-5 34 %; where it does not, the checkpoint selection keeps the calibrated start
QAT_SCHEDULE = "cosine"
FREEZE_BATCH_NORM = True
FREEZE_RANGES = True  # activation ranges stay where calibration put them: with tfmot's moving averages the
# converted int8 file fell 1.2 points below its own fake-quant model (narrow ResNet-20 v2); frozen, they agree
RANGE_CALIBRATION_SIZE = 200  # images the ranges start from: the int8 export's default calibration size
VALIDATION_SHARE = 0.1  # of the training images, kept out of the fine-tuning to choose the checkpoint on
CHECKS_PER_EPOCH = 4  # checkpoints scored per epoch, besides the calibrated start
SELECTION_SIGNIFICANCE = 0.05  # a checkpoint replaces the best so far only when it is right on clearly more of
# the held-out images the two disagree on (one-sided sign test): 2 fewer errors in 360 (8 -> 6) chose a
# quick-start checkpoint 0.7 points below post-training int8 on the test images
PIXEL_RANGE = (0.0, 255.0)
OUTPUT, PASS_THROUGH, DEFAULT = "output", "pass_through", "default"
# Layers whose output only needs an 8-bit range (no weights to quantize, int8 kernels in TFLite).
_OUTPUT_QUANTIZED = {"BatchNormalization", "Rescaling", "Multiply", "Subtract", "Maximum", "Minimum", "Average"}
_FOLDS_INTO = {"Conv2D", "DepthwiseConv2D"}  # tfmot folds a BatchNormalization into these (linear, one consumer)


@functools.lru_cache(maxsize=None)
def quantize_configs():
    """Our two tfmot ``QuantizeConfig`` classes (built on first use: tfmot is imported lazily)."""
    quantization = tfmot().quantization.keras

    class OutputQuantizeConfig(quantization.QuantizeConfig):
        """No weights quantized; the output gets a moving-average 8-bit range."""

        def get_weights_and_quantizers(self, layer):
            return []

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            pass

        def set_quantize_activations(self, layer, quantize_activations):
            pass

        def get_output_quantizers(self, layer):
            return [quantization.quantizers.MovingAverageQuantizer(num_bits=8, per_axis=False, symmetric=False,
                                                                   narrow_range=False)]

        def get_config(self):
            return {}

    class PassThroughQuantizeConfig(OutputQuantizeConfig):
        """Nothing quantized: the output keeps its input's range (zero padding)."""

        def get_output_quantizers(self, layer):
            return []

    return {OUTPUT: OutputQuantizeConfig, PASS_THROUGH: PassThroughQuantizeConfig}


def _scope_objects(model) -> dict:
    """Classes ``quantize_apply`` must find when it rebuilds the model from its config."""
    from keras_resnet.layers import PACKAGE, custom_layers

    configs = quantize_configs()
    objects = {config.__name__: config for config in configs.values()}
    for name, cls in vars(custom_layers(tf_keras())).items():
        objects[name] = objects[f"{PACKAGE}>{name}"] = cls
    return objects


def _inbound_layers(layer):
    nodes = getattr(layer, "inbound_nodes", None) or getattr(layer, "_inbound_nodes", [])
    if not nodes:
        return []
    inbound = nodes[0].inbound_layers
    return list(inbound) if isinstance(inbound, (list, tuple)) else [inbound]


def _consumers(layer) -> int:
    return len(getattr(layer, "outbound_nodes", None) or getattr(layer, "_outbound_nodes", []))


def _folds(batch_norm) -> bool:
    """Whether tfmot's Conv+BN transform will fold this BatchNormalization into the conv before it."""
    inbound = _inbound_layers(batch_norm)
    if len(inbound) != 1 or inbound[0].__class__.__name__ not in _FOLDS_INTO:
        return False
    conv = inbound[0]
    activation = getattr(conv.activation, "__name__", str(conv.activation))
    return activation == "linear" and _consumers(conv) == 1


def _feeds_relu(layer) -> bool:
    """Whether a layer's only consumer is a ReLU: TFLite fuses the ReLU into the op before it (a BatchNormalization's
    ADD), so only the ReLU's output is ever stored in 8 bits."""
    nodes = getattr(layer, "outbound_nodes", None) or getattr(layer, "_outbound_nodes", [])
    if len(nodes) != 1:
        return False
    consumer = nodes[0].layer
    activation = getattr(consumer, "activation", None)
    return (consumer.__class__.__name__ == "ReLU" and getattr(consumer, "max_value", None) is None
            and not getattr(consumer, "negative_slope", 0)) or (
        consumer.__class__.__name__ == "Activation" and getattr(activation, "__name__", "") == "relu")


def quantization_plan(model) -> dict:
    """``{layer name: "default" | "output" | "pass_through"}`` for a tf_keras model, or an error naming a layer
    tfmot's 8-bit scheme cannot quantize."""
    from keras_resnet.layers import custom_layers

    registry = tfmot().quantization.keras.default_8bit.Default8BitQuantizeScheme().get_quantize_registry()
    zero_pad = custom_layers(tf_keras())
    plan = {}
    for layer in model.layers:
        kind = layer.__class__.__name__
        if kind == "InputLayer":
            continue
        if isinstance(layer, zero_pad.ZeroPadChannels):
            plan[layer.name] = PASS_THROUGH
        elif kind == "BatchNormalization":
            plan[layer.name] = DEFAULT if _folds(layer) else PASS_THROUGH if _feeds_relu(layer) else OUTPUT
        elif kind in _OUTPUT_QUANTIZED:
            plan[layer.name] = OUTPUT
        elif registry.supports(layer):
            plan[layer.name] = DEFAULT
        else:
            raise KerasResnetError(
                f"layer '{layer.name}' ({kind}) cannot be quantized by tfmot's 8-bit scheme: export the model "
                "with post-training int8 instead (--quantize int8, without qat), or replace that layer")
    return plan


def quantize_aware_model(twin):
    """``twin`` (tf_keras) wrapped for QAT with our configs; its input range pinned to raw pixels."""
    quantization = tfmot().quantization.keras
    plan = quantization_plan(twin)
    configs = quantize_configs()

    def annotate(layer):
        kind = plan.get(layer.name, DEFAULT)
        return layer if kind == DEFAULT else quantization.quantize_annotate_layer(layer, configs[kind]())

    with quantization.quantize_scope(_scope_objects(twin)):
        annotated = tf_keras().models.clone_model(twin, clone_function=annotate)  # the twin's layers and weights
        try:
            quantized = quantization.quantize_apply(quantization.quantize_annotate_model(annotated))
        except (ValueError, TypeError, RuntimeError) as error:
            reason = first_line(error, 200)
            raise KerasResnetError(f"tfmot could not quantize '{twin.name}' ({reason}): export it with "
                                   "post-training int8 instead (--quantize int8)") from None
    pin_input_range(quantized)
    return quantized


def pin_input_range(quantized, value_range=PIXEL_RANGE) -> None:
    """Sets the input quantizer's range to raw pixels, so the int8 input takes 0-255 as they are.

    tfmot tracks the input's min/max over all batches; starting at 0..255 it stays there
    for uint8 pixels, and TFLite's uint8 input gets scale 1, zero point 0.
    """
    for layer in quantized.layers:
        if layer.__class__.__name__ != "QuantizeLayer":
            continue
        if not any(inbound.__class__.__name__ == "InputLayer" for inbound in _inbound_layers(layer)):
            continue
        for weight in layer.weights:
            name = weight.name.split("/")[-1]
            if "_min" in name:
                weight.assign(value_range[0])
            elif "_max" in name:
                weight.assign(value_range[1])


def _quant_ops():
    from tensorflow_model_optimization.python.core.quantization.keras import quant_ops

    return quant_ops


@contextlib.contextmanager
def _patched_quant_ops(**stand_ins):
    """Within: each tfmot ``quant_ops`` function named in ``stand_ins`` (what tfmot's quantizers call) replaced by
    ``stand_ins[name](original)``; put back on the way out. An eager pass sees the stand-ins; a function traced
    within keeps them."""
    quant_ops = _quant_ops()
    originals = {name: getattr(quant_ops, name) for name in stand_ins}
    for name, make in stand_ins.items():
        setattr(quant_ops, name, make(originals[name]))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(quant_ops, name, original)


def _called_with(is_training: bool):
    """A stand-in maker for ``_patched_quant_ops``: the original quant op, always called with ``is_training``."""
    return lambda original: lambda *args, **kwargs: original(*args, **{**kwargs, "is_training": is_training})


@contextlib.contextmanager
def _recording_ranges(ranges: dict):
    """Within: tfmot's moving-average quantizers record the min/max of what they see into ``ranges``
    (``{variable ref: [min, max, min variable, max variable]}``); weight quantizers set their ranges from the
    weights, as tfmot's first training step would (until then they are [-6, 6] too). Both pass their input on
    unquantized: the pass is the float model, as in the post-training calibrator, so the calibrated start
    converts to the post-training int8 model's ranges. For an eager pass only.
    """
    import tensorflow as tf

    def record(inputs, min_var, max_var, per_channel=False, **_):
        axes = list(range(len(inputs.shape) - 1)) if per_channel and len(inputs.shape) >= 2 else None
        low, high = tf.reduce_min(inputs, axis=axes).numpy(), tf.reduce_max(inputs, axis=axes).numpy()
        entry = ranges.setdefault(min_var.ref(), [low, high, min_var, max_var])
        entry[0], entry[1] = np.minimum(entry[0], low), np.maximum(entry[1], high)
        return inputs

    def set_from_weights(original):
        def quantize(inputs, *args, **kwargs):
            original(inputs, *args, **{**kwargs, "is_training": True})  # sets the range variables
            return inputs

        return quantize

    with _patched_quant_ops(MovingAvgQuantize=lambda original: record, LastValueQuantize=set_from_weights):
        yield ranges


def initialize_ranges(quantized, images, batch_size: int = 50) -> int:
    """Starts every activation quantizer's range at the min/max its input takes on ``images`` (uint8 pixels),
    as post-training calibration does, instead of tfmot's [-6, 6]. Returns how many ranges were set.

    tfmot moves a range towards each batch's min/max by an EMA of decay 0.999 per step: one epoch of 3,600
    images (113 steps) went 8 % of the way (median, quick-start ResNet-20), so QAT trained and converted with
    activations clipped at 6 that reach 25 (96.3 % top-1 against post-training int8's 96.8 %).
    """
    import tensorflow as tf

    ranges = {}
    with _recording_ranges(ranges), tf.device("/CPU:0"):
        for start in range(0, len(images), batch_size):
            quantized(np.asarray(images[start:start + batch_size], np.float32), training=False)
    for low, high, min_var, max_var in ranges.values():
        min_var.assign(np.minimum(low, 0.0).astype(np.float32))  # zero inside the range, as tfmot and TFLite keep it
        max_var.assign(np.maximum(high, 0.0).astype(np.float32))
    return len(ranges)


def freeze_batch_norm(quantized) -> int:
    """Runs every BatchNormalization of a QAT model in inference mode (its trained statistics, gamma and beta
    fixed) for the fine-tuning, as the int8 model will; returns how many."""
    frozen = 0
    for layer in quantized.layers:
        inner = getattr(layer, "layer", layer)  # tfmot's QuantizeWrapper holds the layer it quantizes
        if inner.__class__.__name__ == "BatchNormalization":
            inner.trainable = False  # tf_keras: a frozen BatchNormalization also uses its moving statistics
            frozen += 1
    return frozen


def quantization_aware_training(model, images, labels, *, epochs: int = DEFAULT_QAT_EPOCHS,
                                learning_rate: float = DEFAULT_QAT_LEARNING_RATE,
                                batch_size: int = DEFAULT_BATCH_SIZE, check_images=None, seed: int = 0,
                                progress: bool = True, calibration_size: int = RANGE_CALIBRATION_SIZE,
                                validation_share: float = VALIDATION_SHARE, details: dict | None = None):
    """QAT of a Keras 3 (or tf_keras) model: twin, checked, quantize-wrapped, fine-tuned; returns the tf_keras
    QAT model (float32 with fake quantization), ready for full-integer TFLite conversion.

    The recipe: every range starts where post-training calibration would put it (``calibration_size``
    training images, stratified and seeded like the int8 export's own calibration set), BatchNorm runs on
    its trained statistics, and Adam's learning rate decays from ``learning_rate`` to 0 (cosine).
    ``validation_share`` of the training images sit out the fine-tuning: the checkpoint that does clearly best
    on them (the calibrated start, i.e. the trained weights with post-training ranges, or one of
    ``CHECKS_PER_EPOCH`` points per epoch, by ``clearly_better``) is the one returned;
    ``details["checkpoint_selection"]`` tells which.
    ``images``/``labels``: the training split, uint8 raw pixels. ``check_images``: images the twin's
    outputs are compared on (default: the first 64 training images).
    """
    from .calibration import stratified_sample
    from .source import input_shape, output_classes

    epochs = check_epochs(epochs, "--qat-epochs")
    learning_rate = check_learning_rate(learning_rate, "--qat-learning-rate")
    images, labels = check_training_data(images, labels, input_shape(model), output_classes(model),
                                         "quantization-aware training")
    twin = to_tf_keras(model, check_images if check_images is not None else images)
    quantized = quantize_aware_model(twin)
    initialize_ranges(quantized, images[stratified_sample(labels, min(calibration_size, len(labels)), seed)])
    if FREEZE_BATCH_NORM:
        freeze_batch_norm(quantized)
    with frozen_ranges(FREEZE_RANGES):
        selection = fine_tune_selecting(quantized, images, labels, epochs=epochs, learning_rate=learning_rate,
                                        from_logits=outputs_logits(twin), batch_size=batch_size, seed=seed,
                                        progress=progress, validation_share=validation_share,
                                        label="Quantization-aware training")
    if selection and details is not None:
        details["checkpoint_selection"] = selection
    return quantized


def fine_tune_selecting(model, images, labels, *, epochs: int, learning_rate: float, from_logits: bool,
                        batch_size: int = DEFAULT_BATCH_SIZE, seed: int = 0, progress: bool = True,
                        validation_share: float = VALIDATION_SHARE, label: str = "Fine-tuning"):
    """The QAT fine-tuning (``QAT_SCHEDULE``) of a tf_keras model on all but ``validation_split`` of the images,
    ending on the checkpoint that scores best on those (``best_checkpoint``); returns its summary (None when
    there are too few images to hold some out: then all are fine-tuned on and the last step is kept)."""
    held_out = validation_split(labels, validation_share, seed)
    tuning = np.setdiff1d(np.arange(len(labels)), held_out)
    selector = best_checkpoint(model, images[held_out], labels[held_out], from_logits,
                               every=max(1, math.ceil(len(tuning) / int(batch_size) / CHECKS_PER_EPOCH)))
    fine_tune(model, images[tuning], labels[tuning], epochs=epochs, learning_rate=learning_rate,
              from_logits=from_logits, batch_size=batch_size, seed=seed, progress=progress, label=label,
              schedule=QAT_SCHEDULE, callbacks=[selector] if selector else ())
    if not selector:
        return None
    selector.restore_best()
    return selector.summary()


def validation_split(labels, share: float = VALIDATION_SHARE, seed: int = 0) -> np.ndarray:
    """Indices of the training images kept out of the fine-tuning to choose the checkpoint on (stratified,
    seeded): ``share`` of them, none when that leaves under one image per class or nothing to fine-tune on."""
    from .calibration import stratified_sample

    labels = np.asarray(labels).reshape(-1)
    size = int(round(len(labels) * share))
    if size < len(np.unique(labels)) or size >= len(labels):
        return np.zeros(0, np.int64)
    return stratified_sample(labels, size, seed)


def validation_scores(model, images, labels, from_logits: bool, batch_size: int = 100) -> tuple:
    """(which images ``model`` classifies right, mean cross-entropy) in inference mode (the ranges as they will
    convert) on uint8 ``images``."""
    outputs = predict(model, images, batch_size).astype(np.float64)
    if from_logits:
        outputs = np.exp(outputs - outputs.max(-1, keepdims=True))
        outputs /= outputs.sum(-1, keepdims=True)
    truth = np.asarray(labels)
    return outputs.argmax(-1) == truth, float(-np.log(np.maximum(outputs[np.arange(len(truth)), truth], 1e-12)).mean())


def clearly_better(correct, best_correct, significance: float = SELECTION_SIGNIFICANCE) -> bool:
    """Whether a checkpoint right on ``correct`` beats one right on ``best_correct`` beyond chance: of the images
    the two disagree on, it gets right so many that a fair coin would do as well with probability under
    ``significance`` (one-sided sign test: 5 to 0, 7 to 1, 9 to 2 pass; 4 to 2 and 8 to 2 do not)."""
    fixed = int(np.sum(correct & ~best_correct))
    disagreements = fixed + int(np.sum(best_correct & ~correct))
    tail = sum(math.comb(disagreements, k) for k in range(fixed, disagreements + 1)) / 2 ** disagreements
    return disagreements > 0 and tail < significance


def best_checkpoint(model, images, labels, from_logits: bool, every: int):
    """A tf_keras callback that scores ``model`` on held-out training images (``validation_scores``) before the
    fine-tuning and every ``every`` steps, keeps the weights (ranges included) of the best checkpoint, and puts
    them back on ``restore_best()``. A checkpoint becomes the best only when it is ``clearly_better``. The start
    is the trained model with post-training ranges, so fine-tuning is kept only where it clearly scores better.
    None without images."""
    if not len(images):
        return None

    class BestCheckpoint(tf_keras().callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.step, self.scores = 0, []
            self.best_correct, self.best_step, self.best_weights = None, 0, None
            self.score()

        def score(self):
            correct, loss = validation_scores(model, images, labels, from_logits)
            self.scores.append((self.step, int(np.sum(~correct)), loss))
            if self.best_correct is None or clearly_better(correct, self.best_correct):
                self.best_correct, self.best_step, self.best_weights = correct, self.step, model.get_weights()

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            if self.step % every == 0:
                self.score()

        def on_train_end(self, logs=None):
            if self.step % every:
                self.score()

        def restore_best(self):
            model.set_weights(self.best_weights)

        def summary(self):
            return {"validation_images": int(len(images)), "chosen_step": self.best_step, "steps": self.step,
                    "validation_errors_and_loss": [[step, errors, round(loss, 5)]
                                                   for step, errors, loss in self.scores]}

    return BestCheckpoint()


@contextlib.contextmanager
def frozen_ranges(frozen: bool = True):
    """Within (when ``frozen``): tfmot's activation quantizers keep the ranges they have (from
    ``initialize_ranges``) instead of moving them by an EMA of each training batch's min/max, in the
    functions traced for training within."""
    with _patched_quant_ops(**({"MovingAvgQuantize": _called_with(False)} if frozen else {})):
        yield


def to_tf_keras(model, check_images=None):
    """A tf_keras model as it is; a Keras 3 model as its float32 twin, outputs checked on ``check_images``."""
    from .source import float32_model, input_shape
    from .twin import tf_keras_twin

    if type(model).__module__.startswith("tf_keras"):
        return model
    model = float32_model(model)
    shape = input_shape(model)
    check = None
    if check_images is not None:
        from .reader import check_images as checked

        check = checked(np.asarray(check_images)[:64], shape, "check images")
    return tf_keras_twin(model, check)
