"""Small builders shared by several test files (pytest puts tests/ on sys.path)."""

import contextlib
import functools

import keras
import numpy as np

DATA_FORMATS = ("channels_last", "channels_first")
DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def toy_npz(path, train=64, test=16, size=16, seed=0):
    """Two classes a network separates in a few steps: dark images (class 0) and bright ones (class 1)."""
    rng = np.random.default_rng(seed)

    def make(count):
        labels = np.arange(count) % 2
        images = rng.integers(0, 120, (count, size, size, 3)) + (labels * 120)[:, None, None, None]
        return images.astype(np.uint8), labels.astype(np.int32)

    (x_train, y_train), (x_test, y_test) = make(train), make(test)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return str(path)


def randomize(model, seed=0, weight_noise=0.05):
    """Random weights, BatchNorm statistics included (variances kept positive): nothing equals a fresh layer."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                               rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 1.5, variance.shape)])
        elif layer.weights:
            layer.set_weights([w + rng.normal(0, weight_noise, w.shape) for w in layer.get_weights()])


@contextlib.contextmanager
def image_data_format(data_format):
    """Keras' image data format set to ``data_format`` inside the block, the previous one restored after."""
    previous = keras.config.image_data_format()
    keras.config.set_image_data_format(data_format)
    try:
        yield
    finally:
        keras.config.set_image_data_format(previous)


def in_data_format(images, data_format):
    """NHWC ``images`` laid out for ``data_format`` (NCHW for channels_first)."""
    return np.transpose(images, (0, 3, 1, 2)) if data_format == "channels_first" else images


@functools.lru_cache(maxsize=None)
def runs_channels_first():
    """Whether the backend runs channels_first convolutions here (TensorFlow's CPU kernels are NHWC only; Keras
    works around it in the versions we use). keras.applications' tests check only shapes where it cannot."""
    with image_data_format("channels_first"):
        try:
            keras.layers.Conv2D(1, 3)(np.zeros((1, 1, 4, 4), "float32"))
        except Exception:
            return False
    return True
