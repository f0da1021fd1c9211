"""The result types every source returns: uint8 images with int32 labels, per split."""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_resnet.errors import KerasResnetError


def _as_uint8_images(images, name: str) -> np.ndarray:
    """Images as uint8 ``[N, H, W, C]`` (C 1 or 3; RGBA drops alpha), or a one-line error."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise KerasResnetError(
            f"images in {name} have shape {images.shape}: expected [N, H, W] or "
            "[N, H, W, C] with C = 1, 3 or 4 (channels last)"
        )
    if images.shape[-1] == 4:
        images = images[..., :3]
    if images.dtype == np.uint8:
        return images
    if images.dtype == bool or not np.issubdtype(images.dtype, np.number):
        raise KerasResnetError(
            f"images in {name} have dtype {images.dtype}: store them as uint8 pixels 0-255"
        )
    if images.size and (
        np.any(images < 0) or np.any(images > 255) or np.any(images != np.round(images))
    ):
        low, high = images.min(), images.max()
        hint = " (looks scaled to 0-1: multiply by 255)" if high <= 1.0 else ""
        raise KerasResnetError(
            f"images in {name} have values {low}..{high}, not whole numbers 0-255{hint}: "
            "store them as uint8 pixels"
        )
    return images.astype(np.uint8)


def _as_int32_labels(labels, count: int, name: str) -> np.ndarray:
    """Labels as int32 ``[N]`` class ids >= 0 (``[N, 1]`` is flattened), or a one-line error."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim == 2 and labels.shape[1] > 1:
        raise KerasResnetError(
            f"labels in {name} have shape {labels.shape}, which looks one-hot: "
            "store integer class ids (labels.argmax(axis=1))"
        )
    if labels.ndim != 1:
        raise KerasResnetError(
            f"labels in {name} have shape {labels.shape}: expected one integer class id per image"
        )
    if len(labels) != count:
        raise KerasResnetError(
            f"{name} has {count} images but {len(labels)} labels: give exactly one label per image"
        )
    if labels.dtype == bool or not np.issubdtype(labels.dtype, np.number):
        raise KerasResnetError(
            f"labels in {name} have dtype {labels.dtype}: store integer class ids 0..K-1"
        )
    if labels.size and np.any(labels != np.round(labels)):
        raise KerasResnetError(f"labels in {name} are not whole numbers: store integer class ids 0..K-1")
    if labels.size and labels.min() < 0:
        raise KerasResnetError(
            f"labels in {name} include {labels.min()}: class ids must be 0..K-1 (no negatives)"
        )
    return labels.astype(np.int32)


@dataclasses.dataclass(frozen=True, eq=False)
class LabeledImages:
    """One split in memory: ``images`` uint8 ``[N, H, W, C]``, ``labels`` int32 ``[N]``.

    ``names`` (str ``[N]``) say which file (or ``file#record``) each image was read
    from, for splits loaded from files; arrays from memory or ``.npz`` have none.
    """

    images: np.ndarray
    labels: np.ndarray
    names: np.ndarray | None = None

    @classmethod
    def from_arrays(cls, images, labels, name: str = "the data") -> "LabeledImages":
        """Checks and converts user arrays; ``name`` says where they came from in errors."""
        images = _as_uint8_images(images, name)
        return cls(images, _as_int32_labels(labels, len(images), name))

    def __post_init__(self):
        if self.images.dtype != np.uint8 or self.images.ndim != 4:
            raise TypeError("LabeledImages.images must be uint8 [N, H, W, C]; use from_arrays")
        if self.labels.dtype != np.int32 or self.labels.shape != (len(self.images),):
            raise TypeError("LabeledImages.labels must be int32 [N]; use from_arrays")
        if self.names is not None and len(self.names) != len(self.labels):
            raise TypeError("LabeledImages.names must name every image")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)``."""
        return tuple(int(d) for d in self.images.shape[1:])

    def take(self, indices) -> "LabeledImages":
        """The examples at ``indices``, in that order."""
        names = None if self.names is None else self.names[indices]
        return LabeledImages(self.images[indices], self.labels[indices], names)


@dataclasses.dataclass(frozen=True, eq=False)
class ImageFiles:
    """A split left on disk (``stream=True``): one image file per example, decoded by the pipeline.

    Every file was decoded once at load to find bad images; ``image_shape`` is
    what the pipeline decodes each file to.
    """

    paths: np.ndarray  # str [N]
    labels: np.ndarray  # int32 [N]
    image_shape: tuple[int, int, int]

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def names(self) -> np.ndarray:
        """The image file of each example (as ``LabeledImages.names``)."""
        return self.paths

    def take(self, indices) -> "ImageFiles":
        return ImageFiles(self.paths[indices], self.labels[indices], self.image_shape)


@dataclasses.dataclass(frozen=True, eq=False)
class ImageRecords:
    """A split left in TFRecord files (``stream=True``): the records flagged in ``selected``.

    ``selected`` has one flag per record of ``files`` in reading order (``record_counts``
    records per file); ``labels`` are the selected records' labels in that order.
    Images are decoded by the pipeline, so a bad one is found (raised or skipped) only then.
    """

    files: tuple[str, ...]
    record_counts: tuple[int, ...]
    compression: str  # "" or "GZIP"
    selected: np.ndarray  # bool [records in files]
    labels: np.ndarray  # int32 [selected records]
    image_shape: tuple[int, int, int]
    label_offset: int = 0
    skip_bad_images: bool = False

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def names(self) -> np.ndarray:
        """``file#record`` of each selected record (record counted from 0 within its file), in order."""
        starts = np.cumsum((0, *self.record_counts))
        return np.array([
            f"{path}#{index}" for path, start, end in zip(self.files, starts, starts[1:])
            for index in np.flatnonzero(self.selected[start:end])
        ], dtype=str)

    def take(self, indices) -> "ImageRecords":
        """The given examples; records keep their file order whatever the order of ``indices``."""
        indices = np.sort(np.asarray(indices, np.int64))
        selected = np.zeros_like(self.selected)
        selected[np.flatnonzero(self.selected)[indices]] = True
        return dataclasses.replace(self, selected=selected, labels=self.labels[indices])


@dataclasses.dataclass(frozen=True, eq=False)
class DatasetSplits:
    """What ``load_dataset`` returns: class names and the train/validation/test splits.

    Splits are ``LabeledImages`` in memory, or with ``stream=True`` ``ImageFiles``
    (folders) / ``ImageRecords`` (TFRecords) that ``make_pipeline`` reads from disk.

    ``skipped_files`` are unreadable images left out with ``on_bad_image="skip"``;
    ``ignored_files`` counts files without an image extension in a folder source.
    """

    class_names: list[str]
    train: "Split"
    validation: "Split | None" = None
    test: "Split | None" = None
    skipped_files: tuple[str, ...] = ()
    ignored_files: int = 0
    source: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)`` shared by every split."""
        return self.train.image_shape

    @property
    def skipped(self) -> int:
        """How many unreadable images were skipped."""
        return len(self.skipped_files)

    def splits(self) -> dict[str, "Split"]:
        """The splits present, by name."""
        named = {"train": self.train, "validation": self.validation, "test": self.test}
        return {name: split for name, split in named.items() if split is not None}


Split = LabeledImages | ImageFiles | ImageRecords
