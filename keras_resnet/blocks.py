"""Residual units and stems: one builder each, every variant of both papers a parameter.

A unit computes ``y = after_addition(shortcut(x) + F(x))``. The *order* says
where BatchNorm and ReLU sit around the convolutions (Identity Mappings,
Table 2 / Fig. 4), the *shortcut* what the identity path does (He et al. 2015
options A/B/C, Identity Mappings Table 1: one ``SHORTCUTS`` entry each), the
*block* what F is made of. Layers are Keras 3, laid out as
``keras.config.image_data_format()`` says, and named by :mod:`keras_resnet.naming`
(the tf_keras twin for tfmot is rebuilt from a model's config:
``keras_resnet.export.tf_keras_twin``).
"""

import dataclasses
import functools

import keras

from keras_resnet import naming
from keras_resnet.errors import KerasResnetError
from keras_resnet.layers import custom_layers

# order name -> (ops before the branch, ops after its last conv, ops after the addition).
# Between two convs of a branch there is always BN then ReLU.
ORDERS = {
    "post_activation": ((), ("bn",), ("relu",)),  # (a) original, v1
    "bn_after_addition": ((), (), ("bn", "relu")),  # (b)
    "relu_before_addition": ((), ("bn", "relu"), ()),  # (c)
    "relu_preactivation": (("relu",), ("bn",), ()),  # (d)
    "full_preactivation": (("bn", "relu"), (), ()),  # (e) v2
}
VERSIONS = {"v1": "post_activation", "v2": "full_preactivation"}


def channel_axis():
    """The channel axis of image tensors: 1 under keras' 'channels_first' image data format, else -1."""
    return 1 if keras.config.image_data_format() == "channels_first" else -1


# ---------------------------------------------------------------- shortcut kinds
# Where a unit does not project, its shortcut is the identity path: x, subsampled to the unit's stride
# and zero-padded to its channels. A kind may change that path (``identity_path``: returns the new
# shortcut and a gate the branch is multiplied by, or None) and the branch of every unit (``branch``).

NEVER, WHERE_CHANNELS_CHANGE, ALWAYS = "never", "where_channels_change", "always"  # when a kind projects


def _scale_shortcut(x, shortcut, stride, name, options):
    """``shortcut_scale * x`` (Identity Mappings, Fig. 2b)."""
    return keras.layers.Rescaling(options.shortcut_scale, name=f"{name}_shortcut_scale")(shortcut), None


def _scale_branch(branch, name, options):
    """``residual_scale * F``, in every unit (left out at 1)."""
    if options.residual_scale == 1.0:
        return branch
    return keras.layers.Rescaling(options.residual_scale, name=f"{name}_residual_scale")(branch)


def _drop_shortcut(x, shortcut, stride, name, options):
    """Dropout on the shortcut (Identity Mappings, Fig. 2f)."""
    return keras.layers.Dropout(options.shortcut_dropout, name=f"{name}_shortcut_dropout")(shortcut), None


def _gate_shortcut(x, shortcut, stride, name, options, gate_branch):
    """``(1 - g) * x`` with ``g = sigmoid(1x1 conv(x) + gate_bias)``; g also gates F when ``gate_branch``."""
    if stride != 1:  # the paper gates the shortcuts of the units that keep the shape
        return shortcut, None
    gate = keras.layers.Conv2D(
        shortcut.shape[channel_axis()], 1, activation="sigmoid",
        bias_initializer=keras.initializers.Constant(options.gate_bias), name=name + naming.GATE_CONV)(x)
    complement = keras.layers.Rescaling(-1.0, offset=1.0, name=f"{name}_gate_complement")(gate)
    shortcut = keras.layers.Multiply(name=f"{name}_gate_shortcut")([shortcut, complement])
    return shortcut, gate if gate_branch else None


@dataclasses.dataclass(frozen=True)
class ShortcutKind:
    """What one kind of shortcut does: when it projects, and what it does to the identity path otherwise."""

    description: str
    projects: str = NEVER  # NEVER, WHERE_CHANNELS_CHANGE or ALWAYS: a 1x1 conv instead of the identity path
    projection_bn: bool = True  # the projection ends like the branch (with BN where the branch has one)
    plain: bool = False  # no shortcut and no addition: a plain network
    identity_path: object = None  # f(x, shortcut, stride, name, options) -> (shortcut, gate on F or None)
    branch: object = None  # f(branch, name, options) -> branch, in every unit
    gated: bool = False  # identity_path adds a 1x1 conv gate g(x) in the units that keep their shape

    def projects_here(self, in_channels, out_channels):
        """Whether a unit from ``in_channels`` to ``out_channels`` gets a projection shortcut."""
        return self.projects == ALWAYS or (self.projects == WHERE_CHANNELS_CHANGE and in_channels != out_channels)


