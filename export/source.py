"""Where a model comes from: a model object, a ``.keras`` file or a training run directory.

A run directory holds ``model.keras``, ``labels.txt`` and the data recipe it trained
with, with the fingerprint of the split it held out (``run_directory``). Whatever the source, export works
on a float32 copy: a model trained in mixed precision is rebuilt under the float32
policy with the same weights, because TFLite and serving want float32 graphs.
"""

from __future__ import annotations

import dataclasses
import os
import warnings

from keras_resnet.errors import KerasResnetError, first_line
from keras_resnet.layers import all_layers
from keras_resnet.run_directory import MODEL_FILE, RunDirectory, is_run_dir

_REDUCED_POLICIES = {"float16", "bfloat16", "mixed_float16", "mixed_bfloat16"}


@dataclasses.dataclass
class ModelSource:
    """A loaded model with what travels with it."""

    model: object  # the keras.Model as given or loaded
    class_names: list
    path: str | None = None  # the .keras file, if the model came from disk
    run_dir: str | None = None
    data: dict | None = None  # {"recipe": ..., "heldout": ...} the run recorded (``run_data``)
    original_policy: str = "float32"


def load_keras_model(path: str):
    """A ``.keras`` (or legacy ``.h5``) file as a keras.Model; a one-line error for anything else."""
    import keras

    import keras_resnet  # noqa: F401  (registers our layers so saved models load)

    if not os.path.exists(path):
        raise KerasResnetError(f"no model at '{path}': give a .keras file or a training run directory")
    if os.path.isdir(path):
        raise KerasResnetError(
            f"'{path}' is a folder without {MODEL_FILE}: give a .keras file or a training run directory"
        )
    if not path.lower().endswith((".keras", ".h5", ".hdf5")):
        raise KerasResnetError(f"'{path}' is not a Keras model file: give a .keras file saved by model.save()")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a bad file
        reason = first_line(error)
        raise KerasResnetError(
            f"'{path}' could not be loaded as a Keras model ({reason}): give a .keras file saved by model.save()"
        ) from None


def run_data(run_dir: str) -> dict | None:
    """What a run recorded about its data: ``{"recipe": {...}, "heldout": {...} or None}``, or None."""
    run = RunDirectory(run_dir)
    try:
        recipe, heldout = run.data_recipe(), run.heldout_fingerprint()
    except KerasResnetError as error:
        warnings.warn(f"{error}; the run's dataset is unknown: pass --data", stacklevel=3)
        return None
    return {"recipe": {**recipe, "data": str(recipe["data"])}, "heldout": heldout} if recipe else None


def output_classes(model) -> int:
    shape = model.outputs[0].shape if getattr(model, "outputs", None) else model.output_shape
    return int(shape[-1])


def default_class_names(count: int, where: str) -> list[str]:
    warnings.warn(
        f"no labels for {where}: naming the classes '0'..'{count - 1}'; pass --labels FILE "
        "(one class name per line) to name them",
        stacklevel=3,
    )
    return [str(index) for index in range(count)]


def resolve_class_names(model, class_names=None, labels_file=None, run_dir=None, where="the model") -> list[str]:
    """Names from an explicit list, a labels file, the run's labels.txt, or "0".."N-1" (with a warning)."""
    from keras_resnet.data import read_labels
    from keras_resnet.data.labels import check_class_names

    count = output_classes(model)
    if class_names is not None:
        names, origin = check_class_names(class_names, "class_names"), "class_names"
    elif labels_file is not None:
        names, origin = read_labels(labels_file), f"labels file '{labels_file}'"
    elif run_dir is not None and os.path.isfile(RunDirectory(run_dir).labels_path):
        path = RunDirectory(run_dir).labels_path
        names, origin = read_labels(path), f"labels file '{path}'"
    else:
        return default_class_names(count, where)
    if len(names) != count:
        raise KerasResnetError(
            f"{origin} has {len(names)} class names but the model predicts {count} classes: "
            "give the labels the model was trained with"
        )
    return names


