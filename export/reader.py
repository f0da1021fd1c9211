"""Images of one split, read for a model without holding the split: a few picked ones, or all a batch at a time.

    images, labels = read_examples(split, (28, 28, 1), picks)        # e.g. a stratified pick, decoded alone
    for images, labels in batches(split, (28, 28, 1), 32): ...         # the whole split, one batch in memory

Splits in memory (``LabeledImages``) are sliced. Splits on disk (``ImageFiles``, ``ImageRecords``: what
``load_dataset(..., stream=True)`` returns) are decoded through tf.data (``read_split``), only the examples
asked for. Images come out as uint8 in the model's ``(height, width, channels)``: converted and resized
(as at training) where the data differs.
"""

from __future__ import annotations

import re

import numpy as np

from keras_resnet.data.containers import ImageRecords, LabeledImages
from keras_resnet.errors import KerasResnetError, first_line


_INNER_ERROR = re.compile(r"(?:BadImageError|KerasResnetError): (.*)")


def check_images(images, input_shape, what: str) -> np.ndarray:
    """``images`` as uint8 ``[N, H, W, C]`` matching the model's ``(H, W, C)``, or a one-line error."""
    images = np.asarray(images)
    height, width, channels = input_shape
    if images.ndim == 3 and channels == 1:
        images = images[..., np.newaxis]
    if images.ndim != 4:
        raise KerasResnetError(
            f"{what} have shape {images.shape}: expected uint8 [N, {height}, {width}, {channels}] (channels last)"
        )
    if images.shape[-1] != channels:
        raise KerasResnetError(
            f"{what} have {images.shape[-1]} channel(s) but the model takes {channels}: convert them "
            f"(load_dataset(..., channels={channels}))"
        )
    if tuple(images.shape[1:3]) != (height, width):
        raise KerasResnetError(
            f"{what} are {images.shape[1]}x{images.shape[2]} but the model takes {height}x{width}: resize them "
            f"(load_dataset(..., image_size=({height}, {width})))"
        )
    if images.dtype != np.uint8:
        if not np.issubdtype(images.dtype, np.number) or images.dtype == bool or (
                images.size and (images.min() < 0 or images.max() > 255 or np.any(images != np.round(images)))):
            raise KerasResnetError(
                f"{what} have dtype {images.dtype} and values outside whole numbers 0-255: give raw uint8 "
                "pixels (the model rescales inside)"
            )
        images = images.astype(np.uint8)
    return images


def from_arrays(images, labels, shape, what: str) -> LabeledImages:
    """User arrays as a split for a model of ``shape``: images checked (``check_images``), one label each
    (``labels=None``: all 0, for images that are only run, never scored)."""
    images = check_images(images, shape, what)
    if labels is None:
        return LabeledImages(images, np.zeros(len(images), np.int32))
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(images):
        raise KerasResnetError(f"{len(images)} {what} but {len(labels)} labels: give one label per image")
    if labels.size and (labels.dtype == bool or not np.issubdtype(labels.dtype, np.number)
                        or np.any(labels != np.round(labels)) or labels.min() < 0):
        raise KerasResnetError(f"labels of the {what} must be class ids 0..K-1: give whole-number labels")
    return LabeledImages(images, labels.astype(np.int32))


def conform(images: np.ndarray, shape) -> np.ndarray:
    """uint8 ``[N, H, W, C]`` converted to ``shape``'s channels and resized to its size, where they differ."""
    from keras_resnet.data.images import convert_channels, resize_images

    height, width, channels = shape
    return resize_images(convert_channels(images, channels), (height, width))


def keeps_order(split) -> bool:
    """Whether ``split.take(indices)`` reads in the order given (TFRecords are read in file order)."""
    return not isinstance(split, ImageRecords)


def batches(split, shape, batch_size: int = 32, order=None):
    """Yields ``(uint8 images [B, H, W, C], int32 labels [B])`` of ``split`` for a model of ``shape``.

    ``order``: the example indices to read, in that order (file order for TFRecords; ``keeps_order``).
    A split on disk that holds an unreadable image raises one line naming it (unless it skips them).
    """
    if order is not None:
        split = split.take(np.asarray(order, np.int64))
    if isinstance(split, LabeledImages):
        for start in range(0, len(split), batch_size):
            yield conform(split.images[start:start + batch_size], shape), split.labels[start:start + batch_size]
        return
    import tensorflow as tf

    from keras_resnet.data import read_split

    iterator = read_split(split, batch_size).as_numpy_iterator()
    while True:
        try:
            images, labels = next(iterator)
        except StopIteration:
            return
        except tf.errors.OpError as error:
            raise KerasResnetError(_reading_error(error)) from None
        yield conform(images, shape), labels


def read_examples(split, shape, indices=None, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """The examples at ``indices`` (default: all) as arrays: for small picks (calibration, verification)."""
    images, labels = [], []
    for batch_images, batch_labels in batches(split, shape, batch_size, indices):
        images.append(batch_images)
        labels.append(batch_labels)
    if not images:
        return np.zeros((0, *shape), np.uint8), np.zeros(0, np.int32)
    return np.concatenate(images), np.concatenate(labels)


def _reading_error(error) -> str:
    """One line for an image that failed to decode inside tf.data: our own message when it carries one."""
    line = first_line(error, limit=400)
    inner = _INNER_ERROR.search(line)
    if inner:
        return inner.group(1)
    return f"reading the data failed ({line[:160]}): check or replace its files"