SHORTCUTS = {
    "identity": ShortcutKind("option A: subsample + zero-pad channels, no parameters"),
    "projection": ShortcutKind("option B: 1x1 conv only where the channel count changes", WHERE_CHANNELS_CHANGE),
    "projection_always": ShortcutKind("option C: 1x1 conv in every unit", ALWAYS),
    "none": ShortcutKind("a plain network: same layers, no shortcut, no addition", plain=True),
    "scaled": ShortcutKind("residual_scale * F + shortcut_scale * x", WHERE_CHANNELS_CHANGE,
                           identity_path=_scale_shortcut, branch=_scale_branch),
    "exclusive_gating": ShortcutKind("g * F + (1 - g) * x, g = sigmoid(1x1 conv(x))", WHERE_CHANNELS_CHANGE,
                                     identity_path=functools.partial(_gate_shortcut, gate_branch=True), gated=True),
    "shortcut_gating": ShortcutKind("F + (1 - g) * x", WHERE_CHANNELS_CHANGE,
                                    identity_path=functools.partial(_gate_shortcut, gate_branch=False), gated=True),
    "conv1x1": ShortcutKind("a 1x1 conv (no BN) on every shortcut", ALWAYS, projection_bn=False),
    "dropout": ShortcutKind("dropout on the shortcut", WHERE_CHANNELS_CHANGE, identity_path=_drop_shortcut),
}
SHORTCUT_ALIASES = {"A": "identity", "B": "projection", "C": "projection_always", "plain": "none"}

BLOCKS = ("basic", "bottleneck", "one_layer")  # one_layer: F is a single conv (He et al. 2015, Sec. 3.2)
CONV_BIAS = ("never", "always", "unnormalized")  # unnormalized: only convs not followed by BN
BOTTLENECK_STRIDES = ("1x1", "3x3")
PROJECTION_DOWNSAMPLING = ("strided_conv", "average_pool")  # average_pool: ResNet-D
STEMS = {"imagenet": 4, "deep": 4, "cifar": 1}  # stem -> its total stride
# How borders are padded. Both pad strided convs symmetrically (k // 2 zeros each side) and average-pool with
# TensorFlow's 'same' (padding left out of the mean, as PyTorch's ceil_mode / count_include_pad=False).
# "keras" (keras.applications): the stem's max-pool pads with zeros. "pytorch": it pads with -inf, as PyTorch
# does; the two differ where the stem ends without ReLU (pre-activation nets), so PyTorch weights need it.
PADDINGS = ("keras", "pytorch")


def _choose(value, choices, what, aliases=None):
    value = (aliases or {}).get(value, value)
    if value not in choices:
        raise KerasResnetError(f"unknown {what} {value!r}: choose one of {', '.join(map(str, choices))}")
    return value


def shortcut_kind(shortcut):
    """The ``SHORTCUTS`` entry of a shortcut name or alias ('A', 'B', 'C', 'plain'); our error if unknown."""
    return SHORTCUTS[_choose(shortcut, tuple(SHORTCUTS), "shortcut", SHORTCUT_ALIASES)]


@dataclasses.dataclass(frozen=True)
class UnitOptions:
    """What every residual unit of one model shares."""

    block: str = "basic"
    order: str = "post_activation"
    shortcut: str = "projection"
    expansion: int = 4
    bottleneck_stride: str = "1x1"
    conv_bias: str = "never"
    projection_downsampling: str = "strided_conv"
    zero_init_residual: bool = False
    squeeze_excitation: float = 0.0
    residual_scale: float = 1.0
    shortcut_scale: float = 0.5
    gate_bias: float = -6.0
    shortcut_dropout: float = 0.5
    bn_momentum: float = 0.9
    bn_epsilon: float = 1e-5
    kernel_initializer: str = "he_normal"
    padding: str = "keras"

    def __post_init__(self):
        set_ = lambda field, value: object.__setattr__(self, field, value)  # noqa: E731
        set_("block", _choose(self.block, BLOCKS, "block kind"))
        set_("order", _choose(self.order, tuple(ORDERS), "version / activation order", VERSIONS))
        set_("shortcut", _choose(self.shortcut, tuple(SHORTCUTS), "shortcut", SHORTCUT_ALIASES))
        set_("conv_bias", _choose(self.conv_bias, CONV_BIAS, "conv_bias"))
        set_("bottleneck_stride", _choose(self.bottleneck_stride, BOTTLENECK_STRIDES, "bottleneck_stride"))
        set_("projection_downsampling",
             _choose(self.projection_downsampling, PROJECTION_DOWNSAMPLING, "projection_downsampling"))
        set_("padding", _choose(self.padding, PADDINGS, "padding"))
        if int(self.expansion) < 1:
            raise KerasResnetError(f"expansion must be >= 1, got {self.expansion}")
        for field in ("squeeze_excitation", "shortcut_dropout"):
            if not 0.0 <= getattr(self, field) < 1.0:
                raise KerasResnetError(f"{field} must be in [0, 1), got {getattr(self, field)}")
        if not 0.0 < self.bn_momentum < 1.0 or self.bn_epsilon <= 0:
            raise KerasResnetError("bn_momentum must be in (0, 1) and bn_epsilon > 0")

    @property
    def shortcut_kind(self):
        """The ``SHORTCUTS`` entry of this model's shortcut."""
        return SHORTCUTS[self.shortcut]

    @property
    def preactivated(self):
        """True when BatchNorm opens each unit, so the stem and the projection skip their own."""
        return "bn" in ORDERS[self.order][0]

    @property
    def projection_has_bn(self):
        """Whether a projection shortcut ends with BatchNorm: it ends like the branch does, unless its kind says no."""
        return self.shortcut_kind.projection_bn and "bn" in ORDERS[self.order][1]

    def output_channels(self, filters):
        return filters * self.expansion if self.block == "bottleneck" else filters

    def conv_uses_bias(self, followed_by_bn):
        """Whether a conv gets a bias under ``conv_bias`` ('unnormalized': only where no BatchNorm follows)."""
        return self.conv_bias == "always" or (self.conv_bias == "unnormalized" and not followed_by_bn)