def load_source(model_or_path, class_names=None, labels_file=None) -> ModelSource:
    """A model object, ``.keras`` file, run directory or PyTorch weights (``timm:NAME``), with its class names and
    data source."""
    import keras

    from keras_resnet.pytorch_weights import is_pytorch_weights
    from keras_resnet.zoo import build_pretrained

    if isinstance(model_or_path, keras.Model):
        names = resolve_class_names(model_or_path, class_names, labels_file, where="the model")
        return ModelSource(model_or_path, names, original_policy=model_policy(model_or_path))
    path = os.fspath(model_or_path)
    if is_pytorch_weights(path):  # timm:NAME, hf-hub:ORG/NAME or a PyTorch state dict: the classifier it holds
        model = build_pretrained(path)
        return ModelSource(model, resolve_class_names(model, class_names, labels_file, where=f"'{path}'"))
    run_dir = path if is_run_dir(path) else None
    model_path = RunDirectory(path).model_path if run_dir else path
    model = load_keras_model(model_path)
    names = resolve_class_names(model, class_names, labels_file, run_dir, where=f"'{path}'")
    return ModelSource(model, names, path=model_path, run_dir=run_dir,
                       data=run_data(run_dir) if run_dir else None, original_policy=model_policy(model))


def model_policy(model) -> str:
    """The reduced-precision policy a model uses somewhere, else ``float32``."""
    names = {layer.dtype_policy.name for layer in all_layers(model) if hasattr(layer, "dtype_policy")}
    reduced = sorted(names & _REDUCED_POLICIES)
    quantized = sorted(name for name in names if name.startswith(("int8", "int4", "float8", "gptq")))
    if quantized:
        raise KerasResnetError(
            f"the model uses the quantized Keras policy {quantized[0]!r}: export the float model "
            "(before model.quantize()); quantization happens during export"
        )
    return reduced[0] if reduced else "float32"


def _float32_config(value):
    """A serialized model config with every reduced-precision dtype policy set to float32."""
    if isinstance(value, dict):
        inner = value.get("config")
        policy = inner.get("name") if isinstance(inner, dict) and value.get("class_name") in (
            "DTypePolicy", "FloatDTypePolicy") else None
        if policy is not None:
            return "float32" if policy in _REDUCED_POLICIES else value
        return {key: ("float32" if key == "dtype" and isinstance(item, str) and item in _REDUCED_POLICIES
                      else _float32_config(item)) for key, item in value.items()}
    if isinstance(value, list):
        return [_float32_config(item) for item in value]
    return value


def float32_model(model):
    """``model`` itself when it is all float32, else a float32 rebuild with the same weights."""
    import keras

    if model_policy(model) == "float32":
        return model
    config = _float32_config(keras.saving.serialize_keras_object(model))
    rebuilt = keras.saving.deserialize_keras_object(config)
    rebuilt.set_weights(model.get_weights())
    leftover = model_policy(rebuilt)
    if leftover != "float32":  # pragma: no cover - a layer kept its policy outside its config
        raise KerasResnetError(
            f"could not rebuild the model in float32 (a layer keeps {leftover!r}): "
            "save it under keras.config.set_dtype_policy('float32') and export that"
        )
    return rebuilt


def input_shape(model) -> tuple[int, int, int]:
    """``(height, width, channels)`` of the model's image input; fixed sizes are required."""
    if len(model.inputs) != 1:
        raise KerasResnetError(
            f"the model has {len(model.inputs)} inputs: export supports image classifiers with one image input"
        )
    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) != 3 or any(size is None for size in shape):
        raise KerasResnetError(
            f"the model input has shape {shape}: export needs a fixed (height, width, channels); "
            "rebuild it with input_shape=(H, W, C) and load the weights"
        )
    return tuple(int(size) for size in shape)
