"""Decoding one image file the same way everywhere: training data, evaluation, prediction.

Pillow decodes JPEG, PNG, BMP and GIF (first frame) and detects truncated or
non-image files; EXIF orientation is applied (the picture as viewers show it).
Images come out as uint8 ``[H, W, 1]`` (grayscale) or ``[H, W, 3]`` (colour;
alpha is dropped). Files above ``MAX_IMAGE_PIXELS`` are refused before decoding.
"""

from __future__ import annotations

import concurrent.futures
import io
import os
from typing import NamedTuple

import numpy as np
import tensorflow as tf
from PIL import Image, ImageOps, UnidentifiedImageError

from keras_resnet.errors import KerasResnetError, first_line

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
# Pillow's own default: beyond this an image is treated as a decompression bomb.
MAX_IMAGE_PIXELS = 89_478_485
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}


class BadImageError(KerasResnetError):
    """An image file that cannot be decoded; ``on_bad_image="skip"`` leaves it out."""

    def __init__(self, name: str, reason: str):
        self.name, self.reason = name, reason
        super().__init__(
            f"cannot read image '{name}' ({reason}): replace or delete it, "
            "or load with on_bad_image='skip'"
        )


def is_image_file(path) -> bool:
    """Whether ``path`` has one of the image extensions we decode."""
    return os.fspath(path).lower().endswith(IMAGE_EXTENSIONS)


def normalize_image_size(image_size) -> tuple[int, int] | None:
    """``None``, an int or ``(height, width)`` -> ``None`` or ``(height, width)``."""
    if image_size is None:
        return None
    size = (image_size, image_size) if np.isscalar(image_size) else tuple(image_size)
    if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in size):
        raise KerasResnetError(
            f"image_size {image_size!r} is not a positive int or (height, width): use e.g. 32 or (224, 224)"
        )
    return int(size[0]), int(size[1])


def check_channels(channels) -> int | None:
    if channels not in (None, 1, 3):
        raise KerasResnetError(f"channels={channels!r} is not supported: use 1 (grayscale) or 3 (RGB)")
    return channels


def _pixels(image: Image.Image) -> np.ndarray:
    """A decoded Pillow image as uint8 ``[H, W, 1 or 3]``."""
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA" if "transparency" in image.info or image.mode == "PA" else "RGB")
        rgb = np.asarray(image)[..., :3]
        # A palette of grays (common in GIFs) is a grayscale image.
        if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]):
            return np.ascontiguousarray(rgb[..., :1])
        return rgb
    if image.mode in _GRAY_MODES:
        if image.mode.startswith("I") or image.mode == "F":
            values = np.asarray(image, dtype=np.float64)
            if image.mode.startswith("I;16") or values.max(initial=0) > 255:
                values = values / 257.0  # 16-bit: 0..65535 to 0..255
            return np.clip(np.round(values), 0, 255).astype(np.uint8)[..., np.newaxis]
        return np.asarray(image.convert("L"))[..., np.newaxis]
    return np.asarray(image.convert("RGB"))


def decode_image(source, name: str | None = None, *, min_side: int | None = None) -> np.ndarray:
    """Decodes a file path or encoded bytes to uint8 ``[H, W, 1 or 3]``; raises ``BadImageError``.

    ``min_side`` lets JPEGs decode at 1/2, 1/4 or 1/8 scale while both sides stay
    at least that long: a phone photo bound for 224x224 decodes about 10x faster.
    """
    name = name if name is not None else (os.fspath(source) if not isinstance(source, bytes) else "<bytes>")
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    width = height = 0
    try:
        # Pillow itself refuses twice its limit (and warns above it); we refuse above it.
        with Image.open(stream) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise Image.DecompressionBombError(f"{width}x{height}")
            if min_side:
                image.draft(None, (min_side, min_side))
            image.load()
            return _pixels(ImageOps.exif_transpose(image))
    except Image.DecompressionBombError as error:
        pixels = f"{width}x{height} = {width * height:,} pixels" if width else str(error).split(" exceeds")[0]
        raise BadImageError(
            name,
            f"{pixels} is over the {MAX_IMAGE_PIXELS:,}-pixel limit, a possible decompression bomb; "
            "shrink the image",
        ) from None
    except FileNotFoundError:
        raise KerasResnetError(f"no image file at '{name}': check the path") from None
    except UnidentifiedImageError:
        raise BadImageError(name, "not a JPEG, PNG, BMP or GIF image") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        reason = first_line(error)
        raise BadImageError(name, f"corrupt or truncated: {reason}") from None


LUMA_WEIGHTS = (0.2989, 0.5870, 0.1140)  # ITU-R 601 R, G, B weights of gray (TensorFlow's rgb_to_grayscale)


