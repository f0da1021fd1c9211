"""Any artifact behind one interface: raw uint8 images in, class probabilities out.

    artifact = load_artifact("export/model_int8.tflite")   # or a .keras file, run dir, SavedModel dir
    probabilities = artifact.predict(images)                # uint8 [N, H, W, C] -> float32 [N, classes]

Each kind runs in its real runtime: Keras, ``tf.saved_model.load`` (the
``serving_default`` signature) or LiteRT's interpreter (``ai_edge_litert``). The
TFLite wrapper quantizes inputs and dequantizes outputs with the tensors' own
scale and zero point, so int8 and uint8 models are fed and read correctly.
"""

from __future__ import annotations

import os
import time

import numpy as np

from keras_resnet.errors import KerasResnetError, first_line
from keras_resnet.files import path_size
from keras_resnet.run_directory import MODEL_FILE as RUN_MODEL_FILE
from keras_resnet.run_directory import is_run_dir

from . import labels as sidecars
from .progress import progress_bar
from .source import input_shape as model_input_shape

KINDS = ("keras", "saved_model", "tflite")
ARTIFACT_HELP = "give a .keras file, a training run folder, a SavedModel folder or a .tflite file"


def all_threads() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def artifact_kind(path) -> str:
    """``keras``, ``saved_model`` or ``tflite`` from what is at ``path``; a one-line error otherwise."""
    from .tflite import is_tflite_file

    path = os.fspath(path)
    if not os.path.exists(path):
        raise KerasResnetError(f"no model at '{path}': {ARTIFACT_HELP}")
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "saved_model.pb")):
            return "saved_model"
        if is_run_dir(path):
            return "keras"
        raise KerasResnetError(f"'{path}' is a folder with no saved_model.pb or {RUN_MODEL_FILE}: {ARTIFACT_HELP}")
    if path.lower().endswith((".keras", ".h5", ".hdf5")):
        return "keras"
    if is_tflite_file(path):
        return "tflite"
    raise KerasResnetError(f"'{path}' is not a model: {ARTIFACT_HELP}")


class Artifact:
    """What every kind offers; subclasses fill in loading and one batch of inference."""

    kind = ""
    mode = "float32"

    def __init__(self, path, name, class_names, input_shape, info=None):
        self.path = path
        self.name = name
        self.class_names = class_names
        self.input_shape = tuple(input_shape)
        self.info = info or {}

    @property
    def size_bytes(self) -> int | None:
        return path_size(self.path) if self.path else None

    def predict(self, images, batch_size: int = 32, progress: bool = False, label: str | None = None,
                max_seconds: float | None = None):
        """Probabilities for uint8 ``images`` ``[N, H, W, C]``, in batches of ``batch_size``.

        With ``max_seconds``, stops after the batch that crosses it: the result then
        covers only the first images (at least one batch).
        """
        from .calibration import check_images

        images = check_images(images, self.input_shape, f"images for {self.name}")
        outputs = []
        began = time.perf_counter()
        with progress_bar(len(images), label or f"Running {self.name}", progress) as bar:
            for start in range(0, len(images), batch_size):
                batch = images[start:start + batch_size]
                outputs.append(np.asarray(self._predict_batch(batch), np.float32))
                bar.update(len(batch))
                if max_seconds is not None and time.perf_counter() - began > max_seconds:
                    break
        return np.concatenate(outputs) if outputs else np.zeros((0, 0), np.float32)

    def _predict_batch(self, images):
        raise NotImplementedError

    def latency_runner(self, threads: int | None):
        """A no-argument function running one batch-1 inference with ``threads`` threads
        (``None``: all), or ``None`` when this runtime cannot be limited to ``threads``."""
        raise NotImplementedError

    def io(self) -> dict:
        raise NotImplementedError

    def ops(self) -> dict | None:
        return None

    def close(self):
        pass

    def summary(self) -> dict:
        return {"name": self.name, "path": self.path, "kind": self.kind, "mode": self.mode,
                "size_bytes": self.size_bytes, "input_shape": list(self.input_shape),
                "classes": len(self.class_names) if self.class_names else None, **self.io()}


