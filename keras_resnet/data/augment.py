"""On-graph image transforms for the input pipeline; random ones take a stateless ``seed`` [2].

Images are float32 ``[H, W, C]`` with raw 0-255 values; the models rescale inside.
"""

from __future__ import annotations

import tensorflow as tf

PAD_PIXELS = 4  # "4 pixels are padded on each side" (He et al. 2015, CIFAR-10 experiments)
CROP_SCALE = (0.08, 1.0)  # random-resized crop: fraction of the image area kept
CROP_RATIO = (3 / 4, 4 / 3)  # and the crop's aspect-ratio range


def resize(image, size):
    """Bilinear, antialiased resize to ``size`` = (height, width); a no-op if already that size."""
    if tuple(image.shape[:2]) == tuple(size):
        return image
    return tf.image.resize(image, size, antialias=True)


def pad_and_crop(image, seed, pad: int = PAD_PIXELS):
    """Zero-pads ``pad`` pixels on each side, then crops a random window of the original size."""
    padded = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
    return tf.image.stateless_random_crop(padded, tf.shape(image), seed)


def random_flip(image, seed):
    """Mirrors left-right with probability 1/2."""
    return tf.image.stateless_random_flip_left_right(image, seed)


def random_resized_crop(image, size, seed, scale=CROP_SCALE, ratio=CROP_RATIO):
    """A random crop of ``scale`` of the area and ``ratio`` aspect, resized to ``size`` (Inception-style)."""
    begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
        seed=seed,
        min_object_covered=0.0,
        aspect_ratio_range=ratio,
        area_range=scale,
        max_attempts=10,
        use_image_if_no_bounding_boxes=True,
    )
    crop = tf.slice(image, begin, crop_size)
    return tf.image.resize(crop, size, antialias=True)


def center_crop(image, fraction: float):
    """The central ``fraction`` of height and width (e.g. 0.875, the usual ImageNet evaluation crop)."""
    return tf.image.central_crop(image, fraction)
