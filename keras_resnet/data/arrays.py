"""A ``.npz`` file of arrays: ``x``/``images`` + ``y``/``labels``, or the keras.datasets
layout ``x_train, y_train, x_test, y_test``; optional ``class_names`` (string array).
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

from keras_resnet.data.containers import DatasetSplits, LabeledImages
from keras_resnet.errors import KerasResnetError, first_line

_LAYOUTS = "'x' and 'y' (or 'images' and 'labels'), or 'x_train', 'y_train', 'x_test', 'y_test'"


def _pick(archive, path: str, *keys: str):
    for key in keys:
        if key in archive.files:
            return key, archive[key]
    raise KerasResnetError(
        f"'{path}' has arrays {sorted(archive.files)} but no {' or '.join(repr(k) for k in keys)}: "
        f"save it with {_LAYOUTS} (np.savez)"
    )


def _class_names(archive, path: str) -> list[str] | None:
    if "class_names" not in archive.files:
        return None
    try:
        names = archive["class_names"]
    except ValueError:  # an object array needs pickle, which we never allow
        raise KerasResnetError(
            f"'class_names' in '{path}' is an object array: save it as strings, "
            "np.array(names, dtype=str)"
        ) from None
    if names.ndim != 1 or names.dtype.kind not in "US":
        raise KerasResnetError(
            f"'class_names' in '{path}' has shape {names.shape} and dtype {names.dtype}: "
            "save a 1-D array of strings"
        )
    return [name.decode() if isinstance(name, bytes) else str(name) for name in names]


def _split(archive, path: str, x_keys, y_keys) -> LabeledImages:
    x_key, images = _pick(archive, path, *x_keys)
    y_key, labels = _pick(archive, path, *y_keys)
    return LabeledImages.from_arrays(images, labels, f"'{path}' ({x_key}/{y_key})")


def is_npz_file(source: str) -> bool:
    """Whether ``source`` is an existing ``.npz`` file."""
    return source.lower().endswith(".npz") and os.path.isfile(source)


def load_npz(path: str) -> DatasetSplits:
    """Loads a ``.npz`` of uint8-convertible images and integer labels (never unpickles)."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise KerasResnetError(
            f"cannot read '{path}' as a .npz archive ({first_line(error)}): "
            f"save it with np.savez and {_LAYOUTS}"
        ) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise KerasResnetError(
            f"'{path}' holds a single .npy array, not a .npz archive: save it with np.savez and {_LAYOUTS}"
        )
    with archive:
        class_names = _class_names(archive, path)
        if "x_train" in archive.files or "y_train" in archive.files:
            train = _split(archive, path, ["x_train"], ["y_train"])
            has_test = "x_test" in archive.files or "y_test" in archive.files
            test = _split(archive, path, ["x_test"], ["y_test"]) if has_test else None
        else:
            train, test = _split(archive, path, ["x", "images"], ["y", "labels"]), None
    if class_names is None:
        largest = max(int(split.labels.max(initial=0)) for split in (train, test) if split is not None)
        class_names = [str(label) for label in range(largest + 1)]
    return DatasetSplits(class_names, train, test=test, source=path)
