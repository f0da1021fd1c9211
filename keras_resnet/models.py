"""ResNet models: one generic builder and the two papers' families (named constructors: ``applications``).

Models are Keras 3 and follow ``keras.config.image_data_format()`` as keras.applications
does: input shapes are ``(height, width, channels)``, or ``(channels, height, width)``
under "channels_first".
"""

import sys

import keras

from keras_resnet import naming
from keras_resnet.blocks import ORDERS, STEMS, UnitOptions, apply_ops, channel_axis, residual_unit, shortcut_kind, stem
from keras_resnet.errors import KerasResnetError
from keras_resnet.preprocessing import AUTO, IMAGENET_MEAN, IMAGENET_STD, choose_preprocessing, preprocessing_layer
from keras_resnet.specs import CIFAR_FILTERS, IMAGENET_DEPTHS, IMAGENET_FILTERS, cifar_units_per_stage, unit_strides
from keras_resnet.weights import read_weights_file


class InputTooSmallError(KerasResnetError):
    """An input smaller than the network's total downsampling; ``minimum`` is the least size that works."""

    def __init__(self, message, minimum):
        super().__init__(message)
        self.minimum = minimum


# Settings that reproduce reference implementations exactly (parameter counts, layer names).
KERAS_APPLICATIONS_V1 = dict(conv_bias="always", bn_epsilon=1.001e-5, bottleneck_stride="1x1")
KERAS_APPLICATIONS_V2 = dict(conv_bias="unnormalized", bn_epsilon=1.001e-5, bottleneck_stride="3x3",
                             downsample_unit="last")
TORCHVISION = dict(conv_bias="never", bn_epsilon=1e-5)


def image_shape(height, width, channels):
    """An input shape in keras' image data format: ``(height, width, channels)`` or ``(channels, height, width)``."""
    return (channels, height, width) if channel_axis() == 1 else (height, width, channels)


def image_dimensions(shape):
    """``(height, width, channels)`` of an input shape given in keras' image data format."""
    shape = tuple(shape)
    return shape[1:] + shape[:1] if channel_axis() == 1 else shape


def _image_layout():
    return "(channels, height, width)" if channel_axis() == 1 else "(height, width, channels)"


def _model_input(input_tensor, input_shape):
    if input_tensor is None:
        return keras.Input(shape=input_shape, name="image")
    if keras.backend.is_keras_tensor(input_tensor):
        return input_tensor
    return keras.Input(tensor=input_tensor, shape=input_shape, name="image")


def _resolve_input_shape(input_shape, input_tensor, default_size, include_top, min_size):
    if input_shape is None and input_tensor is not None:
        input_shape = tuple(input_tensor.shape[1:])
    if input_shape is None:
        size = default_size if include_top else None
        input_shape = image_shape(size, size, 3)
    input_shape = tuple(input_shape)
    height, width, channels = image_dimensions(input_shape) if len(input_shape) == 3 else (None, None, None)
    if channels is None or channels < 1:
        raise KerasResnetError(f"input_shape must be {_image_layout()} with channels >= 1, got {input_shape}")
    for size in (height, width):
        if size is not None and size < min_size:
            layout = f" (input_shape {input_shape} is {_image_layout()})" if channel_axis() == 1 else ""
            raise InputTooSmallError(
                f"input size {height}x{width}{layout} is too small: this network downsamples"
                f" {min_size}x, so height and width must be at least {min_size}", minimum=min_size)
    return input_shape


