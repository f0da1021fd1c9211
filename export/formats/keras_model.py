"""The Keras model itself: a model object, a ``.keras`` file or a training run folder.

It is the float reference every other artifact is verified and graded against, so
export reads it (``source``) but never writes it: ``export`` is ``None``.
"""

from __future__ import annotations

import os

import numpy as np

from keras_resnet.run_directory import MODEL_FILE as RUN_MODEL_FILE
from keras_resnet.run_directory import is_run_dir

from .. import labels as sidecars
from ..runtime import Artifact
from ..source import input_shape as model_input_shape

NAME = "keras"
DESCRIPTIONS = ("a .keras file", "a training run folder")
SUFFIXES = (".keras", ".h5", ".hdf5")
export = None  # the source of an export, not one of its artifacts


def recognises(source) -> bool:
    """A keras.Model object, a run folder, or a path ending in ``.keras``/``.h5``."""
    if not isinstance(source, str):
        import keras

        return isinstance(source, keras.Model)
    return is_run_dir(source) if os.path.isdir(source) else source.lower().endswith(SUFFIXES)


def load(source, class_names=None) -> KerasArtifact:
    if isinstance(source, str):
        return KerasArtifact.from_path(source, class_names)
    return KerasArtifact(source, class_names=class_names)


class KerasArtifact(Artifact):
    """A Keras model object, ``.keras`` file or run folder, run through a compiled ``tf.function``."""

    kind = NAME

    def __init__(self, model, path=None, name=None, class_names=None):
        import tensorflow as tf

        self.model = model
        shape = model_input_shape(model)
        super().__init__(path, name or (os.path.basename(path) if path else f"{model.name} (in memory)"),
                         class_names, shape)
        self._call = tf.function(lambda images: model(images, training=False), reduce_retracing=True)

    @classmethod
    def from_path(cls, path, class_names=None):
        from ..source import load_keras_model

        model_path = os.path.join(path, RUN_MODEL_FILE) if is_run_dir(path) else path
        model = load_keras_model(model_path)
        names = class_names or sidecars.labels_beside(model_path)
        return cls(model, model_path, os.path.basename(model_path) if not is_run_dir(path) else
                   os.path.join(os.path.basename(os.path.normpath(path)), RUN_MODEL_FILE), names)

    def _predict_batch(self, images):
        return self._call(images.astype(np.float32)).numpy()

    def latency_runner(self, threads):
        if threads is not None:
            return None  # TensorFlow fixes its thread pools at start-up
        image = np.zeros((1, *self.input_shape), np.float32)
        self._call(image)
        return lambda: self._call(image).numpy()

    def io(self):
        policy = getattr(self.model, "dtype_policy", None)
        return {"input": {"name": self.model.inputs[0].name, "dtype": "float32",
                          "shape": [None, *self.input_shape], "quantization": None},
                "output": {"name": "probabilities", "dtype": "float32",
                           "shape": [None, int(self.model.outputs[0].shape[-1])], "quantization": None},
                "dtype_policy": policy.name if policy is not None else None}
