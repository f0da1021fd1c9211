"""Small builders shared by several test files (pytest puts tests/ on sys.path)."""

import keras
import numpy as np


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
