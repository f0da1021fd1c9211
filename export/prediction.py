"""Top-k class names for image files and folders, through any artifact the registry loads.

    predict_files("export/model_int8.tflite", ["digit.png", "more_digits/"], k=3)
    # [{"image": "digit.png", "predictions": [{"class": "seven", "probability": 0.98}, ...],
    #   "adjustments": ["resized 56x56 to 28x28", "converted RGB to grayscale"]}, ...]

A folder stands for every image inside it, recursively (sorted; hidden files skipped). Each image is
decoded as training images are, then converted and resized to the artifact's input; ``adjustments``
says what was changed, so a prediction on a photo squeezed into 28x28 grayscale does not pass unnoticed.
Images are read and run a batch at a time.
"""

from __future__ import annotations

import os

import numpy as np

from keras_resnet.errors import KerasResnetError

from .checks import whole_number
from .formats import load_artifact

_CHANNEL_NAMES = {1: "grayscale", 3: "RGB"}
_ROTATED = (5, 6, 7, 8)  # EXIF orientations that swap width and height
PREDICT_BATCH = 32


def top_k(probabilities, class_names, k: int = 5) -> list[list[tuple[str, float]]]:
    """Per row, the ``k`` most probable ``(class name, probability)`` pairs."""
    k = max(1, min(int(k), probabilities.shape[-1]))
    order = np.argsort(-probabilities, axis=-1, kind="stable")[:, :k]
    names = class_names or [str(i) for i in range(probabilities.shape[-1])]
    return [[(names[i], float(row[i])) for i in indices] for row, indices in zip(probabilities, order)]


def image_files(paths) -> list[str]:
    """The image files named, each folder replaced by every image inside it (recursively, sorted)."""
    from keras_resnet.data.images import IMAGE_EXTENSIONS, is_image_file

    found = []
    for path in map(os.fspath, paths):
        if not os.path.isdir(path):
            if not os.path.exists(path):
                raise KerasResnetError(f"no image file at '{path}': check the path")
            found.append(path)
            continue
        inside = []
        for parent, folders, names in os.walk(path):
            folders[:] = sorted(name for name in folders if not name.startswith("."))
            inside += [os.path.join(parent, name) for name in sorted(names)
                       if not name.startswith(".") and is_image_file(name)]
        if not inside:
            raise KerasResnetError(f"folder '{path}' holds no images ({', '.join(IMAGE_EXTENSIONS)}): give image "
                                   "files or a folder of them")
        found += inside
    if not found:
        raise KerasResnetError("no images given: pass one or more image files or folders")
    return found


def predict_files(path_or_artifact, image_paths, k: int = 5, class_names=None) -> list[dict]:
    """Top-``k`` classes for image files and folders: each decoded, converted and resized to the artifact's input.

    Undecodable files and images over ``keras_resnet.data.MAX_IMAGE_PIXELS``
    (decompression bombs) raise a one-line ``KerasResnetError`` naming the file.
    """
    k = whole_number(k, f"top_k={k!r}: show at least 1 class (e.g. --top-k 5)", 1)
    paths = image_files(image_paths)
    artifact = load_artifact(path_or_artifact, class_names)
    height, width, channels = artifact.input_shape
    results = []
    try:
        for start in range(0, len(paths), PREDICT_BATCH):
            chunk = paths[start:start + PREDICT_BATCH]
            images, adjustments = zip(*(_read_image(path, channels, (height, width)) for path in chunk))
            probabilities = artifact.predict(np.stack(images), batch_size=len(chunk))
            for path, row, changes in zip(chunk, top_k(probabilities, artifact.class_names, k), adjustments):
                results.append({"image": path, "adjustments": changes,
                                "predictions": [{"class": name, "probability": value} for name, value in row]})
    finally:
        artifact.close()
    return results


def _channels(count: int) -> str:
    return _CHANNEL_NAMES.get(count, f"{count} channels")


def _read_image(path: str, channels: int, size) -> tuple[np.ndarray, list[str]]:
    """One image file as the artifact's input, and what was changed to fit it; one-line errors for
    unreadable files and bombs."""
    import warnings

    from PIL import Image

    from keras_resnet.data import BadImageError, decode_image
    from keras_resnet.data.images import convert_channels, resize_images

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below with a clear error
            image = decode_image(path, min_side=max(size))  # as training decodes (JPEGs at a reduced scale)
            with Image.open(path) as header:
                width, height = header.size
                if header.getexif().get(0x0112) in _ROTATED:
                    width, height = height, width
    except BadImageError as error:
        raise KerasResnetError(f"cannot read image '{path}' ({error.reason}): give a JPEG, PNG, BMP or GIF file "
                               "of sensible size") from None
    except OSError as error:
        raise KerasResnetError(f"cannot read image '{path}' ({error.strerror or error}): check the file") from None
    changes = []
    if (height, width) != tuple(size):
        changes.append(f"resized {width}x{height} to {size[1]}x{size[0]}")
    if image.shape[-1] > channels:  # colour dropped (gray repeated for an RGB input loses nothing: not said)
        changes.append(f"converted {_channels(image.shape[-1])} to {_channels(channels)}")
    return resize_images(convert_channels(image, channels), tuple(size)), changes
