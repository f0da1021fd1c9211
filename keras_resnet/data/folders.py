"""A folder of class sub-folders (``data/cat/1.jpg``), optionally split into
``train/``, ``validation/`` (or ``val/``) and ``test/`` folders of class sub-folders.

Class names are the sub-folder names, sorted; labels follow that order. Images
are loaded into memory, or with ``stream=True`` decoded once to check them and
then read from disk by the pipeline. Files with an image extension that do not
decode are bad images; other files are ignored and counted; hidden files and
folders (``.name``) are not looked at.
"""

from __future__ import annotations

import os

import numpy as np

from keras_resnet.data.containers import DatasetSplits, ImageFiles, LabeledImages
from keras_resnet.data.images import IMAGE_EXTENSIONS, decode_many, is_image_file
from keras_resnet.errors import KerasResnetError

SPLIT_FOLDERS = {"train": "train", "validation": "validation", "val": "validation", "test": "test"}


def _visible(folder: str) -> list[str]:
    return sorted(name for name in os.listdir(folder) if not name.startswith("."))


def _subfolders(folder: str) -> list[str]:
    return [name for name in _visible(folder) if os.path.isdir(os.path.join(folder, name))]


def _class_files(class_folder: str) -> tuple[list[str], int]:
    """Image paths under ``class_folder`` (recursively, sorted) and the count of other files."""
    images, ignored = [], 0
    for parent, folders, files in os.walk(class_folder):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            if is_image_file(name):
                images.append(os.path.join(parent, name))
            else:
                ignored += 1
    return images, ignored


def _scan(root: str, class_names: list[str] | None = None):
    """``(class_names, [(path, path, label)], ignored)`` for one folder of class folders."""
    entries = _visible(root)
    folders = _subfolders(root)
    if not entries:
        raise KerasResnetError(
            f"folder '{root}' is empty: put one sub-folder of images per class in it "
            f"(e.g. '{root}/cat/1.jpg')"
        )
    if not folders:
        raise KerasResnetError(
            f"folder '{root}' has no class sub-folders: put each class's images in its own "
            f"sub-folder (e.g. '{root}/cat/1.jpg')"
        )
    if class_names is not None:
        unknown = [name for name in folders if name not in class_names]
        if unknown:
            raise KerasResnetError(
                f"class folder '{os.path.join(root, unknown[0])}' is not a class of the training set "
                f"({', '.join(class_names)}): rename or remove it"
            )
    names = class_names if class_names is not None else folders
    items, ignored = [], len(entries) - len(folders)
    for name in folders:
        paths, other = _class_files(os.path.join(root, name))
        ignored += other
        if not paths:
            raise KerasResnetError(
                f"no images found in class folder '{os.path.join(root, name)}': put "
                f"{'/'.join(ext[1:] for ext in IMAGE_EXTENSIONS)} files there or remove the folder"
            )
        items.extend((path, path, names.index(name)) for path in paths)
    return names, items, ignored


def _load(root, class_names, image_size, channels, on_bad_image, stream):
    """``(class names, split, skipped, ignored)`` for one folder of class folders."""
    names, items, ignored = _scan(root, class_names)
    decoded = decode_many(
        items, image_size=image_size, channels=channels, on_bad_image=on_bad_image, keep_pixels=not stream
    )
    if not decoded.names:
        raise KerasResnetError(f"no readable images in folder '{root}': add good images")
    found = set(decoded.labels.tolist())
    empty = [name for label, name in enumerate(names) if label not in found]
    if class_names is None and empty:
        raise KerasResnetError(
            f"class folder '{os.path.join(root, empty[0])}' has no readable images: "
            "add good images or remove the folder"
        )
    files = np.array(decoded.names)
    if stream:
        split = ImageFiles(files, decoded.labels, decoded.image_shape)
    else:
        split = LabeledImages(decoded.images, decoded.labels, files)
    return names, split, decoded.skipped, ignored


def is_folder(source: str) -> bool:
    """Whether ``source`` is a folder (TFRecord folders are recognised before this)."""
    return os.path.isdir(source)


def is_split_layout(root: str) -> bool:
    """Whether ``root`` holds ``train/`` (+ ``validation/``, ``val/``, ``test/``) folders of class folders."""
    folders = _subfolders(root)
    return (
        "train" in folders
        and set(folders) <= set(SPLIT_FOLDERS)
        and bool(_subfolders(os.path.join(root, "train")))
    )


def load_folder(root: str, *, image_size=None, channels=None, on_bad_image="error",
                stream: bool = False) -> DatasetSplits:
    """Loads a class-folder tree as uint8 arrays, or with ``stream`` checks it and keeps file paths."""
    split_layout = is_split_layout(root)
    train_root = os.path.join(root, "train") if split_layout else root
    names, train, skipped, ignored = _load(train_root, None, image_size, channels, on_bad_image, stream)
    splits = {}
    for folder in _subfolders(root) if split_layout else []:
        if SPLIT_FOLDERS[folder] == "train":
            continue
        if SPLIT_FOLDERS[folder] in splits:
            raise KerasResnetError(f"folder '{root}' has both 'val' and 'validation': keep one of them")
        # Later splits take the training images' channels, and their size must match.
        _, split, more_skipped, more_ignored = _load(
            os.path.join(root, folder), names, image_size, train.image_shape[2], on_bad_image, stream
        )
        if split.image_shape != train.image_shape:
            (height, width), (train_height, train_width) = split.image_shape[:2], train.image_shape[:2]
            raise KerasResnetError(
                f"images in '{os.path.join(root, folder)}' are {width}x{height} but training images are "
                f"{train_width}x{train_height}: pass image_size (--image-size) to resize them all"
            )
        splits[SPLIT_FOLDERS[folder]] = split
        skipped += more_skipped
        ignored += more_ignored
    return DatasetSplits(
        names, train, splits.get("validation"), splits.get("test"),
        skipped_files=tuple(skipped), ignored_files=ignored, source=root,
    )
