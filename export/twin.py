"""The tf_keras (Keras 2) twin of a Keras 3 model, for tensorflow-model-optimization.

tfmot 0.8 works only on tf_keras models. The twin is rebuilt from the model's own
functional config, layer by layer: each stock layer becomes the tf_keras layer of
the same class and options (Keras 3-only options at their defaults are dropped,
dtype policies become plain dtypes), our ``ZeroPadChannels`` becomes its tf_keras
build, and the graph is wired exactly as the config says. Weights are copied layer
by layer (same names, same order), and the twin must reproduce the model's
probabilities to ``TWIN_TOLERANCE`` before anything is trained on it. This works
for any functional model built from stock layers, not only ours; a layer with no
tf_keras counterpart gets an error naming it.

    twin = tf_keras_twin(float32_keras3_model, check_images=uint8_images)
"""

from __future__ import annotations

import inspect

import numpy as np

from keras_resnet.errors import KerasResnetError, first_line

TWIN_TOLERANCE = 1e-4  # max |difference| on probabilities; measured ~1e-7..5e-6 for ResNet-8/20 on digits, 2.4e-5 for
# a ResNet-20 v2 on digits dimmed 1/300 (float32 rounding); a miswired layer moves them by 1e-2 and more
_BASE_LAYER_KEYS = {"trainable", "name", "dtype", "dynamic", "input_dim", "input_shape", "batch_input_shape",
                    "batch_size", "weights", "activity_regularizer", "autocast", "implementation"}
_OBJECT_GETTERS = {"initializer": "initializers", "regularizer": "regularizers", "constraint": "constraints"}
_MODEL_CLASSES = {"Functional", "Sequential", "Model"}
HELP = ("quantization-aware training, pruning and clustering work on functional models built from stock "
        "Keras layers and keras_resnet's (any model keras_resnet builds)")


def _is_tensor_reference(value) -> bool:
    return isinstance(value, dict) and value.get("class_name") == "__keras_tensor__"