def batch_norm(x, name, options, zero_gamma=False):
    return keras.layers.BatchNormalization(
        axis=channel_axis(), momentum=options.bn_momentum, epsilon=options.bn_epsilon,
        gamma_initializer="zeros" if zero_gamma else "ones", name=name)(x)


def conv(x, filters, kernel_size, stride, name, options, followed_by_bn, zero_kernel=False):
    """A conv named ``{name}_conv``; strided ones pad symmetrically (as keras.applications, torchvision)."""
    use_bias = options.conv_uses_bias(followed_by_bn)
    padding = "same"
    if stride > 1 and kernel_size > 1:
        x = keras.layers.ZeroPadding2D(kernel_size // 2, name=name + naming.PAD)(x)
        padding = "valid"
    return keras.layers.Conv2D(
        filters, kernel_size, strides=stride, padding=padding, use_bias=use_bias,
        kernel_initializer="zeros" if zero_kernel else options.kernel_initializer,
        name=name + naming.CONV)(x)


_OP_SUFFIXES = {"bn": naming.BN, "relu": naming.RELU}


def apply_ops(x, ops, name, options, zero_gamma=False, last_name=None):
    """Apply 'bn' / 'relu' in turn, named ``{name}_bn`` / ``{name}_relu`` (the last may be renamed)."""
    for i, op in enumerate(ops):
        layer_name = last_name if (last_name and i == len(ops) - 1) else name + _OP_SUFFIXES[op]
        if op == "bn":
            x = batch_norm(x, layer_name, options, zero_gamma)
        else:
            x = keras.layers.Activation("relu", name=layer_name)(x)
    return x


def branch_convs(options, filters, stride):
    """(kernel size, filters, stride) of each conv of the residual branch F."""
    if options.block == "basic":
        return [(3, filters, stride), (3, filters, 1)]
    if options.block == "one_layer":
        return [(3, filters, stride)]
    on_1x1 = options.bottleneck_stride == "1x1"
    return [(1, filters, stride if on_1x1 else 1), (3, filters, 1 if on_1x1 else stride),
            (1, filters * options.expansion, 1)]


def squeeze_excitation(x, ratio, name):
    """Squeeze-and-excitation: rescale channels by a gate computed from their global average."""
    channels = x.shape[channel_axis()]
    gate = keras.layers.GlobalAveragePooling2D(keepdims=True, name=name + naming.SE_SQUEEZE)(x)
    gate = keras.layers.Conv2D(max(1, int(channels * ratio)), 1, activation="relu", name=name + naming.SE_REDUCE)(gate)
    gate = keras.layers.Conv2D(channels, 1, activation="sigmoid", name=name + naming.SE_EXPAND)(gate)
    return keras.layers.Multiply(name=name + naming.SE_EXCITE)([x, gate])


def _projection(x, out_channels, stride, name, options, with_bn):
    prefix = name + naming.SHORTCUT
    if stride > 1 and options.projection_downsampling == "average_pool":
        x = keras.layers.AveragePooling2D(stride, strides=stride, padding="same", name=f"{prefix}_pool")(x)
        stride = 1
    x = conv(x, out_channels, 1, stride, prefix, options, followed_by_bn=with_bn)
    return batch_norm(x, prefix + naming.BN, options) if with_bn else x


def _identity_path(x, out_channels, stride, name):
    """x subsampled to ``stride`` and zero-padded to ``out_channels`` (option A), no parameters."""
    in_channels = x.shape[channel_axis()]
    if in_channels > out_channels:
        raise KerasResnetError(
            f"unit {name}: an identity shortcut cannot go from {in_channels} to {out_channels} channels;"
            " use shortcut='projection'")
    prefix = name + naming.SHORTCUT
    if stride > 1:
        x = keras.layers.MaxPooling2D(1, strides=stride, name=f"{prefix}_subsample")(x)
    if in_channels < out_channels:
        x = custom_layers(keras).ZeroPadChannels(out_channels - in_channels, name=f"{prefix}_zeropad")(x)
    return x


def shortcut_path(x, preactivated, out_channels, stride, name, options):
    """The shortcut of a unit whose shape may change; returns (shortcut, gate on F or None)."""
    kind = options.shortcut_kind
    if kind.projects_here(x.shape[channel_axis()], out_channels):
        # The projection shares the branch's pre-activation and ends like the branch does.
        return _projection(preactivated if options.preactivated else x, out_channels, stride, name, options,
                           options.projection_has_bn), None
    shortcut = _identity_path(x, out_channels, stride, name)
    return kind.identity_path(x, shortcut, stride, name, options) if kind.identity_path else (shortcut, None)


def residual_unit(x, filters, *, stride=1, options=UnitOptions(), name="unit", drop_rate=0.0):
    """One residual unit ``y = after_addition(shortcut(x) + F(x))``; a plain unit when shortcut='none'."""
    before, after_last, after_addition = ORDERS[options.order]
    branch_input = apply_ops(x, before, name + naming.PREACTIVATION, options)
    convs = branch_convs(options, filters, stride)
    y = branch_input
    for k, (kernel_size, conv_filters, conv_stride) in enumerate(convs, start=1):
        last = k == len(convs)
        ops = after_last if last else ("bn", "relu")
        zero_last = last and options.zero_init_residual
        y = conv(y, conv_filters, kernel_size, conv_stride, f"{name}_{k}", options,
                 followed_by_bn="bn" in ops, zero_kernel=zero_last and "bn" not in ops)
        y = apply_ops(y, ops, f"{name}_{k}", options, zero_gamma=zero_last)
    if options.squeeze_excitation:
        y = squeeze_excitation(y, options.squeeze_excitation, name)
    kind = options.shortcut_kind
    if not kind.plain:
        shortcut, gate = shortcut_path(x, branch_input, options.output_channels(filters), stride, name, options)
        if gate is not None:
            y = keras.layers.Multiply(name=f"{name}_gate_residual")([y, gate])
        if kind.branch:
            y = kind.branch(y, name, options)
        if drop_rate > 0:  # stochastic depth: drop the whole branch of a sample
            y = keras.layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}_drop_path")(y)
        y = keras.layers.Add(name=name + (naming.UNIT_ADD if after_addition else naming.UNIT_OUTPUT))([shortcut, y])
    return apply_ops(y, after_addition, name + naming.AFTER_ADDITION, options, last_name=name + naming.UNIT_OUTPUT)


