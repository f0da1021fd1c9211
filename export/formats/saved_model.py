"""SavedModel for serving: raw uint8 images in, probabilities and the top class out.

Signatures:

- ``serving_default(images: uint8 [batch, H, W, C])`` -> ``probabilities`` float32
  ``[batch, classes]``, ``top_class`` int32 ``[batch]``, ``top_class_name`` string ``[batch]``
- ``class_names()`` -> ``class_names`` string ``[classes]``

The class names are also an asset, ``assets/labels.txt``. The folder loads with
``tf.saved_model.load`` and ``keras.layers.TFSMLayer(path, call_endpoint="serving_default")``.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from keras_resnet.errors import KerasResnetError, first_line

from .. import labels as sidecars
from ..runtime import Artifact

NAME = "saved_model"
DESCRIPTIONS = ("a SavedModel folder",)
FOLDER = "saved_model"  # where export writes it
GRAPH_FILE = "saved_model.pb"
RELOAD_HINT = "export it again with keras-resnet export"


def recognises(source) -> bool:
    return isinstance(source, str) and os.path.isfile(os.path.join(source, GRAPH_FILE))


def load(path, class_names=None) -> SavedModelArtifact:
    return SavedModelArtifact(path, class_names)


def outputs(options) -> list[str]:
    """What ``export`` writes: one folder."""
    return [FOLDER]


def export(job) -> None:
    """``saved_model/``, verified against the Keras model (float32 tolerance)."""
    with job.stage(NAME, FOLDER, directory=True) as stage:
        with job.times.stage("saved_model write"):
            write_saved_model(job.model, stage.path, job.class_names, job.input_shape, job.rgb_input)
        artifact = SavedModelArtifact(stage.path)
        if artifact.class_names != job.class_names:
            raise KerasResnetError(f"the SavedModel's class_names signature returned {artifact.class_names[:3]}... "
                                   f"instead of {job.class_names[:3]}...; nothing was written at '{stage.final}'")
        stage.verify(artifact, "float32", label="SavedModel")


def write_saved_model(model, folder: str, class_names, input_shape, rgb_input: bool = False) -> str:
    """Saves ``model`` (float32) with the serving signatures into ``folder`` (RGB in with ``rgb_input``).

    Ours rather than Keras' ``model.export(format="tf_saved_model")``: that one serves
    float inputs only and has no class-name table or asset.
    """
    import tensorflow as tf

    from ..camera import artifact_input_shape, model_pixels

    input_shape = artifact_input_shape(input_shape, rgb_input)
    from keras_resnet.data import write_labels

    names = list(class_names)
    with tempfile.TemporaryDirectory() as scratch:
        labels_path = os.path.join(scratch, sidecars.LABELS_FILE)
        write_labels(labels_path, names)
        root = tf.Module()
        # Track the variables, not the Keras object: the graph then holds only inference.
        root.model_variables = [variable.value for variable in model.variables]
        root.labels_file = tf.saved_model.Asset(labels_path)
        table = tf.constant(names, dtype=tf.string)

        @tf.function(input_signature=[tf.TensorSpec([None, *input_shape], tf.uint8, name="images")],
                     autograph=False)
        def serve(images):
            pixels = model_pixels(tf.cast(images, tf.float32), rgb_input)
            probabilities = tf.cast(model(pixels, training=False), tf.float32)
            top_class = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
            return {"probabilities": probabilities, "top_class": top_class,
                    "top_class_name": tf.gather(table, top_class)}

        @tf.function(input_signature=[], autograph=False)
        def class_names_signature():
            return {"class_names": tf.identity(table)}

        root.serve = serve
        root.class_names = class_names_signature
        tf.saved_model.save(root, folder, signatures={"serving_default": serve,
                                                      "class_names": class_names_signature})
    return folder


class SavedModelArtifact(Artifact):
    """A SavedModel folder, run through its ``serving_default`` signature."""

    kind = NAME

    def __init__(self, path, class_names=None):
        import tensorflow as tf

        try:
            self.loaded = tf.saved_model.load(path)
        except Exception as error:
            reason = first_line(error)
            raise KerasResnetError(f"'{path}' could not be loaded as a SavedModel ({reason}): {RELOAD_HINT}") from None
        signature = self.loaded.signatures.get("serving_default")
        if signature is None:
            raise KerasResnetError(f"SavedModel '{path}' has no serving_default signature: {RELOAD_HINT}")
        specs = signature.structured_input_signature[1]
        if len(specs) != 1:
            raise KerasResnetError(f"SavedModel '{path}' takes {len(specs)} inputs: export supports one image input")
        (self._input_name, spec), = specs.items()
        shape = tuple(spec.shape[1:])
        if len(shape) != 3 or any(size is None for size in shape):
            raise KerasResnetError(f"SavedModel '{path}' takes images of shape {shape}: a fixed (H, W, C) is needed")
        self._input_dtype = spec.dtype.as_numpy_dtype
        outputs = signature.structured_outputs
        self._output_name = "probabilities" if "probabilities" in outputs else next(iter(outputs))
        self._signature = signature
        names = class_names or self._class_names() or sidecars.labels_beside(path)
        super().__init__(path, os.path.basename(os.path.normpath(path)), names, [int(s) for s in shape])

    def _class_names(self):
        function = self.loaded.signatures.get("class_names")
        if function is None:
            return None
        return [name.decode("utf-8") for name in function()["class_names"].numpy()]

    def _predict_batch(self, images):
        import tensorflow as tf

        return self._signature(**{self._input_name: tf.constant(images.astype(self._input_dtype))})[
            self._output_name].numpy()

    def latency_runner(self, threads):
        if threads is not None:
            return None  # TensorFlow fixes its thread pools at start-up
        import tensorflow as tf

        image = tf.constant(np.zeros((1, *self.input_shape), self._input_dtype))
        return lambda: self._signature(**{self._input_name: image})[self._output_name].numpy()

    def io(self):
        output = self._signature.structured_outputs[self._output_name]
        return {"input": {"name": self._input_name, "dtype": np.dtype(self._input_dtype).name,
                          "shape": [None, *self.input_shape], "quantization": None},
                "output": {"name": self._output_name, "dtype": output.dtype.name,
                           "shape": [None, output.shape[-1]], "quantization": None},
                "signatures": sorted(self.loaded.signatures)}
