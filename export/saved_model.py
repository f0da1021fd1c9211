"""The SavedModel for serving: raw uint8 images in, probabilities and the top class out.

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

from .labels import LABELS_FILE


def write_saved_model(model, folder: str, class_names, input_shape) -> str:
    """Saves ``model`` (float32) with the serving signatures into ``folder``."""
    import tensorflow as tf

    from keras_resnet.data import write_labels

    names = list(class_names)
    with tempfile.TemporaryDirectory() as scratch:
        labels_path = os.path.join(scratch, LABELS_FILE)
        write_labels(labels_path, names)
        root = tf.Module()
        # Track the variables, not the Keras object: the graph then holds only inference.
        root.model_variables = [variable.value for variable in model.variables]
        root.labels_file = tf.saved_model.Asset(labels_path)
        table = tf.constant(names, dtype=tf.string)

        @tf.function(input_signature=[tf.TensorSpec([None, *input_shape], tf.uint8, name="images")],
                     autograph=False)
        def serve(images):
            probabilities = tf.cast(model(tf.cast(images, tf.float32), training=False), tf.float32)
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
