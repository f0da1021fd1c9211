"""The dataset shipped inside the package: 5,000 real MNIST digits (see bundled/README.md)."""

from __future__ import annotations

import os

from keras_resnet.data.arrays import load_npz
from keras_resnet.data.containers import DatasetSplits
from keras_resnet.errors import KerasResnetError

BUNDLED_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bundled", "mnist5k.npz")


def is_bundled(source: str) -> bool:
    """Whether ``source`` names the bundled set: ``"bundled"``."""
    return source == "bundled"


def load_bundled() -> DatasetSplits:
    """4,000 train and 1,000 test digits, uint8 ``[N, 28, 28, 1]``, classes "0".."9"."""
    if not os.path.exists(BUNDLED_PATH):
        raise KerasResnetError(
            f"the bundled dataset is missing at '{BUNDLED_PATH}': reinstall keras_resnet "
            "(setup.py must ship keras_resnet/data/bundled/*.npz as package data)"
        )
    splits = load_npz(BUNDLED_PATH)
    return DatasetSplits(splits.class_names, splits.train, test=splits.test, source="bundled")
