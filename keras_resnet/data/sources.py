"""``load_dataset``: every source in, one ``DatasetSplits`` out (uint8 images, int32 labels).

The sources themselves, and which options each takes, are listed in ``registry.py``.
"""

from __future__ import annotations

import dataclasses
import os
import warnings

import numpy as np

from keras_resnet.data.containers import DatasetSplits, LabeledImages, Split
from keras_resnet.data.images import check_channels, convert_channels, normalize_image_size, resize_images
from keras_resnet.data.labels import check_class_names
from keras_resnet.data.registry import load_source
from keras_resnet.data.splits import stratified_split
from keras_resnet.errors import KerasResnetError


def _conform(split: Split | None, size, channels) -> Split | None:
    """``split`` resized to ``size`` and converted to ``channels`` where given."""
    if not isinstance(split, LabeledImages):
        return split  # streamed splits are decoded to their image_shape already
    images = convert_channels(split.images, channels) if channels else split.images
    images = resize_images(images, size) if size else images
    return split if images is split.images else LabeledImages(images, split.labels, split.names)


def _check(splits: DatasetSplits) -> None:
    where = f"dataset '{splits.source}'"
    names = check_class_names(splits.class_names, where)
    if len(names) < 2:
        raise KerasResnetError(
            f"{where} has only one class ({names[0]!r}): a classifier needs at least 2; add another class"
        )
    shapes = {name: split.image_shape for name, split in splits.splits().items()}
    if len({shape[:2] for shape in shapes.values()}) > 1:
        raise KerasResnetError(
            f"splits of {where} differ in image size {shapes}: pass image_size (--image-size) to resize them"
        )
    for name, split in splits.splits().items():
        if len(split) == 0:
            raise KerasResnetError(f"the {name} split of {where} is empty: add images")
        if split.labels.max() >= len(names):
            raise KerasResnetError(
                f"{name} labels of {where} go up to {split.labels.max()} but there are only "
                f"{len(names)} class names: fix the labels or the class names"
            )


def load_dataset(source=None, *, image_size=None, channels=None, validation_split: float = 0.1,
                 seed: int = 0, on_bad_image: str = "error", data_dir=None,
                 label_offset: int = 0, stream: bool = False) -> DatasetSplits:
    """Loads ``source`` into uint8 ``[N, H, W, C]`` images and int32 labels per split.

    ``source``: ``None``/``"bundled"`` (5,000 MNIST digits shipped with the package),
    a folder of class sub-folders, a ``.npz`` file, TFRecord file(s) (file, glob or
    folder), ``"tfds:NAME"``, or ``"cifar10"``, ``"cifar100"``, ``"mnist"``,
    ``"fashion_mnist"`` (keras.datasets; these names are reserved: write ``./mnist``
    for a local folder of that name). ``image_size`` (int or ``(h, w)``) resizes,
    ``channels`` (1 or 3) converts; by default images keep their size and are RGB
    if any image is colour. A validation split is carved from train, stratified by
    class and fixed by ``seed``, unless the source has its own (``val/`` folder).
    ``on_bad_image="skip"`` leaves out unreadable images (``result.skipped_files``,
    with a warning); ``"error"`` raises naming the file. ``label_offset`` is
    subtracted from TFRecord labels (1 for ImageNet TFRecords, labelled 1..1000);
    ``data_dir`` is where TFDS keeps its data.

    Splits are uint8 arrays in memory (``LabeledImages``). ``stream=True`` (folders
    and TFRecords, for data that does not fit) keeps them on disk instead:
    folders are decoded once now to find bad images, TFRecords only have their
    labels read (their bad images are met, raised or skipped, during training,
    and they need ``image_size``); ``make_pipeline`` then decodes as it reads.
    """
    if on_bad_image not in ("error", "skip"):
        raise KerasResnetError(f"on_bad_image={on_bad_image!r} is not supported: use 'error' or 'skip'")
    if not 0.0 <= validation_split < 1.0:
        raise KerasResnetError(
            f"validation_split={validation_split} is outside [0, 1): use e.g. 0.1, or 0 for none"
        )
    if not isinstance(label_offset, (int, np.integer)) or label_offset < 0:
        raise KerasResnetError(f"label_offset={label_offset!r} must be a whole number >= 0: use 0 or 1")
    size, channels = normalize_image_size(image_size), check_channels(channels)
    source = "bundled" if source is None else os.fspath(source)
    splits = load_source(source, image_size=size, channels=channels, on_bad_image=on_bad_image,
                         data_dir=data_dir, label_offset=label_offset, stream=stream)
    if channels is None:  # one channel count for all splits: RGB if any split is colour
        channels = max(split.image_shape[2] for split in splits.splits().values())
    splits = dataclasses.replace(
        splits,
        train=_conform(splits.train, size, channels),
        validation=_conform(splits.validation, size, channels),
        test=_conform(splits.test, size, channels),
    )
    _check(splits)
    if splits.validation is None and validation_split > 0:
        kept, held_out = stratified_split(splits.train.labels, validation_split, seed)
        if len(held_out) == 0:
            raise KerasResnetError(
                f"validation_split={validation_split} leaves no validation images in '{source}' "
                "(every class has a single image): add images or use validation_split=0"
            )
        splits = dataclasses.replace(
            splits, train=splits.train.take(kept), validation=splits.train.take(held_out)
        )
    if splits.skipped_files:
        warnings.warn(
            f"skipped {splits.skipped} unreadable image(s) in '{source}', first: {splits.skipped_files[0]}",
            stacklevel=2,
        )
    return splits
