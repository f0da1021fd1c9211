"""Top-k class names for image files, through any artifact the registry loads.

    predict_files("export/model_int8.tflite", ["digit.png"], k=3)
    # [{"image": "digit.png", "predictions": [{"class": "seven", "probability": 0.98}, ...]}]
"""

from __future__ import annotations

import os

import numpy as np

from keras_resnet.errors import KerasResnetError

from .formats import load_artifact


def top_k(probabilities, class_names, k: int = 5) -> list[list[tuple[str, float]]]:
    """Per row, the ``k`` most probable ``(class name, probability)`` pairs."""
    k = max(1, min(int(k), probabilities.shape[-1]))
    order = np.argsort(-probabilities, axis=-1, kind="stable")[:, :k]
    names = class_names or [str(i) for i in range(probabilities.shape[-1])]
    return [[(names[i], float(row[i])) for i in indices] for row, indices in zip(probabilities, order)]


def predict_files(path_or_artifact, image_paths, k: int = 5, class_names=None) -> list[dict]:
    """Top-``k`` classes for image files: each decoded, converted and resized to the artifact's input.

    Undecodable files and images over ``keras_resnet.data.MAX_IMAGE_PIXELS``
    (decompression bombs) raise a one-line ``KerasResnetError`` naming the file.
    """
    if not image_paths:
        raise KerasResnetError("no images given: pass one or more image files")
    artifact = load_artifact(path_or_artifact, class_names)
    height, width, channels = artifact.input_shape
    images = np.stack([_read_image(os.fspath(path), channels, (height, width)) for path in image_paths])
    probabilities = artifact.predict(images, batch_size=min(len(images), 32))
    names = artifact.class_names
    artifact.close()
    results = []
    for path, row in zip(image_paths, top_k(probabilities, names, k)):
        results.append({"image": os.fspath(path),
                        "predictions": [{"class": name, "probability": probability} for name, probability in row]})
    return results


def _read_image(path: str, channels: int, size) -> np.ndarray:
    """One image file as the artifact's input; a one-line error for unreadable files and bombs."""
    import warnings

    from PIL import Image

    from keras_resnet.data import BadImageError, read_image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below with a clear error
            return read_image(path, channels=channels, image_size=size)
    except BadImageError as error:
        raise KerasResnetError(f"cannot read image '{path}' ({error.reason}): give a JPEG, PNG, BMP or GIF file "
                               "of sensible size") from None
