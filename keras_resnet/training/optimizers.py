"""Optimisers of the papers and of modern recipes, with weight decay on kernels only.

sgd: SGD with momentum (optionally Nesterov), as in He et al.; weight decay is
the papers' L2 penalty, ``weight_decay / 2 * |w|^2`` added to the loss, so its
gradient ``weight_decay * w`` goes through momentum as in the original Caffe
and Torch recipes (1e-4 there). adamw: Keras' AdamW with decoupled weight decay.
Either way decay applies to convolution and dense kernels only, never to
BatchNorm scales/offsets or biases (any variable of rank < 2).
"""

from __future__ import annotations

import keras


def decays(variable) -> bool:
    """Whether weight decay applies: kernels (rank >= 2) yes; BN gamma/beta, biases, scalars no."""
    return len(variable.shape) >= 2


def decayed_variables(model) -> list:
    return [v for v in model.trainable_variables if decays(v)]


def excluded_variables(model) -> list:
    return [v for v in model.trainable_variables if not decays(v)]


def make_optimizer(model, config, learning_rate):
    """The optimizer for ``config`` (already validated); ``learning_rate`` may be a schedule.

    For sgd this also attaches the L2 penalty to the decayed variables of ``model``.
    """
    ema = {"use_ema": config.ema, "ema_momentum": config.ema_momentum}
    if config.optimizer == "sgd":
        if config.weight_decay:
            penalty = keras.regularizers.L2(config.weight_decay / 2.0)  # gradient = weight_decay * w
            for variable in decayed_variables(model):
                variable.regularizer = penalty
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=config.momentum,
                                    nesterov=config.nesterov, **ema)
    optimizer = keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=config.weight_decay, **ema)
    optimizer.exclude_from_weight_decay(var_list=excluded_variables(model))
    return optimizer
