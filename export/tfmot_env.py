"""tensorflow-model-optimization (tfmot), imported only when asked for, leaving the caller's Keras as it was.

Importing tfmot sets ``TF_USE_LEGACY_KERAS=1`` for the whole process and then touches
``tf.keras``. TensorFlow resolves ``tf.keras`` (and ``tf.losses``, ``tf.metrics``,
``tf.compat.v1.keras`` ...) lazily, once, on first access, from that variable: a
caller who had not used ``tf.keras`` yet would find it pointing at tf_keras (Keras 2)
for the rest of the process. So before the import we pin every such lazy alias to
what the caller's environment says, and afterwards we put ``os.environ`` back.
tfmot itself keeps working on tf_keras, which it imports on its own.

    from .tfmot_env import tfmot, tf_keras
    quantize_model = tfmot().quantization.keras.quantize_model
"""

from __future__ import annotations

import os

from keras_resnet.errors import KerasResnetError

LEGACY_KERAS_VARIABLE = "TF_USE_LEGACY_KERAS"
INSTALL_HINT = "pip install tensorflow-model-optimization tf-keras (versions matching your TensorFlow)"
_module = None


def _lazy_keras_aliases(tf):
    """TensorFlow's not-yet-resolved ``KerasLazyLoader`` attributes (tf.keras, tf.losses, tf.compat.v1.keras ...)."""
    try:
        from tensorflow.python.util.lazy_loader import KerasLazyLoader
    except ImportError:  # pragma: no cover - a TensorFlow without lazy Keras loading
        return []
    namespaces = [tf]
    compat = vars(tf).get("compat")
    if compat is not None:
        for version in ("v1", "v2"):
            namespace = vars(compat).get(version)
            if namespace is not None:
                namespaces.append(namespace)
                nested = vars(namespace).get("compat")
                if nested is not None:
                    namespaces += [value for key, value in vars(nested).items() if key in ("v1", "v2")]
    found = []
    for namespace in namespaces:
        for value in list(vars(namespace).values()):
            if isinstance(value, KerasLazyLoader) and not vars(value).get("_tfll_initialized", True):
                found.append(value)
    return found


def _pin_keras_aliases(tf) -> None:
    """Resolves each lazy alias now, under the caller's environment (no module is imported)."""
    for loader in _lazy_keras_aliases(tf):
        try:
            loader._initialize()  # what its first attribute access would do
        except Exception:  # pragma: no cover - leave an alias we cannot pin to TensorFlow
            pass


def tfmot():
    """The ``tensorflow_model_optimization`` module; ``os.environ`` and ``tf.keras`` unchanged for the caller."""
    global _module
    if _module is not None:
        return _module
    import tensorflow as tf

    before = os.environ.get(LEGACY_KERAS_VARIABLE)
    tf_keras()  # importing it re-creates tf.compat.v2's lazy aliases: pin those, not the ones it replaces
    _pin_keras_aliases(tf)
    try:
        import tensorflow_model_optimization as module
    except ImportError as error:
        raise KerasResnetError(
            f"quantization-aware training, pruning and clustering need tensorflow-model-optimization "
            f"({error}): {INSTALL_HINT}") from None
    finally:
        if before is None:
            os.environ.pop(LEGACY_KERAS_VARIABLE, None)
        else:
            os.environ[LEGACY_KERAS_VARIABLE] = before
    _module = module
    return module


def tf_keras():
    """The ``tf_keras`` (Keras 2) module tfmot works on."""
    try:
        import tf_keras as module
    except ImportError as error:
        raise KerasResnetError(f"quantization-aware training needs tf-keras ({error}): {INSTALL_HINT}") from None
    return module

