"""The smallest fix that lets Keras 3 ``model.fit`` run under ``MultiWorkerMirroredStrategy``.

Upstream bug: https://github.com/keras-team/keras/issues/20585 (open). In
``keras/src/backend/tensorflow/trainer.py`` two spots fail once more than one
worker takes part:

1. ``TensorFlowTrainer._maybe_symbolic_build`` builds the model from the first
   batch by ``strategy.reduce("MEAN", batch, axis=None)`` over the distributed
   batch; under MultiWorkerMirroredStrategy that eager cross-worker reduce of a
   PerReplica value fails ("Attempt to convert a value (PerReplica ...) to a
   Tensor"). The build only needs shapes and dtypes, so we take this worker's
   first local replica batch instead: same shapes, no collective.
2. ``reduce_per_replica`` averages the step's metrics over workers with
   ``strategy.reduce("MEAN", v, axis=0)``; the metrics are scalars, and
   ``axis=0`` on a scalar fails ("Invalid reduction dimension 0 for input with
   0 dimensions"). We reduce with ``axis=None``: the mean over replicas,
   element-wise, which is what the single-worker "mean" branch computes.

The fix is applied only when that strategy is used (``apply`` is called from
``train`` for strategy kind ``multi_worker``), only for the Keras versions it
is known for, and only when the code it replaces looks as expected; otherwise
it warns and leaves Keras alone. Fix 1 is set on the one model instance; fix 2
wraps the module function and changes nothing for any other strategy.
tf_keras (Keras 2) is not affected and is never touched.
"""

from __future__ import annotations

import functools
import inspect
import re
import types
import warnings

ISSUE = "https://github.com/keras-team/keras/issues/20585"
# Reported against Keras 3.7; checked broken, and fixed by this module, on 3.15.1.
# Raise the upper bound after checking a newer Keras still has both spots.
KNOWN_BROKEN_VERSIONS = ((3, 7, 0), (3, 16, 0))  # [low, high)
_MARK = "_keras_resnet_issue_20585_fix"


def _version_tuple(text: str) -> tuple[int, ...]:
    numbers = re.findall(r"\d+", text.split("+")[0])[:3]
    return tuple(int(n) for n in numbers) + (0,) * (3 - len(numbers))


def _trainer_module():
    from keras.src.backend.tensorflow import trainer

    return trainer


def _source(function) -> str | None:
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return None


def looks_broken(trainer=None) -> tuple[bool, str]:
    """``(True, "")`` when installed Keras has the two spots as expected, else ``(False, why)``."""
    import keras

    version = _version_tuple(keras.__version__)
    low, high = KNOWN_BROKEN_VERSIONS
    if not low <= version < high:
        return False, f"Keras {keras.__version__} is outside the versions this fix is known for ({low}..{high})"
    trainer = trainer or _trainer_module()
    build = getattr(getattr(trainer, "TensorFlowTrainer", None), "_maybe_symbolic_build", None)
    reduce = getattr(trainer, "reduce_per_replica", None)
    if getattr(reduce, _MARK, False):
        reduce = reduce.__wrapped__
    needed = (build, reduce, getattr(trainer, "_collective_all_reduce_multi_worker", None))
    if not all(callable(item) for item in needed):
        return False, "keras' TensorFlow trainer no longer has the functions this fix replaces"
    build_source, reduce_source = _source(build), _source(reduce)
    if build_source is not None and "distribute_strategy.reduce(" not in build_source:
        return False, "TensorFlowTrainer._maybe_symbolic_build no longer reduces the batch across replicas"
    if reduce_source is not None and 'reduce("MEAN", v, axis=0)' not in reduce_source:
        return False, "reduce_per_replica no longer averages with axis=0"
    if list(inspect.signature(reduce).parameters) != ["values", "strategy", "reduction"]:
        return False, "reduce_per_replica has a different signature"
    return True, ""


def _local_batch(strategy, value):
    import tensorflow as tf

    if isinstance(value, tf.distribute.DistributedValues):
        return strategy.experimental_local_results(value)[0]
    return value


def _maybe_symbolic_build_from_local_batch(self, iterator=None, data_batch=None):
    """Fix 1: build from this worker's first replica batch (shapes only), without a cross-worker reduce."""
    import tensorflow as tf

    trainer = _trainer_module()
    if self._distribute_strategy is None:
        return None
    if iterator is not None:
        for _, _, it in iterator:
            batch = next(it)
            data_batch = tf.nest.map_structure(
                functools.partial(_local_batch, self.distribute_strategy), batch
            )
            break
    return trainer.TensorFlowTrainer._maybe_symbolic_build(self, data_batch=data_batch)


def _fixed_reduce_per_replica(original):
    @functools.wraps(original)
    def reduce_per_replica(values, strategy, reduction):
        trainer = _trainer_module()
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
            # Fix 2: mean over replicas (axis=None) instead of axis=0, which fails on scalars.
            import tensorflow as tf

            return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    setattr(reduce_per_replica, _MARK, True)
    return reduce_per_replica


def apply(model) -> bool:
    """Applies both fixes for ``model`` (built under MultiWorkerMirroredStrategy); True when applied."""
    trainer = _trainer_module()
    broken, why = looks_broken(trainer)
    if not broken:
        warnings.warn(
            f"not applying the multi-worker fix for {ISSUE}: {why}; if model.fit fails under "
            "MultiWorkerMirroredStrategy, check whether that issue is fixed in your Keras",
            stacklevel=2,
        )
        return False
    if not getattr(trainer.reduce_per_replica, _MARK, False):
        trainer.reduce_per_replica = _fixed_reduce_per_replica(trainer.reduce_per_replica)
    # object.__setattr__: a plain instance attribute, bypassing Keras' attribute tracking.
    object.__setattr__(model, "_maybe_symbolic_build",
                       types.MethodType(_maybe_symbolic_build_from_local_batch, model))
    return True
