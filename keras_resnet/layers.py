"""The one layer the residual units need that Keras lacks, for Keras 3 and tf_keras alike.

Every other piece of a unit (scaling, gating, stochastic depth, subsampling) is
built from stock layers, so saved models need nothing but this module and load
with ``safe_mode=True``.
"""

import functools
import types

PACKAGE = "keras_resnet"
DATA_FORMATS = ("channels_last", "channels_first")


def all_layers(model):
    """Every layer of ``model``, nested models' layers included, depth first."""
    for layer in getattr(model, "layers", []):
        yield layer
        yield from all_layers(layer)


def _register(keras):
    """The register-serializable decorator of the given keras module."""
    saving = getattr(keras, "saving", None)
    if saving is not None and hasattr(saving, "register_keras_serializable"):
        return saving.register_keras_serializable(package=PACKAGE)
    return keras.utils.register_keras_serializable(package=PACKAGE)


@functools.lru_cache(maxsize=None)
def custom_layers(keras):
    """Our layer classes subclassed from ``keras.layers.Layer`` of the given module."""
    register = _register(keras)
    if hasattr(keras, "ops"):  # Keras 3: backend-agnostic (TensorFlow, JAX, PyTorch)
        _pad = keras.ops.pad
    else:  # tf_keras
        import tensorflow as tf

        _pad = tf.pad

    @register
    class ZeroPadChannels(keras.layers.Layer):
        """Option-A shortcut: append zero-valued channels (no parameters) on the channel axis of ``data_format``."""

        def __init__(self, extra_channels, data_format=None, **kwargs):
            super().__init__(**kwargs)
            if int(extra_channels) < 0:
                raise ValueError("extra_channels must be >= 0")
            self.extra_channels = int(extra_channels)
            self.data_format = data_format or keras.backend.image_data_format()
            if self.data_format not in DATA_FORMATS:
                raise ValueError(f"data_format must be one of {DATA_FORMATS}, got {data_format!r}")

        @classmethod
        def from_config(cls, config):
            return cls(**{"data_format": "channels_last", **config})  # saved before it was recorded: NHWC

        def _channel_axis(self, rank):
            return 1 if self.data_format == "channels_first" else rank - 1

        def call(self, inputs):
            paddings = [[0, 0]] * 4
            paddings[self._channel_axis(4)] = [0, self.extra_channels]
            return _pad(inputs, paddings)

        def compute_output_shape(self, input_shape):
            shape = list(input_shape)
            axis = self._channel_axis(len(shape))
            if shape[axis] is not None:
                shape[axis] = shape[axis] + self.extra_channels
            return tuple(shape)

        def get_config(self):
            return {**super().get_config(), "extra_channels": self.extra_channels, "data_format": self.data_format}

    return types.SimpleNamespace(ZeroPadChannels=ZeroPadChannels)