def stem(x, kind, filters, options):
    """The layers before the first stage: 'imagenet' (7x7/2 + max-pool), 'deep' (ResNet-C/D), 'cifar' (3x3)."""
    kind = _choose(kind, tuple(STEMS), "stem")
    normalize = () if options.preactivated else ("bn", "relu")
    if kind == "cifar":
        x = conv(x, filters, 3, 1, naming.STEM, options, followed_by_bn=bool(normalize))
        return apply_ops(x, normalize, naming.STEM, options)
    if kind == "imagenet":
        x = conv(x, filters, 7, 2, naming.STEM, options, followed_by_bn=bool(normalize))
        x = apply_ops(x, normalize, naming.STEM, options)
    else:
        layout = [(filters // 2, 2), (filters // 2, 1), (filters, 1)]
        for i, (conv_filters, stride) in enumerate(layout, start=1):
            ops = normalize if i == len(layout) else ("bn", "relu")
            x = conv(x, conv_filters, 3, stride, f"{naming.STEM}_{i}", options, followed_by_bn="bn" in ops)
            x = apply_ops(x, ops, f"{naming.STEM}_{i}", options)
    return stem_pool(x, options)


def stem_pool(x, options):
    """The stem's 3x3/2 max-pool, padded with zeros ("keras") or, as PyTorch, with -inf ("pytorch"): a stride-1
    'same' pool (which leaves its padding out) sampled at every second position is exactly PyTorch's, any size."""
    if options.padding == "pytorch":
        x = keras.layers.MaxPooling2D(3, strides=1, padding="same", name="pool1_pool")(x)
        return keras.layers.MaxPooling2D(1, strides=2, name="pool1_subsample")(x)
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