def ResNet(
    stage_units,
    stage_filters=IMAGENET_FILTERS,
    *,
    block="basic",
    version="v1",
    shortcut="projection",
    stem_type="imagenet",
    stem_filters=64,
    stage_strides=None,
    downsample_unit="first",
    stochastic_depth=0.0,
    preprocessing=AUTO,
    pixel_mean=IMAGENET_MEAN,
    pixel_std=IMAGENET_STD,
    top_dropout=0.0,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet",
    **unit_options,
):
    """Any ResNet: ``stage_units[i]`` units of ``stage_filters[i]`` filters per stage.

    ``unit_options`` go to :class:`keras_resnet.blocks.UnitOptions` (``expansion``,
    ``bottleneck_stride``, ``conv_bias``, ``zero_init_residual``, ``squeeze_excitation``,
    ``projection_downsampling``, ``bn_momentum`` ...). ``version`` is 'v1', 'v2' or any
    activation order of Identity Mappings Table 2. The keras.applications arguments
    (``include_top`` ... ``classifier_activation``) behave as there, ``keras.config.image_data_format()``
    included. The model takes raw 0-255 pixels unless ``preprocessing=None``: ``preprocessing="auto"`` builds in
    the preprocessing the ``weights`` file was trained with (keras.applications' files, our ``.keras``), else
    "rescale"; an explicit one wins (see :func:`keras_resnet.preprocessing.choose_preprocessing`).
    PyTorch weights (``timm:NAME``, ``hf-hub:ORG/NAME``, a ``.safetensors`` / ``.pth`` / ``.bin`` state dict: see
    :mod:`keras_resnet.pytorch_weights`) set the unit options they need that are not given (``padding="pytorch"``
    ...); ``build_model`` sets the rest (stem, shortcut). A head of another class count than theirs starts anew.
    """
    if weights == "imagenet":
        raise KerasResnetError("weights='imagenet' needs a named model: use ResNet50/101/152 or their V2"
                               " (or build_model('resnet50', weights='imagenet'))")
    weights_file = read_weights_file(weights) if weights is not None else None  # it decides the preprocessing
    if weights_file is not None:
        _take_options(weights_file, unit_options, stem_type=stem_type, stem_filters=stem_filters,
                      downsample_unit=downsample_unit)
    try:
        options = UnitOptions(block=block, order=version, shortcut=shortcut, **unit_options)
    except TypeError as error:
        raise KerasResnetError(f"unknown model option: {error}; see help(keras_resnet.ResNet)") from None
    stage_units, stage_filters = list(stage_units), list(stage_filters)
    if not stage_units or len(stage_units) != len(stage_filters):
        raise KerasResnetError(
            f"stage_units {stage_units} and stage_filters {stage_filters} must be non-empty and of equal length")
    if any(int(n) < 1 for n in stage_units):
        raise KerasResnetError(f"every stage needs at least one unit, got stage_units={stage_units}")
    if any(int(f) < 1 for f in stage_filters) or int(stem_filters) < 1:
        raise KerasResnetError(
            f"filter counts must be positive, got stage_filters={stage_filters}, stem_filters={stem_filters}")
    if stem_type not in STEMS:
        raise KerasResnetError(f"unknown stem {stem_type!r}: choose one of {', '.join(STEMS)}")
    if stage_strides is None:
        stage_strides = [1] + [2] * (len(stage_units) - 1)
    if len(stage_strides) != len(stage_units):
        raise KerasResnetError(f"stage_strides {stage_strides} must have one entry per stage")
    if downsample_unit not in ("first", "last"):
        raise KerasResnetError(f"unknown downsample_unit {downsample_unit!r}: choose 'first' or 'last'")
    if not 0.0 <= stochastic_depth < 1.0 or not 0.0 <= top_dropout < 1.0:
        raise KerasResnetError("stochastic_depth and top_dropout must be in [0, 1)")
    if pooling not in (None, "avg", "max"):
        raise KerasResnetError(f"unknown pooling {pooling!r}: choose None, 'avg' or 'max'")
    if include_top and int(classes) < 1:
        raise KerasResnetError(f"classes must be >= 1, got {classes}")
    chosen = choose_preprocessing(preprocessing, weights_file.trained_with if weights_file else None,
                                  f"'{weights_file.path if weights_file else None}'")

    total_stride = STEMS[stem_type]
    for s in stage_strides:
        total_stride *= s
    default_size = 224 if stem_type != "cifar" else 32
    input_shape = _resolve_input_shape(input_shape, input_tensor, default_size, include_top, total_stride)

    inputs = _model_input(input_tensor, input_shape)
    x = inputs
    preprocess = preprocessing_layer(chosen["preprocessing"], image_dimensions(input_shape)[2],
                                     chosen.get("pixel_mean", pixel_mean), chosen.get("pixel_std", pixel_std))
    if preprocess is not None:
        x = preprocess(x)
    x = stem(x, stem_type, stem_filters, options)

    total_units = sum(stage_units)
    for unit_index, (stage, unit, stride) in enumerate(unit_strides(stage_units, stage_strides, downsample_unit)):
        drop_rate = stochastic_depth * unit_index / max(1, total_units - 1)
        x = residual_unit(x, stage_filters[stage], stride=stride, options=options,
                          name=naming.unit_name(stage + 2, unit + 1), drop_rate=drop_rate)
    x = apply_ops(x, ORDERS[options.order][0], naming.FINAL_ACTIVATION, options)

    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name=naming.AVERAGE_POOL)(x)
        if top_dropout:
            x = keras.layers.Dropout(top_dropout, name=naming.TOP_DROPOUT)(x)
        x = keras.layers.Dense(classes, activation=classifier_activation, dtype="float32",
                               name=naming.PREDICTIONS)(x)
    elif pooling == "avg":
        x = keras.layers.GlobalAveragePooling2D(name=naming.AVERAGE_POOL)(x)
    elif pooling == "max":
        x = keras.layers.GlobalMaxPooling2D(name=naming.MAX_POOL)(x)

    # Keras walks the layer graph recursively (build, save, load): ResNet-1001/1202 need more room.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))
    model_inputs = keras.utils.get_source_inputs(input_tensor) if input_tensor is not None else inputs
    model = keras.Model(model_inputs, x, name=name)
    if weights_file is not None:
        weights_file.load_into(model, chosen["preprocessing"])
    return model