def _references(value):
    """Every ``(layer, node, tensor)`` a serialized call argument refers to."""
    if _is_tensor_reference(value):
        yield tuple(value["config"]["keras_history"])
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _references(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _references(item)


def _resolve(value, tensors):
    """A serialized call argument with each tensor reference replaced by the twin's tensor."""
    if _is_tensor_reference(value):
        return tensors[tuple(value["config"]["keras_history"])]
    if isinstance(value, list):
        return [_resolve(item, tensors) for item in value]
    if isinstance(value, tuple):
        return tuple(_resolve(item, tensors) for item in value)
    if isinstance(value, dict):
        return {key: _resolve(item, tensors) for key, item in value.items()}
    return value


def _accepted_keys(cls) -> set:
    """The constructor arguments a tf_keras layer class takes (its own and its bases')."""
    keys = set(_BASE_LAYER_KEYS)
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is None:
            continue
        try:
            parameters = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):  # pragma: no cover - a C-implemented base
            continue
        keys.update(p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
    keys.discard("self")
    return keys


def _layer_class(entry, tf_keras):
    """The tf_keras class for a serialized Keras 3 layer, or a one-line error naming the layer."""
    from keras_resnet.layers import PACKAGE, custom_layers

    name, class_name = entry["config"].get("name", entry.get("name")), entry["class_name"]
    registered = entry.get("registered_name") or ""
    if class_name in _MODEL_CLASSES:
        raise KerasResnetError(
            f"layer '{name}' is a nested model ({class_name}): tfmot cannot optimize a model inside a model; "
            "export the nested model itself, or rebuild the model flat")
    if registered.startswith(f"{PACKAGE}>") or entry.get("module", "").startswith(PACKAGE):
        ours = getattr(custom_layers(tf_keras), class_name, None)
        if ours is not None:
            return ours
    elif entry.get("module", "keras.layers").startswith("keras.") and not registered:
        stock = getattr(tf_keras.layers, class_name, None)
        if stock is not None:
            return stock
    raise KerasResnetError(
        f"layer '{name}' ({registered or class_name}) has no tf_keras counterpart for tfmot: {HELP}; "
        "export with --quantize int8 (post-training) instead")


def _dtype(value, name):
    """A Keras 3 dtype policy as a tf_keras dtype: the twin is always float32."""
    if isinstance(value, dict):
        value = (value.get("config") or {}).get("name", "float32")
    if value in (None, "float32", "float16", "bfloat16", "mixed_float16", "mixed_bfloat16"):
        return "float32"
    raise KerasResnetError(f"layer '{name}' has dtype policy {value!r}: optimize the float model (before "
                           "model.quantize())")


def _deserialize(value, key, name, tf_keras):
    """A serialized initializer / regularizer / constraint as a tf_keras object."""
    kind = next((getter for suffix, getter in _OBJECT_GETTERS.items() if key.endswith(suffix)), None)
    if kind is None or not isinstance(value, dict):
        return value
    getter = getattr(tf_keras, kind).get
    try:
        return getter({"class_name": value["class_name"], "config": value.get("config") or {}})
    except Exception:
        if kind == "initializers":  # the weights are copied over: an initializer only needs to exist
            try:
                return getter(value["class_name"])
            except Exception:
                return None
        raise KerasResnetError(
            f"layer '{name}': its {key} ({value.get('class_name')}) has no tf_keras counterpart: {HELP}") from None


def _twin_config(entry, cls, tf_keras) -> dict:
    """The Keras 3 layer config made acceptable to the tf_keras class."""
    config = dict(entry["config"])
    name = config.get("name", entry.get("name"))
    accepted = _accepted_keys(cls)
    twin = {}
    for key, value in config.items():
        if key == "dtype":
            twin[key] = _dtype(value, name)
        elif key not in accepted:
            if value not in (None, False, 0, "", [], {}):  # a Keras 3-only option that is switched on
                raise KerasResnetError(
                    f"layer '{name}' ({entry['class_name']}) uses the Keras 3-only option {key}={value!r}, which "
                    f"tf_keras lacks: {HELP}")
        elif isinstance(value, dict) and "class_name" in value and key.endswith(tuple(_OBJECT_GETTERS)):
            deserialized = _deserialize(value, key, name, tf_keras)
            if deserialized is not None:
                twin[key] = deserialized
        elif key == "activation" and isinstance(value, dict):
            raise KerasResnetError(f"layer '{name}' uses a custom activation ({value.get('class_name')}): {HELP}")
        else:
            twin[key] = value
    return twin


def _input_layer(entry, tf_keras):
    config = entry["config"]
    shape = config.get("batch_shape") or config.get("batch_input_shape")
    if shape is None:  # pragma: no cover - Keras 3 always records it
        raise KerasResnetError(f"input '{config.get('name')}' has no recorded shape: {HELP}")
    return tf_keras.Input(shape=tuple(shape[1:]), batch_size=shape[0], name=config.get("name"),
                          dtype=_dtype(config.get("dtype"), config.get("name")))


def build_twin(model, tf_keras):
    """A tf_keras model with ``model``'s layers, options and wiring (fresh weights)."""
    import keras

    if isinstance(model, keras.Sequential):
        return _sequential_twin(model, tf_keras)
    config = model.get_config() if hasattr(model, "get_config") else None
    if not isinstance(config, dict) or "layers" not in config or "input_layers" not in config:
        raise KerasResnetError(
            f"model '{model.name}' is a subclassed keras.Model: {HELP}; rebuild it with keras.Model(inputs, outputs)")
    tensors, layers = {}, {}
    pending = []
    for entry in config["layers"]:
        name = entry.get("name") or entry["config"]["name"]
        if entry["class_name"] == "InputLayer":
            tensors[(name, 0, 0)] = _input_layer(entry, tf_keras)
            continue
        cls = _layer_class(entry, tf_keras)
        try:
            layers[name] = cls.from_config(_twin_config(entry, cls, tf_keras))
        except KerasResnetError:
            raise
        except Exception as error:
            reason = first_line(error)
            raise KerasResnetError(f"layer '{name}' ({entry['class_name']}) could not be rebuilt in tf_keras "
                                   f"({reason}): {HELP}") from None
        pending += [(name, index, node) for index, node in enumerate(entry.get("inbound_nodes") or [])]
    while pending:  # call each layer once all its inputs exist (config order is topological already)
        waiting = []
        for name, index, node in pending:
            if not all(reference in tensors for reference in _references(node)):
                waiting.append((name, index, node))
                continue
            args = _resolve(node.get("args", []), tensors)
            kwargs = _resolve(node.get("kwargs", {}), tensors)
            outputs = layers[name](*args, **kwargs)
            for position, tensor in enumerate(outputs if isinstance(outputs, (list, tuple)) else [outputs]):
                tensors[(name, index, position)] = tensor
        if len(waiting) == len(pending):
            raise KerasResnetError(f"layer '{waiting[0][0]}' takes inputs the model config never produces: {HELP}")
        pending = waiting

    def endpoints(key):
        references = config[key]
        if references and not isinstance(references[0], (list, tuple)):
            references = [references]
        return [tensors[tuple(reference)] for reference in references]

    inputs, outputs = endpoints("input_layers"), endpoints("output_layers")
    return tf_keras.Model(inputs[0] if len(inputs) == 1 else inputs,
                          outputs[0] if len(outputs) == 1 else outputs, name=model.name)


def _sequential_twin(model, tf_keras):
    shape = tuple(model.inputs[0].shape[1:])
    x = inputs = tf_keras.Input(shape=shape, name=model.inputs[0].name)
    for layer in model.layers:
        entry = {"class_name": layer.__class__.__name__, "config": layer.get_config(),
                 "module": layer.__class__.__module__.replace(".src", "", 1).rsplit(".", 1)[0],
                 "registered_name": _registered_name(layer)}
        cls = _layer_class(entry, tf_keras)
        x = cls.from_config(_twin_config(entry, cls, tf_keras))(x)
    return tf_keras.Model(inputs, x, name=model.name)


def _registered_name(layer):
    import keras

    name = keras.saving.get_registered_name(layer.__class__)
    return None if name == layer.__class__.__name__ else name


def copy_weights(source, twin) -> None:
    """Each layer's weights, by layer name; errors name a layer whose weights do not line up."""
    for layer in source.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        try:
            target = twin.get_layer(layer.name)
        except ValueError:
            raise KerasResnetError(f"layer '{layer.name}' is missing from the tf_keras twin: {HELP}") from None
        shapes = [tuple(w.shape) for w in target.get_weights()]
        if shapes != [tuple(w.shape) for w in weights]:
            raise KerasResnetError(
                f"layer '{layer.name}' has weights {[tuple(w.shape) for w in weights]} but its tf_keras twin "
                f"{shapes}: {HELP}")
        target.set_weights(weights)


def output_difference(model, twin, images) -> float:
    """Max |difference| between the two models' outputs on uint8 ``images`` (inference mode)."""
    batch = np.asarray(images, np.float32)
    expected = np.asarray(model(batch, training=False), np.float32)
    got = np.asarray(twin(batch, training=False), np.float32)
    if expected.shape != got.shape:
        return float("inf")
    return float(np.max(np.abs(expected - got)))


def tf_keras_twin(model, check_images=None, tolerance: float = TWIN_TOLERANCE):
    """``model`` (Keras 3, float32) rebuilt in tf_keras with its weights; outputs checked to ``tolerance``.

    ``check_images``: uint8 ``[N, H, W, C]`` to compare outputs on (default: 16 synthetic images).
    """
    from .source import input_shape
    from .tfmot_env import tf_keras

    module = tf_keras()
    twin = build_twin(model, module)
    copy_weights(model, twin)
    if check_images is None:
        from .datasets import synthetic_images

        check_images = synthetic_images(16, input_shape(model))
    difference = output_difference(model, twin, np.asarray(check_images)[:64])
    if not difference <= tolerance:
        raise KerasResnetError(
            f"the tf_keras twin of '{model.name}' differs from it by {difference:.2e} on its probabilities "
            f"(allowed {tolerance:.0e}): a layer behaves differently in tf_keras; {HELP}")
    return twin
