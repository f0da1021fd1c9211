"""ONNX: ``model.onnx`` (float32) from Keras' own exporter, ``model_int8.onnx`` from onnxruntime's quantizer.

Both take raw 0-255 pixels as float32, channels last (``[batch, H, W, C]``, the Keras
model's input name) and give ``probabilities`` ``[batch, classes]``; the int8 file
quantizes its input inside (QDQ: QuantizeLinear right after it). int8 is calibrated on
the same images as the TFLite int8 file and must pass the same agreement gate. Each
file carries its metadata (class names, mode, calibration) as JSON in the model's
``metadata_props`` (key ``keras_resnet``) and in a JSON sidecar (``labels``).
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import tempfile
import warnings

import numpy as np

from keras_resnet.errors import KerasResnetError, first_line

from .. import labels as sidecars
from ..runtime import Artifact, all_threads

NAME = "onnx"
DESCRIPTIONS = ("an .onnx file",)
SUFFIX = ".onnx"
METADATA_KEY = "keras_resnet"  # our entry in metadata_props: JSON with class names and more
OUTPUT_NAME = "probabilities"
PIXELS_NOTE = "raw 0-255 values as float32, channels last (the int8 model quantizes them inside)"
RELOAD_HINT = "export it again with keras-resnet export --formats onnx"
# U8S8 (uint8 activations, int8 weights, per channel): with int8 activations onnxruntime 1.32 leaves every
# Conv whose ReLU the quantizer folded away in float32 (4 of 7 in a ResNet-8); with uint8 all run as QLinearConv.
QUANTIZATION = {"method": "onnxruntime quantize_static", "format": "QDQ", "per_channel": True,
                "activations": "uint8", "weights": "int8", "calibration_method": "MinMax"}
CALIBRATION_BATCH = 8  # images per onnxruntime run while calibrating (ResNet-50 224: 16 was slower again)
_CONVERSION_OPS = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"}
_INTEGER_OPS = {"QGemm", "ConvInteger", "MatMulInteger", "MatMulIntegerToFloat", "DynamicQuantizeMatMul"}
_ELEMENT_TYPES = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8, "tensor(int8)": np.int8}


def recognises(source) -> bool:
    """A ``.onnx`` file (whether it parses is for ``load`` to say, in one line)."""
    return isinstance(source, str) and source.lower().endswith(SUFFIX) and os.path.isfile(source)


def load(path, class_names=None) -> OnnxArtifact:
    return OnnxArtifact(path, class_names)


def modes(options) -> list[str]:
    """float32 always; int8 when asked for (``--quantize``) and export draws a calibration set for it."""
    return ["float32"] + (["int8"] if "int8" in options.modes and options.needs_calibration else [])


def onnx_name(stem: str, mode: str) -> str:
    return f"{stem}{SUFFIX}" if mode == "float32" else f"{stem}_{mode}{SUFFIX}"


def outputs(options) -> list[str]:
    """The files ``export`` writes for ``options``: a ``.onnx`` and its JSON sidecar per mode."""
    names = [onnx_name(options.stem, mode) for mode in modes(options)]
    return [file for name in names for file in (name, os.path.basename(sidecars.sidecar_path(name)))]


def export(job) -> None:
    """``model.onnx`` from the Keras model, then ``model_int8.onnx`` quantized from it."""
    with tempfile.TemporaryDirectory(prefix="keras_resnet_onnx_") as scratch:
        model = job.keras_model_to_export()  # the Keras model both files are made from (RGB in: camera)
        with job.times.stage("onnx float32 conversion"):
            float_path = write_float_onnx(model, os.path.join(scratch, "float32.onnx"))
        for mode in modes(job.options):
            source = float_path
            if mode != "float32":
                with job.times.stage(f"onnx {mode} quantization"):
                    source = quantize(float_path, job.calibration, scratch, job.options.progress)
            write_onnx(job, source, mode)


def write_float_onnx(model, path: str) -> str:
    """``model`` as a float32 ONNX file through Keras' own exporter (tf2onnx), its output named ``probabilities``."""
    import onnx

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # Keras' tf2onnx patch probes the removed np.object
            # The model's own input as the signature: Keras otherwise refuses a model loaded but never called.
            model.export(path, format="onnx", verbose=False, input_signature=[model.inputs[0]])
    except Exception as error:
        raise KerasResnetError(f"ONNX export failed ({first_line(error)}): leave onnx out of --formats or "
                               "simplify the model's custom layers") from None
    proto = onnx.load(path)
    _name_output(proto, OUTPUT_NAME)
    onnx.save(proto, path)
    return path


def _name_output(proto, name: str) -> None:
    """Renames the graph's one output (tf2onnx calls it ``Identity:0``) to ``name``."""
    old = proto.graph.output[0].name
    for node in proto.graph.node:
        for values in (node.input, node.output):
            for index, value in enumerate(values):
                if value == old:
                    values[index] = name
    proto.graph.output[0].name = name


