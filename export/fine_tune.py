"""Short fine-tuning of a tf_keras model (QAT, pruning, clustering) on raw uint8 training images.

Shared by ``qat``, ``pruning`` and ``clustering``: checks the options, feeds the
images as float32 raw pixels (the model rescales inside), shuffles with a fixed
seed (no global seed is touched), and shows Keras progress bars when asked.
"""

from __future__ import annotations

import numpy as np

from keras_resnet.errors import KerasResnetError

from .checks import as_number

DEFAULT_BATCH_SIZE = 32
MAX_EPOCHS = 1000  # fine-tuning adapts a trained model: more than this is retraining, and a typo
MAX_BATCH_SIZE = 4096


def check_epochs(epochs, option: str = "--qat-epochs") -> int:
    """A whole number of epochs, 1 to ``MAX_EPOCHS``, or a one-line error naming the option."""
    if (isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer))
            or not 1 <= int(epochs) <= MAX_EPOCHS):
        raise KerasResnetError(f"{option} {epochs!r}: give a whole number of fine-tuning epochs, 1 to {MAX_EPOCHS} "
                               f"(e.g. {option} 1)")
    return int(epochs)


def check_learning_rate(learning_rate, option: str = "--qat-learning-rate") -> float:
    value = as_number(learning_rate)
    if not 0.0 < value < 1.0:
        raise KerasResnetError(f"{option} {learning_rate!r}: give a small positive learning rate (e.g. 1e-4)")
    return value


def check_training_data(images, labels, input_shape, classes: int, what: str):
    """uint8 images and integer labels, one per image, within the model's classes."""
    from .reader import check_images

    if images is None or labels is None:
        raise KerasResnetError(f"{what} needs labelled training images: pass --data SOURCE (e.g. bundled, or "
                               "your training folder), or calibration_images and calibration_labels")
    images = check_images(images, input_shape, "training images")
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(images):
        raise KerasResnetError(f"{len(images)} training images but {len(labels)} labels: give one label per image")
    if not len(labels):
        raise KerasResnetError(f"{what} got no training images: give the training split (--data)")
    if labels.min() < 0 or labels.max() >= classes:
        raise KerasResnetError(f"training labels run from {labels.min()} to {labels.max()} but the model predicts "
                               f"{classes} classes: fine-tune on the data the model was trained on")
    return images, labels.astype(np.int64)


def outputs_logits(model) -> bool:
    """Whether a (not yet wrapped) model's last layer outputs logits rather than softmax probabilities."""
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    name = getattr(activation, "__name__", str(activation))
    return "softmax" not in name and last.__class__.__name__ != "Softmax"


def as_float32(images, labels):
    """uint8 pixels as float32 raw values 0-255 (the model's Rescaling layer scales them)."""
    import tensorflow as tf

    return tf.cast(images, tf.float32), labels


SCHEDULES = ("constant", "cosine")


def fine_tune(model, images, labels, *, epochs: int, learning_rate: float, from_logits: bool = False,
              batch_size: int = DEFAULT_BATCH_SIZE, callbacks=(), seed: int = 0, progress: bool = True,
              label: str = "Fine-tuning", schedule: str = "constant"):
    """Compiles ``model`` (tf_keras, Adam at ``learning_rate``) and fits it; returns the history dict.

    ``from_logits``: the model outputs logits (``outputs_logits`` of the model before tfmot wrapped it).
    ``schedule``: ``"constant"``, or ``"cosine"`` (from ``learning_rate`` down to 0 over all the steps).
    """
    import math
    import sys

    import tensorflow as tf

    from .tfmot_env import tf_keras

    if schedule not in SCHEDULES:
        raise KerasResnetError(f"unknown fine-tuning schedule {schedule!r}: choose {' or '.join(SCHEDULES)}")
    keras2 = tf_keras()
    rate = learning_rate
    if schedule == "cosine":
        steps = int(epochs) * math.ceil(len(images) / int(batch_size))
        rate = keras2.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(steps, 1))
    model.compile(optimizer=keras2.optimizers.Adam(rate),
                  loss=keras2.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
                  metrics=["accuracy"])
    data = (tf.data.Dataset.from_tensor_slices((images, labels))
            .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
            .batch(int(batch_size))
            .map(as_float32))
    if progress:
        print(f"{label}: {len(images)} images, {epochs} epoch(s), learning rate {learning_rate:g}"
              f"{' (cosine decay)' if schedule == 'cosine' else ''}", file=sys.stderr)
    verbose = (1 if sys.stdout.isatty() else 2) if progress else 0  # bars on a terminal, a line per epoch in logs
    history = model.fit(data, epochs=int(epochs), callbacks=list(callbacks), verbose=verbose)
    return {key: [float(value) for value in values] for key, values in history.history.items()}


def predict(model, images, batch_size: int = 64):
    """Probabilities (or logits, as the model outputs) of a tf_keras model on uint8 ``images`` (inference mode,
    on the CPU like TFLite)."""
    import numpy as np
    import tensorflow as tf

    outputs = []
    with tf.device("/CPU:0"):
        for start in range(0, len(images), batch_size):
            batch = np.asarray(images[start:start + batch_size], np.float32)
            outputs.append(np.asarray(model(batch, training=False), np.float32))
    return np.concatenate(outputs) if outputs else np.zeros((0, 0), np.float32)
