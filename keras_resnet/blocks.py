"""Residual units and stems: one builder each, every variant of both papers a parameter.

A unit computes ``y = after_addition(shortcut(x) + F(x))``. The *order* says
where BatchNorm and ReLU sit around the convolutions (Identity Mappings,
Table 2 / Fig. 4), the *shortcut* what the identity path does (He et al. 2015
options A/B/C, Identity Mappings Table 1), the *block* what F is made of.
Builders take the keras module (Keras 3 or tf_keras) so one definition gives
twins with identical layer names and weight order.
"""

import dataclasses

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

SHORTCUTS = (
    "identity",  # option A: subsample + zero-pad channels, no parameters
    "projection",  # option B: 1x1 conv only where the channel count changes
    "projection_always",  # option C: 1x1 conv in every unit
    "none",  # a plain network: same layers, no shortcut, no addition
    "scaled",  # residual_scale * F + shortcut_scale * x
    "exclusive_gating",  # g * F + (1 - g) * x, g = sigmoid(1x1 conv(x))
    "shortcut_gating",  # F + (1 - g) * x
    "conv1x1",  # a 1x1 conv (no BN) on every shortcut
    "dropout",  # dropout on the shortcut
)
SHORTCUT_ALIASES = {"A": "identity", "B": "projection", "C": "projection_always", "plain": "none"}
# Table-1 variants act on the identity path; units that change the channel count project.
IDENTITY_VARIANTS = ("scaled", "exclusive_gating", "shortcut_gating", "dropout")

BLOCKS = ("basic", "bottleneck")
CONV_BIAS = ("never", "always", "unnormalized")  # unnormalized: only convs not followed by BN
BOTTLENECK_STRIDES = ("1x1", "3x3")
PROJECTION_DOWNSAMPLING = ("strided_conv", "average_pool")  # average_pool: ResNet-D
STEMS = {"imagenet": 4, "deep": 4, "cifar": 1}  # stem -> its total stride


def _choose(value, choices, what, aliases=None):
    value = (aliases or {}).get(value, value)
    if value not in choices:
        raise KerasResnetError(f"unknown {what} {value!r}: choose one of {', '.join(map(str, choices))}")
    return value


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

    def __post_init__(self):
        set_ = lambda field, value: object.__setattr__(self, field, value)  # noqa: E731
        set_("block", _choose(self.block, BLOCKS, "block kind"))
        set_("order", _choose(self.order, tuple(ORDERS), "version / activation order", VERSIONS))
        set_("shortcut", _choose(self.shortcut, SHORTCUTS, "shortcut", SHORTCUT_ALIASES))
        set_("conv_bias", _choose(self.conv_bias, CONV_BIAS, "conv_bias"))
        set_("bottleneck_stride", _choose(self.bottleneck_stride, BOTTLENECK_STRIDES, "bottleneck_stride"))
        set_("projection_downsampling",
             _choose(self.projection_downsampling, PROJECTION_DOWNSAMPLING, "projection_downsampling"))
        if int(self.expansion) < 1:
            raise KerasResnetError(f"expansion must be >= 1, got {self.expansion}")
        for field in ("squeeze_excitation", "shortcut_dropout"):
            if not 0.0 <= getattr(self, field) < 1.0:
                raise KerasResnetError(f"{field} must be in [0, 1), got {getattr(self, field)}")
        if not 0.0 < self.bn_momentum < 1.0 or self.bn_epsilon <= 0:
            raise KerasResnetError("bn_momentum must be in (0, 1) and bn_epsilon > 0")

    @property
    def preactivated(self):
        """True when BatchNorm opens each unit, so the stem and the projection skip their own."""
        return "bn" in ORDERS[self.order][0]

    def output_channels(self, filters):
        return filters * self.expansion if self.block == "bottleneck" else filters


def batch_norm(keras, x, name, options, zero_gamma=False):
    return keras.layers.BatchNormalization(
        axis=-1, momentum=options.bn_momentum, epsilon=options.bn_epsilon,
        gamma_initializer="zeros" if zero_gamma else "ones", name=name)(x)