def quantize(float_path: str, calibration, scratch: str, progress: bool = False) -> str:
    """The int8 (QDQ) model of ``float_path``, calibrated on the TFLite int8 file's images; returns its path."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from ..calibration import representative_dataset

    prepared, quantized = os.path.join(scratch, "prepared.onnx"), os.path.join(scratch, "int8.onnx")
    # Symbolic shape inference (needs sympy) is for dynamic shapes; ours are fixed but for the batch.
    quant_pre_process(float_path, prepared, skip_symbolic_shape=True)
    name, channels = _image_input(prepared)
    reader = _CalibrationReader(name, representative_dataset(calibration, progress, channels))
    try:
        quantize_static(prepared, quantized, reader, quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    except Exception as error:
        raise KerasResnetError(f"ONNX int8 quantization failed ({first_line(error)}): leave int8 out of "
                               "--quantize or onnx out of --formats") from None
    return quantized


def _image_input(path: str) -> tuple[str, int]:
    """Name and channel count of the model's image input (gray images are repeated for an RGB one)."""
    import onnx

    image = onnx.load(path, load_external_data=False).graph.input[0]
    return image.name, int(image.type.tensor_type.shape.dim[-1].dim_value)


class _CalibrationReader:
    """onnxruntime's ``CalibrationDataReader``: the TFLite converter's representative dataset, ``CALIBRATION_BATCH``
    images a run (MinMax records each tensor's min and max over the whole batch: the same ranges as image by
    image, measured identical at ResNet-50, in half the time)."""

    def __init__(self, input_name: str, dataset):
        self._input_name = input_name
        self._images = dataset()

    def get_next(self):
        batch = [item[0] for item in itertools.islice(self._images, CALIBRATION_BATCH)]
        return {self._input_name: np.concatenate(batch)} if batch else None


def write_onnx(job, source: str, mode: str) -> None:
    """Embeds the metadata into the model at ``source``, verifies it and lands ``<stem>[_int8].onnx`` + sidecar."""
    import onnx

    int8 = mode == "int8"
    info = {**job.info, "format": NAME, "mode": mode, "calibration": job.calibration_info if int8 else None,
            "quantization": QUANTIZATION if int8 else None}
    proto = onnx.load(source)
    embed_metadata(proto, info)
    with job.stage(NAME if mode == "float32" else f"{NAME}_{mode}", onnx_name(job.options.stem, mode)) as stage:
        onnx.save(proto, stage.path)
        artifact = OnnxArtifact(stage.path, job.class_names)
        result = stage.verify(artifact, mode, label=f"ONNX {mode}")
        io = artifact.io()
        info.update({"input": io["input"], "output": io["output"], "opset": _opset(proto), "ops": artifact.ops(),
                     "verification": result, "size_bytes": os.path.getsize(stage.path), "pixels": PIXELS_NOTE})
        artifact.close()
        sidecars.write_sidecar(stage.final, info)


def _opset(proto) -> int | None:
    """The model's ONNX (default domain) opset version."""
    return next((int(item.version) for item in proto.opset_import if item.domain in ("", "ai.onnx")), None)


def embed_metadata(proto, info: dict) -> None:
    """Puts ``info`` (JSON) into ``proto``'s ``metadata_props`` under ``keras_resnet``, replacing an earlier one."""
    import onnx

    props = {entry.key: entry.value for entry in proto.metadata_props}
    props[METADATA_KEY] = json.dumps(info, sort_keys=True)
    onnx.helper.set_model_props(proto, props)


def read_metadata(session) -> dict | None:
    """Our embedded JSON from an onnxruntime session's model, or ``None``."""
    try:
        data = json.loads(session.get_modelmeta().custom_metadata_map[METADATA_KEY])
    except (KeyError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def op_summary(path: str) -> dict:
    """What each op computes in, in the graph onnxruntime runs (after its fusions, which turn DequantizeLinear ->
    Conv -> QuantizeLinear into QLinearConv, before its layout transforms): int8 or float32, with Quantize/Dequantize
    counted apart as conversions, as ``tflite.op_summary`` does. ``float_ops``: the ops left in float32."""
    import onnx
    import onnxruntime

    with tempfile.TemporaryDirectory(prefix="keras_resnet_onnx_ops_") as scratch:
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = os.path.join(scratch, "optimized.onnx")
        options.log_severity_level = 3
        onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        graph = onnx.load(options.optimized_model_filepath).graph
    dtypes = {value.name: value.type.tensor_type.elem_type for value in (*graph.input, *graph.value_info,
                                                                        *graph.output)}
    dtypes.update({tensor.name: tensor.data_type for tensor in graph.initializer})
    kinds, float_ops, op_types = collections.Counter(), collections.Counter(), collections.Counter()
    for node in graph.node:
        op_types[node.op_type] += 1
        dtype = _output_type(node, dtypes)
        for output in node.output:
            dtypes.setdefault(output, dtype)
        if node.op_type in _CONVERSION_OPS:
            kinds["conversion"] += 1
        elif (node.op_type.startswith("QLinear") or node.op_type in _INTEGER_OPS
              or dtype in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8)):
            kinds["int8"] += 1
        elif dtype == onnx.TensorProto.FLOAT:
            kinds["float32"] += 1
            float_ops[node.op_type] += 1
        else:
            kinds[np.dtype(onnx.helper.tensor_dtype_to_np_dtype(dtype)).name if dtype else "unknown"] += 1
    compute = sum(count for kind, count in kinds.items() if kind != "conversion")
    share = round(kinds["int8"] / compute, 4) if compute else 0.0
    return {"ops": sum(kinds.values()), "by_kind": dict(sorted(kinds.items())), "int8_share": share,
            "integer_share": share, "float_ops": dict(sorted(float_ops.items())),
            "op_types": dict(sorted(op_types.items()))}