class KerasArtifact(Artifact):
    """A Keras model object, ``.keras`` file or run folder, run through a compiled ``tf.function``."""

    kind = "keras"

    def __init__(self, model, path=None, name=None, class_names=None):
        import tensorflow as tf

        self.model = model
        shape = model_input_shape(model)
        super().__init__(path, name or (os.path.basename(path) if path else f"{model.name} (in memory)"),
                         class_names, shape)
        self._call = tf.function(lambda images: model(images, training=False), reduce_retracing=True)

    @classmethod
    def from_path(cls, path, class_names=None):
        from .source import load_keras_model

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


class SavedModelArtifact(Artifact):
    """A SavedModel folder, run through its ``serving_default`` signature."""

    kind = "saved_model"

    def __init__(self, path, class_names=None):
        import tensorflow as tf

        try:
            self.loaded = tf.saved_model.load(path)
        except Exception as error:
            reason = first_line(error)
            raise KerasResnetError(f"'{path}' could not be loaded as a SavedModel ({reason}): {ARTIFACT_HELP}") from None
        signature = self.loaded.signatures.get("serving_default")
        if signature is None:
            raise KerasResnetError(
                f"SavedModel '{path}' has no serving_default signature: export it with keras-resnet export")
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


class TFLiteArtifact(Artifact):
    """A ``.tflite`` file in LiteRT's interpreter."""

    kind = "tflite"

    def __init__(self, path, class_names=None, batch_size: int = 32):
        from .tflite import infer_mode, op_summary, read_metadata, tensor_io

        self._batch_size = batch_size
        self._interpreters = {}
        probe = self._interpreter(1, None, path=path)
        detail = probe.get_input_details()
        if len(detail) != 1 or len(detail[0]["shape"]) != 4:
            raise KerasResnetError(f"'{path}' takes {len(detail)} input(s): export supports one image input")
        self._input = detail[0]
        self._output = probe.get_output_details()[0]
        self._ops = op_summary(probe)
        info = sidecars.read_sidecar(path) or read_metadata(path) or {}
        names = class_names or info.get("class_names") or sidecars.labels_beside(path)
        super().__init__(path, os.path.basename(path), names, [int(s) for s in self._input["shape"][1:]], info)
        self.mode = infer_mode(self._ops, tensor_io(self._input)["dtype"])

    def _interpreter(self, batch, threads, path=None):
        """A cached interpreter for ``batch`` images at a time with ``threads`` threads."""
        from ai_edge_litert.interpreter import Interpreter

        key = (batch, threads)
        if key not in self._interpreters:
            try:
                interpreter = Interpreter(model_path=path or self.path, num_threads=threads or all_threads())
                if batch != 1:
                    index = interpreter.get_input_details()[0]["index"]
                    interpreter.resize_tensor_input(index, [batch, *interpreter.get_input_details()[0]["shape"][1:]])
                interpreter.allocate_tensors()
            except (ValueError, RuntimeError) as error:
                if batch != 1:
                    return None  # cannot resize: the caller falls back to batch 1
                reason = first_line(error)
                raise KerasResnetError(
                    f"'{path or self.path}' is not a loadable TFLite model ({reason}): {ARTIFACT_HELP}") from None
            self._interpreters[key] = interpreter
        return self._interpreters[key]

    def quantize_input(self, images):
        """uint8 pixels as the input tensor's dtype, using its scale and zero point when quantized."""
        dtype = self._input["dtype"]
        scale, zero_point = self._input["quantization"]
        if dtype == np.float32 or not scale:
            return images.astype(dtype)
        info = np.iinfo(dtype)
        values = np.round(images.astype(np.float32) / scale + zero_point)
        return np.clip(values, info.min, info.max).astype(dtype)

    def dequantize_output(self, values):
        scale, zero_point = self._output["quantization"]
        if values.dtype == np.float32 or not scale:
            return values.astype(np.float32)
        return (values.astype(np.float32) - zero_point) * scale

    def _invoke(self, interpreter, images):
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], self.quantize_input(images))
        interpreter.invoke()
        return self.dequantize_output(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))

    def _predict_batch(self, images):
        batch = len(images)
        interpreter = self._interpreter(self._batch_size, None) if self._batch_size > 1 else None
        if interpreter is not None and batch == self._batch_size:
            return self._invoke(interpreter, images)
        if interpreter is not None:  # last, short batch: pad to the allocated size
            padded = np.concatenate([images, np.zeros((self._batch_size - batch, *images.shape[1:]), images.dtype)])
            return self._invoke(interpreter, padded)[:batch]
        single = self._interpreter(1, None)
        return np.concatenate([self._invoke(single, images[i:i + 1]) for i in range(batch)])

    def predict(self, images, batch_size: int | None = None, progress: bool = False, label=None,
                max_seconds: float | None = None):
        if batch_size:
            self._batch_size = batch_size
        return super().predict(images, self._batch_size, progress, label, max_seconds)

    def latency_runner(self, threads):
        interpreter = self._interpreter(1, threads)
        interpreter.set_tensor(self._input["index"], self.quantize_input(np.zeros((1, *self.input_shape), np.uint8)))
        return interpreter.invoke

    def io(self):
        from .tflite import tensor_io

        probe = self._interpreter(1, None)
        return {"input": tensor_io(self._input), "output": tensor_io(self._output),
                "signatures": sorted(probe.get_signature_list())}

    def ops(self):
        return self._ops

    def close(self):
        self._interpreters.clear()