def conv(keras, x, filters, kernel_size, stride, name, options, followed_by_bn, zero_kernel=False):
    """A conv named ``{name}_conv``; strided ones pad symmetrically (as keras.applications, torchvision)."""
    use_bias = options.conv_bias == "always" or (options.conv_bias == "unnormalized" and not followed_by_bn)
    padding = "same"
    if stride > 1 and kernel_size > 1:
        x = keras.layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
        padding = "valid"
    return keras.layers.Conv2D(
        filters, kernel_size, strides=stride, padding=padding, use_bias=use_bias,
        kernel_initializer="zeros" if zero_kernel else options.kernel_initializer,
        name=f"{name}_conv")(x)


def apply_ops(keras, x, ops, name, options, zero_gamma=False, last_name=None):
    """Apply 'bn' / 'relu' in turn, named ``{name}_bn`` / ``{name}_relu`` (the last may be renamed)."""
    for i, op in enumerate(ops):
        layer_name = last_name if (last_name and i == len(ops) - 1) else f"{name}_{op}"
        if op == "bn":
            x = batch_norm(keras, x, layer_name, options, zero_gamma)
        else:
            x = keras.layers.Activation("relu", name=layer_name)(x)
    return x


def branch_convs(options, filters, stride):
    """(kernel size, filters, stride) of each conv of the residual branch F."""
    if options.block == "basic":
        return [(3, filters, stride), (3, filters, 1)]
    on_1x1 = options.bottleneck_stride == "1x1"
    return [(1, filters, stride if on_1x1 else 1), (3, filters, 1 if on_1x1 else stride),
            (1, filters * options.expansion, 1)]


def squeeze_excitation(keras, x, ratio, name):
    """Squeeze-and-excitation: rescale channels by a gate computed from their global average."""
    channels = x.shape[-1]
    gate = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_squeeze")(x)
    gate = keras.layers.Conv2D(max(1, int(channels * ratio)), 1, activation="relu", name=f"{name}_se_reduce")(gate)
    gate = keras.layers.Conv2D(channels, 1, activation="sigmoid", name=f"{name}_se_expand")(gate)
    return keras.layers.Multiply(name=f"{name}_se_excite")([x, gate])


def _projection(keras, x, out_channels, stride, name, options, with_bn):
    if stride > 1 and options.projection_downsampling == "average_pool":
        x = keras.layers.AveragePooling2D(stride, strides=stride, padding="same", name=f"{name}_0_pool")(x)
        stride = 1
    x = conv(keras, x, out_channels, 1, stride, f"{name}_0", options, followed_by_bn=with_bn)
    return batch_norm(keras, x, f"{name}_0_bn", options) if with_bn else x


def _subsample(keras, x, stride, name):
    if stride == 1:
        return x
    return keras.layers.MaxPooling2D(1, strides=stride, name=f"{name}_0_subsample")(x)


def shortcut_path(keras, x, preactivated, out_channels, stride, name, options):
    """The shortcut of a unit whose shape may change; returns (shortcut, gate or None)."""
    kind = options.shortcut
    in_channels = x.shape[-1]
    # The projection shares the branch's pre-activation and ends like the branch does.
    projection_input = preactivated if options.preactivated else x
    with_bn = "bn" in ORDERS[options.order][1]
    if kind in ("projection_always", "conv1x1") or (kind != "identity" and in_channels != out_channels):
        return _projection(keras, projection_input, out_channels, stride, name, options,
                           with_bn=with_bn and kind != "conv1x1"), None
    shortcut = _subsample(keras, x, stride, name)
    if in_channels > out_channels:
        raise KerasResnetError(
            f"unit {name}: an identity shortcut cannot go from {in_channels} to {out_channels} channels;"
            " use shortcut='projection'")
    if in_channels < out_channels:
        shortcut = custom_layers(keras).ZeroPadChannels(out_channels - in_channels, name=f"{name}_0_zeropad")(shortcut)
    if kind == "scaled":
        shortcut = keras.layers.Rescaling(options.shortcut_scale, name=f"{name}_shortcut_scale")(shortcut)
    elif kind == "dropout":
        shortcut = keras.layers.Dropout(options.shortcut_dropout, name=f"{name}_shortcut_dropout")(shortcut)
    elif kind in ("exclusive_gating", "shortcut_gating") and stride == 1:
        gate = keras.layers.Conv2D(
            out_channels, 1, activation="sigmoid",
            bias_initializer=keras.initializers.Constant(options.gate_bias), name=f"{name}_gate_conv")(x)
        complement = keras.layers.Rescaling(-1.0, offset=1.0, name=f"{name}_gate_complement")(gate)
        shortcut = keras.layers.Multiply(name=f"{name}_gate_shortcut")([shortcut, complement])
        return shortcut, gate if kind == "exclusive_gating" else None
    return shortcut, None


