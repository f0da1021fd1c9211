"""Camera-ready input: artifacts of a grayscale model that take RGB frames and make them gray inside.

Camera pipelines and MediaPipe Tasks deliver 3-channel images. With ``rgb_input``
(the default for 1-channel models) every artifact's input is ``[N, H, W, 3]`` and
its graph turns the frame into the model's one channel with the ITU-R 601 luma
weights the data loader uses (``data.images.LUMA_WEIGHTS``, scaled to sum to 1 so a
gray frame passes through unchanged). Images given to an artifact with the other
channel count are converted the same way on the host (``Artifact.predict``).
"""

from __future__ import annotations

import numpy as np

from keras_resnet.data.images import LUMA_WEIGHTS
from keras_resnet.errors import KerasResnetError

_WEIGHTS = np.array(LUMA_WEIGHTS, np.float32) / np.float32(sum(LUMA_WEIGHTS))


def resolve_rgb_input(rgb_input, model_channels: int) -> bool:
    """Whether artifacts take RGB and convert inside: ``None`` means yes for 1-channel models."""
    if model_channels == 3:
        return False  # the model takes RGB already
    if model_channels != 1:
        if rgb_input:
            raise KerasResnetError(f"rgb_input needs a 1- or 3-channel model, not {model_channels} channels: "
                                   "drop --rgb-input")
        return False
    return True if rgb_input is None else bool(rgb_input)


def artifact_input_shape(model_shape, rgb_input: bool) -> tuple:
    """``(H, W, C)`` of the artifacts' input: 3 channels with ``rgb_input``, else the model's."""
    height, width, channels = model_shape
    return (height, width, 3) if rgb_input else (height, width, channels)


def model_pixels(images, rgb_input: bool):
    """Float pixels ``[N, H, W, 3]`` as the model's one gray channel (inside a graph); unchanged otherwise."""
    if not rgb_input:
        return images
    from keras import ops

    # A 1x1 convolution: the one op every TFLite mode quantizes well (a SUM over channels breaks int16x8).
    kernel = ops.convert_to_tensor(_WEIGHTS.reshape(1, 1, 3, 1), images.dtype)
    return ops.conv(images, kernel, padding="valid")


def rgb_input_model(model):
    """A Keras model that takes RGB frames and feeds ``model`` (1 channel) their gray values."""
    import keras

    height, width, _ = model.input_shape[1:]
    frames = keras.Input((height, width, 3), name="image")
    gray = keras.layers.Lambda(lambda images: model_pixels(images, True), name="rgb_to_gray")(frames)
    return keras.Model(frames, model(gray), name=model.name)
