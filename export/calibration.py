"""The representative set for full-integer quantization: stratified, deterministic, hashed.

The converter runs these images through the float model to pick each tensor's
int8/int16 range. The same images, labels, size and seed always give the same set
(and the same SHA-256, recorded in the report), so a quantized artifact can be
reproduced and audited.
"""

from __future__ import annotations

import dataclasses
import hashlib
import warnings

import numpy as np

from keras_resnet.errors import KerasResnetError

from .progress import progress_bar
from .reader import check_images, read_examples

DEFAULT_CALIBRATION_SIZE = 200
MIN_CALIBRATION_IMAGES = 20
MAX_CALIBRATION_IMAGES = 5000  # TFLite's converter needs a few hundred; the set is held in memory


@dataclasses.dataclass(frozen=True, eq=False)
class CalibrationSet:
    """uint8 images ``[N, H, W, C]`` picked from the training data, with their provenance."""

    images: np.ndarray
    indices: np.ndarray  # positions in the array they were drawn from
    sha256: str
    seed: int
    pinned_range: bool  # one pixel set to 0 and one to 255 so uint8 input keeps scale 1, zero point 0

    def __len__(self) -> int:
        return len(self.images)

    def summary(self, source: str | None = None) -> dict:
        return {"images": len(self), "sha256": self.sha256, "seed": self.seed, "stratified": True,
                "pinned_input_range": self.pinned_range, "source": source}


def stratified_sample(labels, size: int, seed: int = 0) -> np.ndarray:
    """``size`` sorted indices, each class represented in proportion to its frequency.

    Classes get their share by largest remainder, at least one image each while
    ``size`` allows; each class is shuffled by its own generator seeded with
    ``(seed, class id)``, so adding images to one class never changes another's picks.
    """
    labels = np.asarray(labels).reshape(-1)
    classes, counts = np.unique(labels, return_counts=True)
    size = min(size, len(labels))
    share = counts / counts.sum() * size
    take = np.floor(share).astype(int)
    if size >= len(classes):
        take = np.maximum(take, 1)
    take = np.minimum(take, counts)
    order = np.argsort(-(share - np.floor(share)), kind="stable")
    position = 0
    while take.sum() < size:  # hand out the remainder, largest fractional share first
        index = order[position % len(order)]
        if take[index] < counts[index]:
            take[index] += 1
        position += 1
    while take.sum() > size:  # the at-least-one rule overshot: trim the largest classes
        take[np.argmax(take)] -= 1
    chosen = []
    for class_id, count in zip(classes, take):
        members = np.flatnonzero(labels == class_id)
        order_in_class = np.random.default_rng([seed, int(class_id)]).permutation(len(members))
        chosen.append(members[order_in_class[:count]])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)


def representative_set(images, labels=None, size: int = DEFAULT_CALIBRATION_SIZE, seed: int = 0,
                       input_shape=None) -> CalibrationSet:
    """Draws the calibration images from arrays; errors when there are fewer than ``MIN_CALIBRATION_IMAGES``."""
    if input_shape is not None:
        images = check_images(images, input_shape, "calibration images")
    images = np.asarray(images)
    if labels is not None and len(labels) != len(images):
        raise KerasResnetError(
            f"{len(images)} calibration images but {len(labels)} labels: give one label per image"
        )
    indices = _pick(len(images), labels, size, seed)
    return _finish(images[indices], indices, seed)


def calibration_set(split, size: int, seed: int, input_shape, stratified: bool = True) -> CalibrationSet:
    """Draws the calibration images from a split (in memory or on disk), decoding only the ones picked:
    the same picks, pixels and SHA-256 as ``representative_set`` on the split's arrays (and labels, unless
    not ``stratified``)."""

    indices = _pick(len(split), split.labels if stratified else None, size, seed)
    images, _ = read_examples(split, input_shape, indices)
    if len(images) != len(indices):  # a streamed split skipped unreadable images among the picks
        warnings.warn(f"{len(indices) - len(images)} of the {len(indices)} calibration images were unreadable "
                      "and skipped", stacklevel=2)
        indices = indices[:len(images)]
    return _finish(images, indices, seed)


def _pick(count: int, labels, size, seed: int) -> np.ndarray:
    """Sorted indices of the calibration images among ``count``: stratified by ``labels`` when given."""
    if int(size) < MIN_CALIBRATION_IMAGES:
        raise KerasResnetError(
            f"calibration size {size} is too small: use at least {MIN_CALIBRATION_IMAGES} images "
            f"(default {DEFAULT_CALIBRATION_SIZE})"
        )
    if count < MIN_CALIBRATION_IMAGES:
        raise KerasResnetError(
            f"only {count} calibration image(s): int8/int16x8 quantization needs at least "
            f"{MIN_CALIBRATION_IMAGES}; give more training images or export float modes only"
        )
    if count < size:
        warnings.warn(f"only {count} calibration images, fewer than the {size} asked for: using all",
                      stacklevel=3)
    if labels is None:
        return np.sort(np.random.default_rng(seed).permutation(count)[: int(size)])
    return stratified_sample(labels, int(size), seed)


def _finish(chosen: np.ndarray, indices, seed: int) -> CalibrationSet:
    """The picked images with the input range pinned, hashed."""
    chosen = np.array(chosen, np.uint8)
    pinned = bool(chosen.min() > 0 or chosen.max() < 255)
    if pinned:
        # The converter takes the uint8 input's range from these images: one pixel at 0
        # and one at 255 keeps input scale 1 and zero point 0, i.e. raw pixels in.
        chosen[0, 0, 0, :] = 0
        chosen[0, -1, -1, :] = 255
    digest = hashlib.sha256(f"{chosen.shape}|uint8|".encode() + chosen.tobytes()).hexdigest()
    return CalibrationSet(chosen, np.asarray(indices), digest, int(seed), pinned)


def representative_dataset(calibration: CalibrationSet, progress: bool = False, channels: int | None = None):
    """The converter's ``representative_dataset``: one float32 batch of one image per step, with
    ``channels`` channels (default: the set's own; gray is repeated for an RGB-input graph)."""
    from keras_resnet.data.images import convert_channels

    def generate():
        with progress_bar(len(calibration), "Calibrating", progress) as bar:
            for image in calibration.images:
                image = convert_channels(image, channels or image.shape[-1])
                yield [image[np.newaxis].astype(np.float32)]
                bar.update(1)

    return generate
