"""A fingerprint of one split, ``{"count": N, "sha256": ...}``: which examples it holds, cheaply.

Training records the fingerprint of the split it held out; export and evaluate rebuild the split
from the same data recipe and check it (``check_fingerprint``), so they grade on exactly the
images the run never trained on. Splits read from files are identified by their members, never
their pixels: the sorted ``(file, label)`` pairs (``file#record`` for TFRecords), with files
relative to the source, so the fingerprint is the same in memory or streamed, at any
``image_size``, from any working directory, and costs no decoding. Arrays (bundled, ``.npz``,
keras.datasets, tfds) have no files: their pixel bytes and labels are hashed, in order.
"""

from __future__ import annotations

import glob
import hashlib
import os

import numpy as np

from keras_resnet.data.containers import DatasetSplits
from keras_resnet.errors import KerasResnetError


def _root(source: str) -> str:
    """The folder member files are named relative to: the source folder, else the folder of its file or glob."""
    if os.path.isdir(source) and not glob.has_magic(source):
        return source
    return os.path.dirname(source) or os.curdir


def _hash_members(digest, names, labels, root: str) -> None:
    """Hashes the sorted ``(relative name, label)`` pairs; names are paths, or paths + ``#record``."""
    base = os.path.abspath(root)
    members = sorted(
        (os.path.relpath(os.path.abspath(name), base).replace(os.sep, "/"), int(label))
        for name, label in zip(names, labels)
    )
    for name, label in members:
        digest.update(f"{name}\0{label}\0".encode())


def split_fingerprint(splits: DatasetSplits, name: str) -> dict:
    """``{"count": N, "sha256": hex}`` of split ``name`` (``"train"``, ``"validation"``, ``"test"``) of ``splits``.

    The same data and recipe give the same fingerprint in any process; a file added or removed, a
    label changed, a different ``seed`` or ``validation_split`` (for a carved split) change it, and
    for arrays so does any changed pixel.
    """
    split = splits.splits().get(name)
    if split is None:
        raise KerasResnetError(
            f"dataset '{splits.source}' has no {name} split (it has {', '.join(splits.splits())}): choose one of those"
        )
    digest = hashlib.sha256()
    names = getattr(split, "names", None)
    if names is not None:
        digest.update(b"members\0")
        _hash_members(digest, names, split.labels, _root(splits.source))
    else:
        digest.update(f"pixels\0{split.images.shape}\0".encode())
        digest.update(np.ascontiguousarray(split.images).data)
        digest.update(split.labels.astype("<i4").tobytes())
    return {"count": len(split), "sha256": digest.hexdigest()}


def check_fingerprint(splits: DatasetSplits, name: str, expected: dict) -> None:
    """Raises unless split ``name`` of ``splits`` has the ``expected`` fingerprint (one recorded at training)."""
    found = split_fingerprint(splits, name)
    if found != {"count": expected.get("count"), "sha256": expected.get("sha256")}:
        raise KerasResnetError(
            f"the {name} split of '{splits.source}' is not the one the run held out ({expected.get('count')} "
            f"images, sha256 {str(expected.get('sha256'))[:12]}; now {found['count']}, {found['sha256'][:12]}): "
            "the data or its recipe changed since training; restore the data or retrain"
        )
