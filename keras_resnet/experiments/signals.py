"""Forward and backward signals of a network on a fixed labelled batch.

For every unit output ``x_l`` (the layer ``conv{stage}_block{i}_out``: the addition,
or the ReLU after it, or a plain net's last ReLU) its mean and standard deviation
and ‖∂L/∂x_l‖, the gradient of the training loss (mean cross-entropy) reaching it;
for every main-path layer (stem and branch convs, the classifier) ‖∂L/∂W‖ and ‖W‖.
Norms are Frobenius norms over the whole batch, in float64. The pass runs in
training mode (BatchNorm on batch statistics, as SGD sees the network) and leaves
the model as it was: the moving statistics a training-mode call updates are put back.
"""

from __future__ import annotations

import contextlib
import math
import re

import numpy as np

from keras_resnet import naming
from keras_resnet.errors import KerasResnetError

_UNIT_OUTPUT = re.compile(rf"^(conv(\d+)_block\d+){naming.UNIT_OUTPUT}$")


def unit_outputs(model):
    """``[(unit name, layer)]`` of every unit's output layer, input side first."""
    units = [(match[1], layer) for layer in model.layers if (match := _UNIT_OUTPUT.match(layer.name))]
    if not units:
        raise KerasResnetError(f"model {model.name!r} has no unit outputs (conv*_block*_out): measure a network"
                               " built by keras_resnet")
    return units


def main_path_layers(model):
    """``[(name, kernel)]`` of the stem and branch convolutions and the classifier, input side first (projection
    shortcuts, gates and squeeze-excitation are side paths: the papers' depth does not count them)."""
    import keras

    layers = []
    for layer in model.layers:
        is_conv = isinstance(layer, keras.layers.Conv2D) and not layer.name.endswith(naming.SIDE_CONVS)
        if is_conv or (isinstance(layer, keras.layers.Dense) and layer.name == naming.PREDICTIONS):
            layers.append((layer.name, layer.kernel))
    return layers


@contextlib.contextmanager
def statistics_kept(*models):
    """Puts back the models' non-trainable variables (BatchNorm's moving statistics) after the block: a
    training-mode call moves them towards the batch it sees."""
    import keras

    saved = [(v, np.array(keras.ops.convert_to_numpy(v))) for model in models for v in model.non_trainable_variables]
    try:
        yield
    finally:
        for variable, value in saved:
            variable.assign(value)


def stage_of(unit):
    """The stage number of a unit name: 3 for ``conv3_block2``."""
    return int(unit.split("_")[0].removeprefix("conv"))


class SignalProbe:
    """Measures one model's signals; the probe model shares the model's layers and weights."""

    def __init__(self, model):
        import keras

        self.model = model
        self.units = unit_outputs(model)
        self.layers = main_path_layers(model)
        self.probe = keras.Model(model.inputs[0], [layer.output for _, layer in self.units] + [model.outputs[0]],
                                 name=f"{model.name}_signal_probe")

    def measure(self, images, labels):
        """``{"loss", "units": {unit: {"mean", "std", "gradient"}}, "layers": {name: {"gradient", "weight"}}}``."""
        import keras
        import tensorflow as tf

        kernels = [kernel for _, kernel in self.layers]
        with statistics_kept(self.model), tf.GradientTape() as tape:
            *activations, probabilities = self.probe(np.asarray(images, np.float32), training=True)
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                tf.convert_to_tensor(np.asarray(labels)), probabilities))
        gradients = tape.gradient(loss, [*activations, *kernels])
        norm = lambda t: 0.0 if t is None else float(np.linalg.norm(np.asarray(t, np.float64)))  # noqa: E731
        units = {}
        for (unit, _), activation, gradient in zip(self.units, activations, gradients):
            values = np.asarray(activation, np.float64)
            units[unit] = {"mean": float(values.mean()), "std": float(values.std()), "gradient": norm(gradient)}
        layers = {name: {"gradient": norm(gradient), "weight": norm(kernel)}
                  for (name, kernel), gradient in zip(self.layers, gradients[len(activations):])}
        return {"loss": float(loss), "units": units, "layers": layers}


class SignalMeasure:
    """The runner's per-epoch hook: signals on the fixed probe batch with its labels; one probe per model."""

    def __init__(self, labels):
        self.labels = np.asarray(labels)
        self._probe = None

    def __call__(self, model, images):
        if self._probe is None or self._probe.model is not model:
            self._probe = SignalProbe(model)
        return self._probe.measure(images, self.labels[:len(images)])


def _ratio(numerator, denominator):
    if denominator == 0 or not math.isfinite(numerator) or not math.isfinite(denominator):
        return None
    return numerator / denominator


def gradient_ratios(measurement):
    """How much gradient reaches the first unit relative to the last, from one measurement.

    ``end_to_end``: ‖∂L/∂x_first‖ / ‖∂L/∂x_last‖ over the whole net. ``through_shortcuts``: the product over
    the stages of that ratio inside each stage (from the stage's first unit to its last), which leaves out
    the units that change the shape, where the shortcut is a projection or a zero-padding rather than
    ``λ·x``. ``per_unit``: ‖∂L/∂x_l‖ / ‖∂L/∂x_last‖ for every unit, input side first.
    """
    gradients = {unit: values["gradient"] for unit, values in measurement["units"].items()}
    names = list(gradients)
    last = gradients[names[-1]]
    through = 1.0
    for stage in dict.fromkeys(stage_of(name) for name in names):
        members = [name for name in names if stage_of(name) == stage]
        ratio = _ratio(gradients[members[0]], gradients[members[-1]])
        through = None if ratio is None or through is None else through * ratio
    return {"end_to_end": _ratio(gradients[names[0]], last), "through_shortcuts": through,
            "per_unit": {name: _ratio(value, last) for name, value in gradients.items()}}