def convert_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """uint8 ``[..., C]`` to ``channels`` (1 or 3): gray is repeated, RGB becomes ITU-R 601 luma."""
    if images.shape[-1] == channels:
        return images
    if channels == 3:
        return np.repeat(images, 3, axis=-1)
    luma = images.astype(np.float32) @ np.array(LUMA_WEIGHTS, np.float32)
    return np.clip(np.round(luma), 0, 255).astype(np.uint8)[..., np.newaxis]


def resize_uint8(images, size):
    """Bilinear, antialiased resize of uint8 ``[H, W, C]`` or ``[N, H, W, C]``, rounded back to uint8."""
    resized = tf.image.resize(images, size, antialias=True)
    return tf.cast(tf.round(tf.clip_by_value(resized, 0, 255)), tf.uint8)


def resize_images(images: np.ndarray, size: tuple[int, int], chunk: int = 256) -> np.ndarray:
    """NumPy uint8 ``[H, W, C]`` or ``[N, H, W, C]`` through ``resize_uint8`` (a no-op at ``size``)."""
    if tuple(images.shape[-3:-1]) == tuple(size):
        return images
    if images.ndim == 3:
        return resize_images(images[np.newaxis], size, chunk)[0]
    out = np.empty((len(images), *size, images.shape[-1]), np.uint8)
    for start in range(0, len(images), chunk):
        out[start : start + chunk] = resize_uint8(images[start : start + chunk], size).numpy()
    return out


def _prepare(source, name, size, channels) -> np.ndarray:
    """Decode, convert channels, resize: what every image of a dataset goes through."""
    image = decode_image(source, name, min_side=max(size) if size else None)
    image = convert_channels(image, channels) if channels else image
    return resize_images(image, size) if size else image


def read_image(path, *, channels: int | None = None, image_size=None) -> np.ndarray:
    """One image file (or encoded bytes) as uint8 ``[H, W, C]``, decoded exactly as training images are."""
    return _prepare(path, None, normalize_image_size(image_size), check_channels(channels))


def _decode_all(items, size, channels):
    """``(name, label, image or BadImageError)`` in order, decoded on a few threads (Pillow frees the GIL)."""

    def work(item):
        name, source, label = item
        try:
            return name, label, _prepare(source, name, size, channels)
        except BadImageError as error:
            return name, label, error

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1))
    try:
        yield from pool.map(work, items)
    finally:
        pool.shutdown(cancel_futures=True)  # an early error must not wait for the rest


class Decoded(NamedTuple):
    """What ``decode_many`` found: pixels (unless only checked), labels and names of good images."""

    images: np.ndarray | None  # uint8 [N, H, W, C]; None when keep_pixels=False or nothing decoded
    labels: np.ndarray  # int32 [N]
    names: list[str]
    image_shape: tuple[int, int, int] | None
    skipped: list[str]  # "name (reason)" of bad images left out


def decode_many(items, *, image_size=None, channels=None, on_bad_image="error", keep_pixels=True) -> Decoded:
    """Decodes and checks ``(name, path_or_bytes, label)`` items.

    Without ``image_size`` all images must share one size; without ``channels``
    the result is RGB if any image is colour, else grayscale. ``keep_pixels=False``
    only checks (for ``stream=True``), so memory stays small.
    """
    size = normalize_image_size(image_size)
    check_channels(channels)
    images, labels, names, skipped, first_shape, most_channels = [], [], [], [], None, 1
    for name, label, image in _decode_all(items, size, channels):
        if isinstance(image, BadImageError):
            if on_bad_image != "skip":
                raise image
            skipped.append(f"{name} ({image.reason})")
            continue
        if first_shape is None:
            first_shape = image.shape[:2]
        elif image.shape[:2] != first_shape:
            (h0, w0), (h1, w1) = first_shape, image.shape[:2]
            raise KerasResnetError(
                f"images differ in size: '{names[0]}' is {w0}x{h0} but '{name}' is {w1}x{h1}: "
                f"pass image_size (--image-size, e.g. {max(h0, w0)}) to resize them all"
            )
        most_channels = max(most_channels, image.shape[-1])
        images.append(image if keep_pixels else None)
        labels.append(label)
        names.append(name)
    labels = np.asarray(labels, np.int32)
    if first_shape is None:
        return Decoded(None, labels, names, None, skipped)
    shape = (*first_shape, channels or most_channels)
    if not keep_pixels:
        return Decoded(None, labels, names, shape, skipped)
    stacked = np.empty((len(images), *shape), np.uint8)
    for index, image in enumerate(images):
        stacked[index] = convert_channels(image, shape[2])
    return Decoded(stacked, labels, names, shape, skipped)
