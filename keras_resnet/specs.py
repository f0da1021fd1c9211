"""Depth tables of both papers, as plain data."""

# ImageNet family (He et al. 2015, Table 1; ResNet-200 from Identity Mappings).
IMAGENET_DEPTHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
    200: ("bottleneck", (3, 24, 36, 3)),
}
IMAGENET_FILTERS = (64, 128, 256, 512)

# CIFAR family: three stages of 16/32/64 filters; 6n+2 layers with basic
# units (He et al. 2015, Sec. 4.2), 9n+2 with bottleneck units (Identity Mappings),
# 3n+2 with one-layer units (the shortcut skips one conv: He et al. 2015, Sec. 3.2).
CIFAR_FILTERS = (16, 32, 64)
CIFAR_LAYERS_PER_UNIT = {"basic": 2, "bottleneck": 3, "one_layer": 1}
CIFAR_BASIC_DEPTHS = (20, 32, 44, 56, 110, 1202)
CIFAR_BOTTLENECK_DEPTHS = (164, 1001)


def cifar_units_per_stage(depth, block):
    """n for a CIFAR net of the given depth: depth = 3 * layers_per_unit * n + 2."""
    per_unit = CIFAR_LAYERS_PER_UNIT[block]
    n, remainder = divmod(depth - 2, 3 * per_unit)
    if remainder or n < 1:
        return None
    return n


def unit_strides(stage_units, stage_strides, downsample_unit):
    """``(stage, unit, stride)`` of every unit as ``ResNet`` places the strides: on a stage's first unit, or
    (keras.applications V2, 'last') on the last unit of the stage before."""
    for stage, units in enumerate(stage_units):
        for unit in range(units):
            if downsample_unit == "first":
                yield stage, unit, stage_strides[stage] if unit == 0 else 1
                continue
            following = stage_strides[stage + 1] if stage + 1 < len(stage_strides) else 1
            stride = following if unit == units - 1 else 1
            yield stage, unit, stage_strides[0] if stage == 0 and unit == 0 and stage_strides[0] != 1 else stride
