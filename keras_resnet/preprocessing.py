"""Input preprocessing built into the models: raw 0-255 pixels in, what the network expects out.

The kinds (``PREPROCESSING``), the stock ``Rescaling`` layer of each, the kind a saved layer is
(``matching_preprocessing``), and the one rule for weights trained with a preprocessing of their own
(``choose_preprocessing``): the model gets the weights' preprocessing unless one is given explicitly.
"""

import warnings

import keras
import numpy as np

from keras_resnet import naming
from keras_resnet.blocks import channel_axis
from keras_resnet.errors import KerasResnetError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_RGB = (123.68, 116.779, 103.939)  # keras.applications' "caffe" means, in RGB order
PREPROCESSING = (None, "rescale", "symmetric", "standardize", "caffe")
AUTO = "auto"  # the weights' own preprocessing when they record one, else DEFAULT
DEFAULT = "rescale"


def _per_channel(value):
    """Per-channel values shaped to broadcast over the channel axis of the image data format."""
    if channel_axis() == 1 and isinstance(value, (list, tuple)):
        return [[[v]] for v in value]  # (channels, 1, 1) against (channels, height, width)
    return value


def preprocessing_layer(kind, channels, mean, std):
    """Raw 0-255 pixels in, what the network expects out; a stock Rescaling layer (no Lambda)."""
    if kind is None:
        return None
    if kind == "rescale":
        scale, offset = 1.0 / 255.0, 0.0
    elif kind == "symmetric":
        scale, offset = 1.0 / 127.5, -1.0
    elif kind == "caffe":  # RGB minus the ImageNet means; the first conv takes RGB (see keras_resnet.weights)
        mean = CAFFE_MEAN_RGB if channels == 3 else (sum(CAFFE_MEAN_RGB) / 3,) * channels
        scale, offset = 1.0, [-m for m in mean]
    else:
        if channels != len(mean):
            mean, std = (sum(mean) / len(mean),) * channels, (sum(std) / len(std),) * channels
        scale = [1.0 / (255.0 * s) for s in std]
        offset = [-m / s for m, s in zip(mean, std)]
    return keras.layers.Rescaling(_per_channel(scale), offset=_per_channel(offset), name=naming.PREPROCESSING)


def matching_preprocessing(layer, channels):
    """The ``preprocessing`` options that rebuild ``layer`` (a saved model's Rescaling, or None), or raise."""
    if layer is None:
        return {"preprocessing": None}
    if not isinstance(layer, keras.layers.Rescaling):
        raise KerasResnetError(f"the saved model's {naming.PREPROCESSING!r} layer is a {type(layer).__name__}, not"
                               " Rescaling: give a model saved by keras_resnet")

    def per_channel(value):  # a scalar, or one value per channel (shaped (channels, 1, 1) when channels_first)
        return np.broadcast_to(np.asarray(value, np.float64).reshape(-1), (channels,))

    saved = layer.get_config()
    scale, offset = per_channel(saved["scale"]), per_channel(saved["offset"])
    for kind in PREPROCESSING[1:]:
        candidate = preprocessing_layer(kind, channels, IMAGENET_MEAN, IMAGENET_STD).get_config()
        if (np.allclose(per_channel(candidate["scale"]), scale, rtol=1e-6)
                and np.allclose(per_channel(candidate["offset"]), offset, rtol=1e-6, atol=1e-9)):
            return {"preprocessing": kind}
    if np.any(scale <= 0):
        raise KerasResnetError(f"the saved model's preprocessing (scale {scale.tolist()}) is not one keras_resnet"
                               " builds: give a model saved by keras_resnet")
    std = 1.0 / (255.0 * scale)  # standardize: (x / 255 - mean) / std = x * scale + offset
    return {"preprocessing": "standardize", "pixel_mean": (-offset * std).tolist(), "pixel_std": std.tolist()}


def choose_preprocessing(given, trained_with, source):
    """The preprocessing options of a model for weights from ``source``, trained with ``trained_with`` (options,
    or None where the file does not record them).

    ``given`` "auto" takes the weights' own (their ``pixel_mean``/``pixel_std`` too), else "rescale". An explicit
    kind wins; one the weights were not trained with is said in a one-line warning.
    """
    if given == AUTO:
        return dict(trained_with) if trained_with is not None else {"preprocessing": DEFAULT}
    if given not in PREPROCESSING:
        raise KerasResnetError(f"unknown preprocessing {given!r}: choose one of {(AUTO, *PREPROCESSING)}")
    if trained_with is None:
        return {"preprocessing": given}
    if given == trained_with["preprocessing"]:
        return dict(trained_with)
    warnings.warn(f"preprocessing={given!r} overrides the preprocessing={trained_with['preprocessing']!r} the weights"
                  f" in {source} were trained with: the model will not prepare its input as they expect; leave"
                  " preprocessing out to build theirs into the model", UserWarning, stacklevel=3)
    return {"preprocessing": given}
