"""Class names next to every artifact: ``labels.txt`` and a JSON sidecar per ``.tflite``.

``model_int8.tflite`` gets ``model_int8.json`` (class names, mode, input/output
dtypes and quantization, calibration and verification results) and the folder a
``labels.txt`` (one name per line, the format Android/TFLite tooling reads). The
same JSON is embedded in the flatbuffer's metadata, so a lone ``.tflite`` still
names its classes.
"""

from __future__ import annotations

import os

from keras_resnet.data.labels import write_labels
from keras_resnet.errors import KerasResnetError
from keras_resnet.files import read_json, write_json

LABELS_FILE = "labels.txt"


def sidecar_path(artifact_path: str) -> str:
    """``model_int8.tflite`` -> ``model_int8.json``."""
    return os.path.splitext(os.fspath(artifact_path))[0] + ".json"


def write_sidecar(artifact_path: str, info: dict) -> str:
    """Writes the JSON sidecar of ``artifact_path`` atomically; returns its path."""
    path = sidecar_path(artifact_path)
    write_json(path, info)
    return path


def read_sidecar(artifact_path: str) -> dict | None:
    """The sidecar JSON of ``artifact_path``, or ``None`` when there is none (or it is unreadable)."""
    try:
        data = read_json(sidecar_path(artifact_path))
    except KerasResnetError:
        return None
    return data if isinstance(data, dict) else None


def write_labels_file(folder: str, class_names) -> str:
    """``folder/labels.txt`` (atomic, one name per line); returns its path."""
    path = os.path.join(folder, LABELS_FILE)
    write_labels(path, class_names)
    return path


def labels_beside(path: str) -> list[str] | None:
    """Class names from a ``labels.txt`` in the artifact's folder (or the run folder), if any."""
    from keras_resnet.data import read_labels

    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    candidate = os.path.join(folder, LABELS_FILE)
    return read_labels(candidate) if os.path.isfile(candidate) else None