def _take_options(weights_file, unit_options, **given):
    """Sets the unit options ``weights_file`` needs that ``unit_options`` lacks (in place); a given option, or a
    builder argument in ``given``, that contradicts them is an error (shapes would not always tell)."""
    for key, needed in weights_file.model_options.items():
        value = given[key] if key in given else unit_options.setdefault(key, needed)
        if value != needed:
            raise KerasResnetError(f"the weights {weights_file.path} need {key}={needed!r}, not {value!r}: leave"
                                   f" {key} out (build_model sets what they need)")


def ImageNetResNet(depth=50, version="v1", **kwargs):
    """ResNet-18/34/50/101/152/200 of He et al. (2015) with a 7x7 stem and four stages."""
    if depth not in IMAGENET_DEPTHS:
        raise KerasResnetError(
            f"unknown ImageNet ResNet depth {depth}: choose one of {', '.join(map(str, IMAGENET_DEPTHS))}")
    block, units = IMAGENET_DEPTHS[depth]
    kwargs.setdefault("name", f"resnet{depth}{'' if version == 'v1' else version}")
    kwargs.setdefault("stem_type", "imagenet")
    return ResNet(units, IMAGENET_FILTERS, block=block, version=version, **kwargs)


def CifarResNet(depth=20, version="v1", block="basic", **kwargs):
    """The CIFAR nets: 3x3 stem, three stages of 16/32/64 filters, depth 6n+2 (basic), 9n+2 (bottleneck) or
    3n+2 (one_layer: units whose shortcut skips a single conv)."""
    rules = {"basic": "6n+2 (20, 32, 44, 56, 110, 1202 ...)", "bottleneck": "9n+2 (164, 1001 ...)",
             "one_layer": "3n+2 (20, 56, 110 ...)"}
    if block not in rules:
        raise KerasResnetError(f"unknown block kind {block!r}: choose one of {', '.join(rules)}")
    n = cifar_units_per_stage(depth, block)
    if n is None:
        raise KerasResnetError(f"CIFAR ResNet depth {depth} is not {rules[block]} for {block} units: pick such a"
                               " depth")
    kwargs.setdefault("shortcut", "projection" if block == "bottleneck" else "identity")
    kwargs.setdefault("classes", 10)
    kwargs.setdefault("name", f"{'plain' if shortcut_kind(kwargs['shortcut']).plain else 'resnet'}{depth}"
                              f"{'' if version == 'v1' else version}")
    kwargs.setdefault("stem_type", "cifar")
    kwargs.setdefault("stem_filters", CIFAR_FILTERS[0])
    return ResNet((n,) * 3, CIFAR_FILTERS, block=block, version=version, **kwargs)