def residual_unit(keras, x, filters, *, stride=1, options=UnitOptions(), name="unit", drop_rate=0.0):
    """One residual unit ``y = after_addition(shortcut(x) + F(x))``; a plain unit when shortcut='none'."""
    before, after_last, after_addition = ORDERS[options.order]
    branch_input = apply_ops(keras, x, before, f"{name}_preact", options)
    convs = branch_convs(options, filters, stride)
    y = branch_input
    for k, (kernel_size, conv_filters, conv_stride) in enumerate(convs, start=1):
        last = k == len(convs)
        ops = after_last if last else ("bn", "relu")
        zero_last = last and options.zero_init_residual
        y = conv(keras, y, conv_filters, kernel_size, conv_stride, f"{name}_{k}", options,
                 followed_by_bn="bn" in ops, zero_kernel=zero_last and "bn" not in ops)
        y = apply_ops(keras, y, ops, f"{name}_{k}", options, zero_gamma=zero_last)
    if options.squeeze_excitation:
        y = squeeze_excitation(keras, y, options.squeeze_excitation, name)
    if options.shortcut != "none":
        shortcut, gate = shortcut_path(keras, x, branch_input, options.output_channels(filters), stride, name, options)
        if gate is not None:
            y = keras.layers.Multiply(name=f"{name}_gate_residual")([y, gate])
        if options.shortcut == "scaled" and options.residual_scale != 1.0:
            y = keras.layers.Rescaling(options.residual_scale, name=f"{name}_residual_scale")(y)
        if drop_rate > 0:  # stochastic depth: drop the whole branch of a sample
            y = keras.layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}_drop_path")(y)
        y = keras.layers.Add(name=f"{name}_add" if after_addition else f"{name}_out")([shortcut, y])
    return apply_ops(keras, y, after_addition, f"{name}_post", options, last_name=f"{name}_out")


def stem(keras, x, kind, filters, options):
    """The layers before the first stage: 'imagenet' (7x7/2 + max-pool), 'deep' (ResNet-C/D), 'cifar' (3x3)."""
    kind = _choose(kind, tuple(STEMS), "stem")
    normalize = () if options.preactivated else ("bn", "relu")
    if kind == "cifar":
        x = conv(keras, x, filters, 3, 1, "conv1", options, followed_by_bn=bool(normalize))
        return apply_ops(keras, x, normalize, "conv1", options)
    if kind == "imagenet":
        x = conv(keras, x, filters, 7, 2, "conv1", options, followed_by_bn=bool(normalize))
        x = apply_ops(keras, x, normalize, "conv1", options)
    else:
        layout = [(filters // 2, 2), (filters // 2, 1), (filters, 1)]
        for i, (conv_filters, stride) in enumerate(layout, start=1):
            ops = normalize if i == len(layout) else ("bn", "relu")
            x = conv(keras, x, conv_filters, 3, stride, f"conv1_{i}", options, followed_by_bn="bn" in ops)
            x = apply_ops(keras, x, ops, f"conv1_{i}", options)
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)