def load_artifact(path_or_model, class_names=None) -> Artifact:
    """A Keras model object, ``.keras`` file, run folder, SavedModel folder or ``.tflite`` file."""
    import keras

    if isinstance(path_or_model, Artifact):
        return path_or_model
    if isinstance(path_or_model, keras.Model):
        return KerasArtifact(path_or_model, class_names=class_names)
    path = os.fspath(path_or_model)
    kind = artifact_kind(path)
    if kind == "keras":
        return KerasArtifact.from_path(path, class_names)
    if kind == "saved_model":
        return SavedModelArtifact(path, class_names)
    return TFLiteArtifact(path, class_names)


def top_k(probabilities, class_names, k: int = 5) -> list[list[tuple[str, float]]]:
    """Per row, the ``k`` most probable ``(class name, probability)`` pairs."""
    k = max(1, min(int(k), probabilities.shape[-1]))
    order = np.argsort(-probabilities, axis=-1, kind="stable")[:, :k]
    names = class_names or [str(i) for i in range(probabilities.shape[-1])]
    return [[(names[i], float(row[i])) for i in indices] for row, indices in zip(probabilities, order)]


def predict_files(path_or_artifact, image_paths, k: int = 5, class_names=None) -> list[dict]:
    """Top-``k`` classes for image files: each decoded, converted and resized to the artifact's input.

    Undecodable files and images over ``keras_resnet.data.MAX_IMAGE_PIXELS``
    (decompression bombs) raise a one-line ``KerasResnetError`` naming the file.
    """
    if not image_paths:
        raise KerasResnetError("no images given: pass one or more image files")
    artifact = load_artifact(path_or_artifact, class_names)
    height, width, channels = artifact.input_shape
    images = np.stack([_read_image(os.fspath(path), channels, (height, width)) for path in image_paths])
    probabilities = artifact.predict(images, batch_size=min(len(images), 32))
    names = artifact.class_names
    artifact.close()
    results = []
    for path, row in zip(image_paths, top_k(probabilities, names, k)):
        results.append({"image": os.fspath(path),
                        "predictions": [{"class": name, "probability": probability} for name, probability in row]})
    return results


def _read_image(path: str, channels: int, size) -> np.ndarray:
    """One image file as the artifact's input; a one-line error for unreadable files and bombs."""
    import warnings

    from PIL import Image

    from keras_resnet.data import BadImageError, read_image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below with a clear error
            return read_image(path, channels=channels, image_size=size)
    except BadImageError as error:
        raise KerasResnetError(f"cannot read image '{path}' ({error.reason}): give a JPEG, PNG, BMP or GIF file "
                               "of sensible size") from None