def _output_type(node, dtypes) -> int:
    """The element type (``onnx.TensorProto``) of ``node``'s first output: as recorded, else from its op."""
    import onnx

    known = dtypes.get(node.output[0]) if node.output else None
    if known:
        return known
    if node.op_type == "QuantizeLinear":
        return dtypes.get(node.input[2], onnx.TensorProto.UINT8) if len(node.input) > 2 else onnx.TensorProto.UINT8
    if node.op_type == "DequantizeLinear":
        return onnx.TensorProto.FLOAT
    if node.op_type == "Cast":
        return next(attribute.i for attribute in node.attribute if attribute.name == "to")
    if node.op_type == "Shape":
        return onnx.TensorProto.INT64
    return next((dtypes[name] for name in node.input if dtypes.get(name)), 0)


def _has_quantize_nodes(path: str) -> bool:
    import onnx

    return any(node.op_type == "QuantizeLinear" for node in onnx.load(path, load_external_data=False).graph.node)


class OnnxArtifact(Artifact):
    """A ``.onnx`` file in onnxruntime (CPU): uint8 images fed as the input's dtype (float32 for ours), one
    session per thread count."""

    kind = NAME

    def __init__(self, path, class_names=None):
        self._sessions = {}
        self._ops = None
        session = self._session(None, path=path)
        inputs = session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise KerasResnetError(f"'{path}' takes {len(inputs)} input(s) of shape "
                                   f"{[item.shape for item in inputs]}: export supports one image input "
                                   "[batch, H, W, C]")
        self._input, self._output = inputs[0], session.get_outputs()[0]
        shape = self._input.shape[1:]
        if not all(isinstance(size, int) for size in shape):
            raise KerasResnetError(f"'{path}' takes images of shape {shape}: a fixed (H, W, C) is needed")
        if self._input.type not in _ELEMENT_TYPES:
            raise KerasResnetError(f"'{path}' takes {self._input.type} images: export supports float32 or uint8 "
                                   "pixels")
        self._input_dtype = _ELEMENT_TYPES[self._input.type]
        embedded = read_metadata(session) or {}
        info = sidecars.read_sidecar(path) or embedded
        names = class_names or info.get("class_names") or sidecars.labels_beside(path)
        super().__init__(path, os.path.basename(path), names, shape, info)
        self.mode = embedded.get("mode") or ("int8" if _has_quantize_nodes(path) else "float32")

    def _session(self, threads, path=None):
        """A cached onnxruntime session with ``threads`` intra-op threads (``None``: all)."""
        import onnxruntime

        count = threads or all_threads()
        if count not in self._sessions:
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = count
            options.log_severity_level = 3  # errors only: no optimizer notes on stderr
            try:
                self._sessions[count] = onnxruntime.InferenceSession(path or self.path, options,
                                                                     providers=["CPUExecutionProvider"])
            except Exception as error:  # onnxruntime's own types: InvalidProtobuf, Fail, InvalidGraph ...
                raise KerasResnetError(f"'{path or self.path}' is not a loadable ONNX model ({first_line(error)}): "
                                       f"{RELOAD_HINT}") from None
        return self._sessions[count]

    def _feed(self, images):
        return {self._input.name: np.asarray(images).astype(self._input_dtype)}

    def _predict_batch(self, images):
        return self._session(None).run([self._output.name], self._feed(images))[0]

    def latency_runner(self, threads):
        session = self._session(threads)
        feed = self._feed(np.zeros((1, *self.input_shape), np.uint8))
        return lambda: session.run([self._output.name], feed)

    def io(self):
        def tensor(arg):
            dtype = np.dtype(_ELEMENT_TYPES[arg.type]).name if arg.type in _ELEMENT_TYPES else arg.type
            return {"name": arg.name, "dtype": dtype,
                    "shape": [size if isinstance(size, int) else None for size in arg.shape], "quantization": None}

        return {"input": tensor(self._input), "output": tensor(self._output)}

    def ops(self):
        if self._ops is None:
            self._ops = op_summary(self.path)
        return self._ops

    def close(self):
        self._sessions.clear()
