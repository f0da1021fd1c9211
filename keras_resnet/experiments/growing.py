"""Growing a trained net deeper so that it computes exactly what it computed before (He et al. 2015, Sec. 1).

``grow_into(shallow, deep)`` copies every layer of ``shallow`` into the layer of the
same name in ``deep`` (stem, each stage's first units, head: a CIFAR ResNet-20's
``conv2_block1..3`` become ResNet-56's ``conv2_block1..3``) and turns every unit
``deep`` has beyond them (``conv2_block4..9`` ...) into an identity:

- a residual unit gets a zero branch: the last BatchNorm of F gets γ = β = 0 (or,
  where no BatchNorm ends F, as in pre-activation units, its last conv a zero
  kernel), so ``y = x + 0`` in training and in inference mode alike (after a ReLU,
  whose input here is already non-negative);
- a plain unit has no shortcut, so its layers themselves must pass ``x`` through:
  each 3x3 conv gets the identity ("Dirac") kernel and each BatchNorm γ = 1, β = 0,
  moving mean 0 and moving variance 1 - ε. That is an exact identity in inference
  mode only: in training mode BatchNorm normalises with the batch's own statistics,
  so from the first training step the added plain layers are not identities.
"""

from __future__ import annotations

import re

import numpy as np

from keras_resnet import naming
from keras_resnet.errors import KerasResnetError, first_line
from keras_resnet.experiments.signals import statistics_kept

_UNIT_LAYER = re.compile(r"^(conv\d+_block\d+)_(.+)$")
_BRANCH_CONV = re.compile(rf"^(\d+){naming.CONV}$")
# What an added residual unit may hold to become an identity with F = 0: its branch, the addition, a ReLU after it.
_IDENTITY_ROLES = re.compile(rf"^([1-9]\d*({naming.CONV}|{naming.BN}|{naming.RELU})"
                             rf"|{naming.PREACTIVATION[1:]}({naming.BN}|{naming.RELU})"
                             rf"|{naming.UNIT_ADD[1:]}|{naming.UNIT_OUTPUT[1:]}|{naming.AFTER_ADDITION[1:]}{naming.RELU})$")


def _copy(layer, source):
    try:
        layer.set_weights(source.get_weights())
    except ValueError as error:
        raise KerasResnetError(f"layer {layer.name} does not take the shallow net's weights ({first_line(error)}):"
                               " grow into a net built with the same options, only deeper") from None


def _zero_branch(unit, layers):
    """F = 0: γ = β = 0 on the BatchNorm after the branch's last conv, else a zero kernel on that conv."""
    import keras

    parts = {}
    for layer in layers:
        role = _UNIT_LAYER.match(layer.name)[2]
        if not _IDENTITY_ROLES.match(role):
            raise KerasResnetError(
                f"added unit {unit} has a layer {layer.name} on its shortcut or after its addition: an added unit is an"
                " identity only with an identity shortcut and nothing but a ReLU after the addition")
        parts[role] = layer
    last = max(int(_BRANCH_CONV.match(role)[1]) for role in parts if _BRANCH_CONV.match(role))
    norm = parts.get(f"{last}{naming.BN}")
    if isinstance(norm, keras.layers.BatchNormalization):
        norm.gamma.assign(np.zeros(norm.gamma.shape, np.float32))
        norm.beta.assign(np.zeros(norm.beta.shape, np.float32))
        return "last BatchNorm γ = β = 0"
    conv = parts[f"{last}{naming.CONV}"]
    conv.set_weights([np.zeros(w.shape, np.float32) for w in conv.get_weights()])
    return "last conv kernel = 0"


def _pass_through(unit, layers):
    """Each conv the identity kernel, each BatchNorm the identity in inference mode."""
    import keras

    for layer in layers:
        if isinstance(layer, keras.layers.Conv2D):
            height, width, channels_in, channels_out = layer.kernel.shape
            if channels_in != channels_out or tuple(layer.strides) != (1, 1):
                raise KerasResnetError(f"added plain layer {layer.name} changes the shape: only units that keep it"
                                       " can start as identities")
            kernel = np.zeros((height, width, channels_in, channels_out), np.float32)
            kernel[height // 2, width // 2] = np.eye(channels_in, dtype=np.float32)
            layer.kernel.assign(kernel)
            if layer.use_bias:
                layer.bias.assign(np.zeros(layer.bias.shape, np.float32))
        elif isinstance(layer, keras.layers.BatchNormalization):
            ones = np.ones(layer.gamma.shape, np.float32)
            for variable, value in ((layer.gamma, ones), (layer.beta, 0 * ones), (layer.moving_mean, 0 * ones),
                                    (layer.moving_variance, (1.0 - layer.epsilon) * ones)):
                variable.assign(value)
        elif not isinstance(layer, keras.layers.Activation):  # ReLU passes the non-negative signal through
            raise KerasResnetError(f"added plain unit {unit} has a {type(layer).__name__} ({layer.name}): only convs"
                                   " and BatchNorm can be set to pass their input through")
    return "identity (Dirac) conv kernels, BatchNorm γ = 1, β = 0, moving mean 0, moving variance 1 - ε"


def grow_into(shallow, deep):
    """Copies ``shallow`` into ``deep`` by layer name and makes every unit only ``deep`` has an identity.

    Returns ``{added unit: how it was initialised}``. ``deep`` must be the same net with more units per stage.
    """
    import keras

    residual = any(isinstance(layer, keras.layers.Add) for layer in deep.layers)
    if residual != any(isinstance(layer, keras.layers.Add) for layer in shallow.layers):
        raise KerasResnetError(f"{shallow.name} and {deep.name} differ in kind (one has shortcuts, the other none):"
                               " grow a plain net into a plain net and a ResNet into a ResNet")
    source = {layer.name: layer for layer in shallow.layers if layer.weights}
    shallow_units = {match[1] for layer in shallow.layers if (match := _UNIT_LAYER.match(layer.name))}
    added = {}
    for layer in deep.layers:
        match = _UNIT_LAYER.match(layer.name)
        if match and match[1] not in shallow_units:
            added.setdefault(match[1], []).append(layer)
        elif layer.name in source:
            _copy(layer, source.pop(layer.name))
        elif layer.weights:
            raise KerasResnetError(f"layer {layer.name} of {deep.name} is not in {shallow.name}: grow into the same"
                                   " net with more units per stage")
    if source:
        raise KerasResnetError(f"{shallow.name} has layers {deep.name} lacks ({', '.join(sorted(source)[:3])}):"
                               " grow into the same net with more units per stage")
    return {unit: (_zero_branch if residual else _pass_through)(unit, layers) for unit, layers in added.items()}


def output_difference(first, second, images, training=False):
    """The largest absolute difference between two models' outputs on ``images`` (both left as they were)."""
    images = np.asarray(images, np.float32)
    with statistics_kept(first, second):
        return float(np.max(np.abs(np.asarray(first(images, training=training), np.float64)
                                   - np.asarray(second(images, training=training), np.float64))))
