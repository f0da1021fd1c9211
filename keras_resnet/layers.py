"""The one layer the residual units need that Keras lacks, for Keras 3 and tf_keras alike.

Every other piece of a unit (scaling, gating, stochastic depth, subsampling) is
built from stock layers, so saved models need nothing but this module and load
with ``safe_mode=True``.
"""

import functools
import types

PACKAGE = "keras_resnet"


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
        """Option-A shortcut: append zero-valued channels (no parameters)."""

        def __init__(self, extra_channels, **kwargs):
            super().__init__(**kwargs)
            if int(extra_channels) < 0:
                raise ValueError("extra_channels must be >= 0")
            self.extra_channels = int(extra_channels)

        def call(self, inputs):
            return _pad(inputs, [[0, 0], [0, 0], [0, 0], [0, self.extra_channels]])

        def compute_output_shape(self, input_shape):
            shape = list(input_shape)
            if shape[-1] is not None:
                shape[-1] = shape[-1] + self.extra_channels
            return tuple(shape)

        def get_config(self):
            return {**super().get_config(), "extra_channels": self.extra_channels}

    return types.SimpleNamespace(ZeroPadChannels=ZeroPadChannels)
