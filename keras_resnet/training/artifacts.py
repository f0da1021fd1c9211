"""Atomic writes for the run directory (shared with the rest of the package: ``keras_resnet.files``)."""

from keras_resnet.files import atomic_path, read_json, write_json, write_text

__all__ = ["atomic_path", "read_json", "write_json", "write_text"]
