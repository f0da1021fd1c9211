"""What a ResNet costs, worked out from its settings without building it: parameters, multiply-adds, depth.

Walks the structure :func:`keras_resnet.models.ResNet` builds (stem, units with their convs, projections, gates,
squeeze-excitation, BatchNorm, head) as plain arithmetic, with the builder's own tables and rules
(``branch_convs``, ``ORDERS``, ``STEMS``, ``UnitOptions``, the shortcut kinds), so listing the whole zoo takes
milliseconds instead of building ResNet-1202. ``tests/test_summary.py`` holds every figure to
:func:`keras_resnet.summary.describe` of the built model.
"""

import dataclasses

from keras_resnet.blocks import ORDERS, STEMS, UnitOptions, branch_convs
from keras_resnet.errors import KerasResnetError
from keras_resnet.models import image_dimensions, image_shape
from keras_resnet.specs import CIFAR_FILTERS, IMAGENET_DEPTHS, IMAGENET_FILTERS, cifar_units_per_stage, unit_strides

# ResNet arguments that add no parameters and no multiply-adds.
COSTLESS_ARGUMENTS = ("stochastic_depth", "preprocessing", "pixel_mean", "pixel_std", "top_dropout",
                      "classifier_activation", "weights")


def _conv_output(size, kernel_size, stride):
    """Output size of ``blocks.conv``: explicit padding of k//2 then 'valid' when strided, else 'same'."""
    if stride > 1 and kernel_size > 1:
        return (size + 2 * (kernel_size // 2) - kernel_size) // stride + 1
    return -(-size // stride)


@dataclasses.dataclass
class _Tally:
    """Running totals while walking a network; ``size`` is the current (height, width), ``channels`` its depth."""

    options: UnitOptions
    size: tuple
    channels: int
    parameters: int = 0
    non_trainable: int = 0
    multiply_adds: int = 0
    weighted_layers: int = 0

    def conv(self, filters, kernel_size, stride, followed_by_bn, main_path=True, bias=None, source=None):
        """A Conv2D on ``source`` ((size, channels); default the current tensor); returns its (size, filters)."""
        size, channels = source or (self.size, self.channels)
        size = tuple(_conv_output(s, kernel_size, stride) for s in size)
        bias = self.options.conv_uses_bias(followed_by_bn) if bias is None else bias
        self.parameters += kernel_size * kernel_size * channels * filters + (filters if bias else 0)
        self.multiply_adds += size[0] * size[1] * filters * kernel_size * kernel_size * channels
        self.weighted_layers += main_path
        return size, filters

    def ops(self, ops, channels):
        """'bn' / 'relu' ops: a BatchNorm trains gamma and beta and keeps a moving mean and variance."""
        for op in ops:
            if op == "bn":
                self.parameters += 4 * channels
                self.non_trainable += 2 * channels

    def dense(self, units, main_path=True):
        """A Dense layer (with bias) from the current channels; 1x1 convs with bias on pooled channels cost the same."""
        self.parameters += self.channels * units + units
        self.multiply_adds += self.channels * units
        self.weighted_layers += main_path
        self.channels = units


def _stem(tally, kind, filters):
    options = tally.options
    normalize = () if options.preactivated else ("bn", "relu")
    if kind in ("cifar", "imagenet"):
        layout = [(filters, 3, 1)] if kind == "cifar" else [(filters, 7, 2)]
    else:
        layout = [(filters // 2, 3, 2), (filters // 2, 3, 1), (filters, 3, 1)]
    for i, (conv_filters, kernel_size, stride) in enumerate(layout, start=1):
        ops = normalize if i == len(layout) else ("bn", "relu")
        tally.size, tally.channels = tally.conv(conv_filters, kernel_size, stride, followed_by_bn="bn" in ops)
        tally.ops(ops, tally.channels)
    if kind != "cifar":  # ZeroPadding2D(1) + MaxPooling2D(3, strides=2)
        tally.size = tuple((s + 2 - 3) // 2 + 1 for s in tally.size)


def _unit(tally, filters, stride):
    options = tally.options
    before, after_last, after_addition = ORDERS[options.order]
    unit_input = (tally.size, tally.channels)
    out_channels = options.output_channels(filters)
    tally.ops(before, tally.channels)
    convs = branch_convs(options, filters, stride)
    for k, (kernel_size, conv_filters, conv_stride) in enumerate(convs, start=1):
        ops = after_last if k == len(convs) else ("bn", "relu")
        tally.size, tally.channels = tally.conv(conv_filters, kernel_size, conv_stride, followed_by_bn="bn" in ops)
        tally.ops(ops, tally.channels)
    if options.squeeze_excitation:  # two 1x1 convs with bias on the pooled channels
        channels = tally.channels
        tally.dense(max(1, int(channels * options.squeeze_excitation)), main_path=False)
        tally.dense(channels, main_path=False)
    kind = options.shortcut_kind
    if not kind.plain:
        if kind.projects_here(unit_input[1], out_channels):
            tally.conv(out_channels, 1, stride, followed_by_bn=options.projection_has_bn, main_path=False,
                       source=unit_input)
            tally.ops(("bn",) if options.projection_has_bn else (), out_channels)
        elif unit_input[1] > out_channels:
            raise KerasResnetError(f"an identity shortcut cannot go from {unit_input[1]} to {out_channels} channels;"
                                   " use shortcut='projection'")
        elif kind.gated and stride == 1:
            tally.conv(out_channels, 1, 1, followed_by_bn=False, main_path=False, bias=True, source=unit_input)
    tally.ops(after_addition, tally.channels)


def network_costs(stage_units, stage_filters=IMAGENET_FILTERS, *, block="basic", version="v1", shortcut="projection",
                  stem_type="imagenet", stem_filters=64, stage_strides=None, downsample_unit="first",
                  input_shape=None, include_top=True, pooling=None, classes=1000, name="resnet", **unit_options):
    """``summary.describe(ResNet(...))`` for the same arguments, without building the model."""
    for argument in COSTLESS_ARGUMENTS:
        unit_options.pop(argument, None)
    options = UnitOptions(block=block, order=version, shortcut=shortcut, **unit_options)
    if stem_type not in STEMS:
        raise KerasResnetError(f"unknown stem {stem_type!r}: choose one of {', '.join(STEMS)}")
    stage_strides = [1] + [2] * (len(stage_units) - 1) if stage_strides is None else stage_strides
    if input_shape is None:
        if not include_top:
            raise KerasResnetError("costs need a fixed input size: pass input_shape with include_top=False")
        size = 224 if stem_type != "cifar" else 32
        input_shape = image_shape(size, size, 3)
    height, width, channels = image_dimensions(input_shape)
    tally = _Tally(options, (height, width), channels)
    _stem(tally, stem_type, stem_filters)
    for stage, _, stride in unit_strides(stage_units, stage_strides, downsample_unit):
        _unit(tally, stage_filters[stage], stride)
    tally.ops(ORDERS[options.order][0], tally.channels)
    if include_top:
        tally.dense(classes)
    return {
        "name": name,
        "parameters": tally.parameters,
        "trainable_parameters": tally.parameters - tally.non_trainable,
        "multiply_adds": tally.multiply_adds,
        "weighted_layers": tally.weighted_layers,
        "input_shape": list(input_shape),
    }


def entry_arguments(entry, **kwargs):
    """The ``ResNet`` arguments a zoo entry builds with (``ImageNetResNet`` / ``CifarResNet`` defaults filled in)."""
    arguments = {"version": entry.version, "name": entry.name, **entry.settings, **kwargs}
    if entry.family == "imagenet":
        block, units = IMAGENET_DEPTHS[entry.depth]
        return {"stage_units": units, "stage_filters": IMAGENET_FILTERS, "block": block, "stem_type": "imagenet",
                **arguments}
    block = arguments.get("block", "basic")
    return {"stage_units": (cifar_units_per_stage(entry.depth, block),) * 3, "stage_filters": CIFAR_FILTERS,
            "block": block, "shortcut": "identity" if block == "basic" else "projection", "classes": 10,
            "stem_type": "cifar", "stem_filters": CIFAR_FILTERS[0], **arguments}


def entry_costs(entry, **kwargs):
    """``summary.describe(entry.build(**kwargs))`` of a zoo entry, without building it."""
    return network_costs(**entry_arguments(entry, **kwargs))
