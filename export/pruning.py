"""Magnitude pruning of a Keras 3 model through its tf_keras twin and tfmot.

    pruned = pruned_model(model, train_images, train_labels, sparsity=0.5, epochs=2)

Every Conv2D, DepthwiseConv2D and Dense kernel is wrapped with
``prune_low_magnitude``; sparsity ramps from 0 to the target along a
``PolynomialDecay`` schedule over the first 70% of the fine-tuning steps
(``UpdatePruningStep`` advances it), the rest lets the surviving weights recover,
and ``strip_pruning`` leaves a plain tf_keras model whose kernels hold the zeros.
"""

from __future__ import annotations

import math

from keras_resnet.errors import KerasResnetError

from .checks import as_number
from .fine_tune import (DEFAULT_BATCH_SIZE, check_epochs, check_learning_rate, check_training_data, fine_tune,
                        outputs_logits)

DEFAULT_PRUNE_EPOCHS = 2
DEFAULT_PRUNE_LEARNING_RATE = 1e-4
RAMP_SHARE = 0.7  # of the fine-tuning steps spent raising sparsity to the target
PRUNED_LAYERS = ("Conv2D", "DepthwiseConv2D", "Dense")


def check_sparsity(sparsity) -> float:
    """A target sparsity in [0, 1), or a one-line error."""
    value = as_number(sparsity)
    if isinstance(sparsity, bool) or not 0.0 <= value < 1.0:
        raise KerasResnetError(f"--prune {sparsity!r}: give the fraction of weights to zero, in [0, 1) "
                               "(e.g. --prune 0.5)")
    return value


def pruning_schedule(sparsity: float, steps: int):
    """``PolynomialDecay`` from 0 to ``sparsity``, pruning ~20 times, done after ``RAMP_SHARE`` of ``steps``."""
    from .tfmot_env import tfmot

    ramp = max(1, int(steps * RAMP_SHARE))
    frequency = max(1, ramp // 20)
    end_step = frequency * max(1, ramp // frequency)
    return tfmot().sparsity.keras.PolynomialDecay(initial_sparsity=0.0, final_sparsity=float(sparsity),
                                                  begin_step=0, end_step=end_step, frequency=frequency)


def pruned_model(model, images, labels, *, sparsity: float, epochs: int = DEFAULT_PRUNE_EPOCHS,
                 learning_rate: float = DEFAULT_PRUNE_LEARNING_RATE, batch_size: int = DEFAULT_BATCH_SIZE,
                 check_images=None, seed: int = 0, progress: bool = True):
    """``model`` (Keras 3 or tf_keras) pruned to ``sparsity`` while fine-tuned; a stripped tf_keras model."""
    from .qat import to_tf_keras
    from .source import input_shape, output_classes
    from .tfmot_env import tf_keras, tfmot

    sparsity = check_sparsity(sparsity)
    epochs = check_epochs(epochs, "--prune-epochs")
    learning_rate = check_learning_rate(learning_rate, "--prune-learning-rate")
    images, labels = check_training_data(images, labels, input_shape(model), output_classes(model), "pruning")
    twin = to_tf_keras(model, check_images if check_images is not None else images)
    sparsity_api = tfmot().sparsity.keras
    steps = math.ceil(len(images) / int(batch_size)) * epochs
    schedule = pruning_schedule(sparsity, steps)

    def wrap(layer):
        if layer.__class__.__name__ in PRUNED_LAYERS:
            return sparsity_api.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    wrapped = tf_keras().models.clone_model(twin, clone_function=wrap)  # the twin's layers, weights and all
    fine_tune(wrapped, images, labels, epochs=epochs, learning_rate=learning_rate, from_logits=outputs_logits(twin),
              batch_size=batch_size, callbacks=[sparsity_api.UpdatePruningStep()], seed=seed, progress=progress,
              label=f"Pruning to {sparsity:.0%} sparsity")
    return sparsity_api.strip_pruning(wrapped)

