"""TFLite: one ``.tflite`` per mode (``tflite.MODES``) and per fine-tuned variant, run in LiteRT.

``model_<mode>.tflite`` from the float32 Keras model, verified against it;
``model_<variant>_<mode>.tflite`` from each fine-tuned variant (QAT, pruned,
clustered: see ``optimize``), verified against its own fine-tuned model. Each file
carries its metadata (class names, mode, calibration, verification) embedded in the
flatbuffer and in a JSON sidecar (``labels``). Conversion itself: ``export/tflite.py``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading

import numpy as np

from keras_resnet.errors import KerasResnetError, first_line
from keras_resnet.startup import native_output_captured

from .. import labels as sidecars
from ..runtime import Artifact, all_threads
from ..tflite import (FULL_INTEGER_MODES, convert, embed_metadata, infer_mode, is_tflite_file,
                      op_summary, read_metadata, tensor_io, tflite_name, write_conversion_source)

NAME = "tflite"
DESCRIPTIONS = ("a .tflite file",)
PIXELS_NOTE = ("raw 0-255 values, channels last; quantized inputs use the scale and zero point above "
               "(uint8 I/O: scale 1, zero point 0)")


def recognises(source) -> bool:
    return isinstance(source, str) and os.path.isfile(source) and is_tflite_file(source)


def load(path, class_names=None) -> TFLiteArtifact:
    return TFLiteArtifact(path, class_names)


def outputs(options) -> list[str]:
    """The files ``export`` writes for ``options``: a ``.tflite`` and its JSON sidecar per mode and variant."""
    stems = [(options.stem, mode) for mode in options.tflite_modes]
    optimizations = options.optimizations
    stems += [(f"{options.stem}_{variant}", mode) for variant in optimizations.requested
              for mode in optimizations.modes(variant, options.tflite_modes)]
    names = [tflite_name(stem, mode) for stem, mode in stems]
    return [file for name in names for file in (name, os.path.basename(sidecars.sidecar_path(name)))]


def export(job) -> None:
    """The plain modes from the Keras model, then every fine-tuned variant asked for."""
    options = job.options
    with tempfile.TemporaryDirectory(prefix="keras_resnet_export_") as scratch:
        if options.tflite_modes:
            with job.times.stage("tflite float graph"):
                graph = write_conversion_source(job.model, os.path.join(scratch, "float_graph"), job.input_shape,
                                                job.rgb_input)
            integer = [mode for mode in options.tflite_modes if mode in FULL_INTEGER_MODES]
            with contextlib.ExitStack() as scope:
                pool = None
                if integer:  # one calibration for both modes; helper processes start on it now
                    with job.times.stage("tflite calibration"):
                        pool = scope.enter_context(_calibration_pool(job, graph))
                for mode in options.tflite_modes:  # the float modes, converted here while the helpers calibrate
                    if mode not in integer:
                        write_tflite(job, graph, mode, mode, options.stem)
                calibrated = None
                if pool is not None:
                    with job.times.stage("tflite calibration"):
                        calibrated = pool.finish()[0]
            for mode in integer:
                write_tflite(job, graph, mode, mode, options.stem, calibrated=calibrated)
        if options.optimizations.requested:
            from ..compression import tflite_compression
            from ..fine_tune import predict
            from ..optimize import variants

            for variant in variants(job.model, options.optimizations, job.training_images, job.training_labels,
                                    options.tflite_modes, check_images=job.verify_images, seed=options.seed,
                                    progress=options.progress):
                expected = predict(variant.model, job.verify_images)  # verified against its own fine-tuned model
                graph = write_conversion_source(variant.model, os.path.join(scratch, variant.name), job.input_shape,
                                                job.rgb_input)
                for mode in variant.modes:
                    key = f"{variant.name}_{mode}"
                    write_tflite(job, graph, mode, key, f"{options.stem}_{variant.name}", expected, variant.info)
                    job.artifacts[key]["compression"] = tflite_compression(job.paths[key])
                job.optimizations[variant.name] = variant.info
                job.models[variant.name] = variant.model


def _calibration_pool(job, graph: str):
    """The calibration of the float graph every full-integer mode shares, on all cores (``calibration_pool``)."""
    from keras_resnet.data.images import convert_channels

    from ..calibration_pool import CalibrationPool

    images = convert_channels(job.calibration.images, job.artifact_input_shape[-1])
    return CalibrationPool(graph, images, progress=job.options.progress)


def _calibration_images(job):
    """The converter's representative dataset: the job's calibration set, as the artifacts take it."""
    from ..calibration import representative_dataset

    return representative_dataset(job.calibration, job.options.progress, job.artifact_input_shape[-1])


def write_tflite(job, graph: str, mode: str, key: str, stem: str, expected=None, optimization=None,
                 calibrated=None) -> None:
    """Converts ``graph`` in ``mode`` (full-integer from ``calibrated`` when given: ``tflite.calibrate``), embeds
    the metadata, verifies and lands ``<stem>_<mode>.tflite`` + sidecar."""
    options = job.options
    full_integer = mode in FULL_INTEGER_MODES
    dataset = _calibration_images(job) if full_integer and calibrated is None else None
    info = {**job.info, "format": NAME, "mode": mode, "int8_io": options.int8_io if mode == "int8" else None,
            "calibration": job.calibration_info if full_integer else None,
            **({"optimization": optimization} if optimization else {})}
    with job.times.stage(f"tflite {key} conversion"):
        content = convert(graph, mode, dataset, options.int8_io, calibrated)
    with job.times.stage("tflite metadata"):
        content = embed_metadata(content, info)
    label = f"TFLite {mode}" + (f" ({optimization['variant']})" if optimization else "")
    with job.stage(key, tflite_name(stem, mode)) as stage:
        with open(stage.path, "wb") as handle:
            handle.write(content)
        artifact = TFLiteArtifact(stage.path, job.class_names)
        result = stage.verify(artifact, mode, expected, label=label)
        io = artifact.io()
        info.update({"input": io["input"], "output": io["output"], "ops": artifact.ops(), "verification": result,
                     "size_bytes": len(content), "pixels": PIXELS_NOTE})
        artifact.close()
        sidecars.write_sidecar(stage.final, info)


class TFLiteArtifact(Artifact):
    """A ``.tflite`` file in LiteRT's interpreter; inputs quantized and outputs dequantized with the
    tensors' own scale and zero point, so int8 and uint8 models are fed and read correctly."""

    kind = NAME

    def __init__(self, path, class_names=None, batch_size: int = 32):
        self._batch_size = batch_size
        self._interpreters = {}
        self._creating = threading.Lock()
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
        if self.mode == "int16x8":  # LiteRT's 16x8 kernels are reference code on one core: one interpreter a core
            self.concurrent_batches = all_threads()

    def _interpreter(self, batch, threads, path=None, worker: int = 0):
        """A cached interpreter for ``batch`` images at a time with ``threads`` threads (one per ``worker``)."""
        with self._creating:
            return self._cached_interpreter(batch, threads, path, worker)

    def _cached_interpreter(self, batch, threads, path, worker):
        from ai_edge_litert.interpreter import Interpreter

        key = (batch, threads, worker)
        if key not in self._interpreters:
            try:
                with native_output_captured(2):  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
                    interpreter = Interpreter(model_path=path or self.path, num_threads=threads or all_threads())
                    if batch != 1:
                        detail = interpreter.get_input_details()[0]
                        interpreter.resize_tensor_input(detail["index"], [batch, *detail["shape"][1:]])
                    interpreter.allocate_tensors()
            except (ValueError, RuntimeError) as error:
                if batch != 1:
                    return None  # cannot resize: the caller falls back to batch 1
                reason = first_line(error)
                raise KerasResnetError(f"'{path or self.path}' is not a loadable TFLite model ({reason}): "
                                       "export it again with keras-resnet export") from None
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

    def _predict_batch(self, images, worker: int = 0):
        batch = len(images)
        threads = 1 if self.concurrent_batches > 1 else None
        interpreter = self._interpreter(self._batch_size, threads, worker=worker) if self._batch_size > 1 else None
        if interpreter is not None and batch == self._batch_size:
            return self._invoke(interpreter, images)
        if interpreter is not None:  # last, short batch: pad to the allocated size
            padded = np.concatenate([images, np.zeros((self._batch_size - batch, *images.shape[1:]), images.dtype)])
            return self._invoke(interpreter, padded)[:batch]
        single = self._interpreter(1, threads, worker=worker)
        return np.concatenate([self._invoke(single, images[i:i + 1]) for i in range(batch)])

    def predict(self, images, batch_size: int | None = None, progress: bool = False, label=None,
                max_seconds: float | None = None):
        if batch_size:
            self._batch_size = batch_size
        elif self.concurrent_batches > 1:  # enough batches for every interpreter (16 verification images: 2 x 8)
            self._batch_size = max(1, min(self._batch_size, -(-len(images) // self.concurrent_batches)))
        return super().predict(images, self._batch_size, progress, label, max_seconds)

    def latency_runner(self, threads):
        interpreter = self._interpreter(1, threads)
        interpreter.set_tensor(self._input["index"], self.quantize_input(np.zeros((1, *self.input_shape), np.uint8)))
        return interpreter.invoke

    def io(self):
        probe = self._interpreter(1, None)
        return {"input": tensor_io(self._input), "output": tensor_io(self._output),
                "signatures": sorted(probe.get_signature_list())}

    def ops(self):
        return self._ops

    def compression(self):
        from ..compression import tflite_compression

        return tflite_compression(self.path) if self.path else None

    def close(self):
        self._interpreters.clear()
