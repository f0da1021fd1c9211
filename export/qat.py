"""Quantization-aware training (QAT) of a Keras 3 model through its tf_keras twin and tfmot.

    qat_model = quantization_aware_training(model, train_images, train_labels, epochs=1)
    # then: a full-integer int8 .tflite (see export_all(..., modes="int8,qat"))

tfmot's default 8-bit scheme quantizes Conv-BN(-ReLU) as one folded op, Add(-ReLU),
Dense and pooling. Our models need three more things, given per layer through
quantize configs (``quantization_plan`` says which layer gets what):

* ``output``: BatchNormalization that follows an addition or opens a pre-activation
  (v2) unit, where there is no convolution to fold it into; the Rescaling
  preprocessing and the Table-1 shortcut scaling; the gates' Multiply. Their
  outputs get a learned 8-bit range (TFLite runs them as int8 MUL/ADD).
* ``pass_through``: ``ZeroPadChannels`` (option-A shortcut) appends zeros and keeps
  its input's range, like TFLite's int8 PAD.
* a layer neither tfmot nor this table knows: a one-line error naming it.

The input range is pinned to raw pixels 0..255, so the int8 model's uint8 input has
scale 1 and zero point 0, exactly like the post-training int8 export. Every other range
starts from a calibration pass (``initialize_ranges``), not tfmot's [-6, 6].
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np

from keras_resnet.errors import KerasResnetError, first_line

from .fine_tune import (DEFAULT_BATCH_SIZE, check_epochs, check_learning_rate, check_training_data, fine_tune,
                        outputs_logits)
from .tfmot_env import tf_keras, tfmot

DEFAULT_QAT_EPOCHS = 1
DEFAULT_QAT_LEARNING_RATE = 1e-5  # peak of the cosine decay: 1e-4 cost a converged ResNet-20 0.7 points, in float too
QAT_SCHEDULE = "cosine"
FREEZE_BATCH_NORM = True
RANGE_CALIBRATION_SIZE = 200  # images the ranges start from: the int8 export's default calibration size
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
            plan[layer.name] = DEFAULT if _folds(layer) else OUTPUT
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
def _recording_ranges(ranges: dict):
    """Within: tfmot's moving-average quantizers record the min/max of what they see into ``ranges``
    (``{variable ref: [min, max, min variable, max variable]}``) and pass it on unquantized, like the
    post-training calibrator's float pass; weight quantizers set their ranges from the weights, as tfmot's
    first training step would (until then they are [-6, 6] too).

    Patches ``quant_ops.MovingAvgQuantize`` / ``LastValueQuantize`` (what tfmot's quantizers call) for the
    block's duration: an eager pass only (a traced function would keep the patched ops).
    """
    import tensorflow as tf

    quant_ops = _quant_ops()
    originals = quant_ops.MovingAvgQuantize, quant_ops.LastValueQuantize

    def record(inputs, min_var, max_var, per_channel=False, **_):
        axes = list(range(len(inputs.shape) - 1)) if per_channel and len(inputs.shape) >= 2 else None
        low, high = tf.reduce_min(inputs, axis=axes).numpy(), tf.reduce_max(inputs, axis=axes).numpy()
        entry = ranges.setdefault(min_var.ref(), [low, high, min_var, max_var])
        entry[0], entry[1] = np.minimum(entry[0], low), np.maximum(entry[1], high)
        return inputs

    def weight_ranges(*args, **kwargs):  # tfmot's own training-mode step: sets each weight range from the weights
        return originals[1](*args, **{**kwargs, "is_training": True})

    quant_ops.MovingAvgQuantize, quant_ops.LastValueQuantize = record, weight_ranges
    try:
        yield ranges
    finally:
        quant_ops.MovingAvgQuantize, quant_ops.LastValueQuantize = originals


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
                                progress: bool = True, calibration_size: int = RANGE_CALIBRATION_SIZE):
    """QAT of a Keras 3 (or tf_keras) model: twin, checked, quantize-wrapped, fine-tuned; returns the tf_keras
    QAT model (float32 with fake quantization), ready for full-integer TFLite conversion.

    The recipe: every range starts where post-training calibration would put it (``calibration_size``
    training images, stratified and seeded like the int8 export's own calibration set), BatchNorm runs on
    its trained statistics, and Adam's learning rate decays from ``learning_rate`` to 0 (cosine).
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
    fine_tune(quantized, images, labels, epochs=epochs, learning_rate=learning_rate,
              from_logits=outputs_logits(twin), batch_size=batch_size, seed=seed, progress=progress,
              label="Quantization-aware training", schedule=QAT_SCHEDULE)
    return quantized


def to_tf_keras(model, check_images=None):
    """A tf_keras model as it is; a Keras 3 model as its float32 twin, outputs checked on ``check_images``."""
    import numpy as np

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
