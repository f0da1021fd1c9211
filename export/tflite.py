"""TFLite conversion in five modes, class names in the flatbuffer, and what each op computes in.

One switch on the mode sets the converter up; everything else is shared:

========  ======================================  =================================
mode      weights / activations                   input -> output
========  ======================================  =================================
float32   float32 / float32                       float32 pixels 0-255 -> float32
float16   float16 (dequantized at load) / float32 float32 pixels 0-255 -> float32
dynamic   int8 / float32 (int8 inside big ops)    float32 pixels 0-255 -> float32
int8      int8 / int8, calibrated                 uint8 (or int8) raw pixels -> uint8 (or int8)
int16x8   int8 / int16, calibrated                float32 pixels 0-255 -> float32
========  ======================================  =================================

The model's own Rescaling layer stays inside the graph, so every mode takes raw
pixel values; with uint8 I/O the int8 model's input has scale 1 and zero point 0.
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import warnings

import numpy as np

from keras_resnet.errors import KerasResnetError, first_line
from keras_resnet.startup import native_output_captured

MODES = ("float32", "float16", "dynamic", "int8", "int16x8")
FULL_INTEGER_MODES = ("int8", "int16x8")
FLOAT_MODES = ("float32", "float16")
INT8_IO_TYPES = ("uint8", "int8")
METADATA_NAME = "keras_resnet"  # our entry in the flatbuffer's metadata: JSON with class names and more
SIGNATURE = "serving_default"
_CONVERSION_OPS = {"QUANTIZE", "DEQUANTIZE"}


def parse_modes(modes) -> list[str]:
    """``"int8,float32"``, a list, or ``"all"`` -> known modes in canonical order; errors name the bad one."""
    names = _split(modes)
    if names == ["all"]:
        return list(MODES)
    for name in names:
        if name not in MODES:
            raise KerasResnetError(
                f"unknown quantization mode {name!r}: choose from {', '.join(MODES)} (or 'all')"
            )
    if not names:
        raise KerasResnetError(f"no quantization mode given: choose from {', '.join(MODES)}")
    return [mode for mode in MODES if mode in names]


def _split(values) -> list[str]:
    if isinstance(values, str):
        values = values.split(",")
    return [str(value).strip().lower().replace("-", "") for value in values if str(value).strip()]


def write_conversion_source(model, folder: str, input_shape, rgb_input: bool = False) -> str:
    """A SavedModel of the float graph (float32 pixels in, ``probabilities`` out) to convert from.

    Only the variables are tracked, not the Keras model object, so the converter
    sees them as constants: it folds BatchNorm into the convolutions and drops
    resource-variable ops. With ``rgb_input`` the graph takes RGB frames and makes
    them gray for the 1-channel model (``camera``).

    Keras 3's ``model.export(format="litert")`` traces the model once per call and
    tracks the Keras object; one traced graph here serves all five modes and every
    fine-tuned (tf_keras) variant, which Keras' exporter cannot take.
    """
    import tensorflow as tf

    from .camera import artifact_input_shape, model_pixels

    input_shape = artifact_input_shape(input_shape, rgb_input)
    root = tf.Module()
    # Keras 3 variables wrap a tf.Variable (.value); tf_keras ones (QAT, pruning) are tf.Variables.
    root.model_variables = [variable if isinstance(variable, tf.Variable) else variable.value
                            for variable in model.variables]

    @tf.function(input_signature=[tf.TensorSpec([None, *input_shape], tf.float32, name="image")],
                 autograph=False)
    def serve(image):
        return {"probabilities": tf.cast(model(model_pixels(image, rgb_input), training=False), tf.float32)}

    root.serve = serve
    tf.saved_model.save(root, folder, signatures={SIGNATURE: serve})
    return folder


def convert(source_dir: str, mode: str, representative_dataset=None, int8_io: str = "uint8",
            calibrated: bytes | None = None) -> bytes:
    """Converts the SavedModel at ``source_dir`` in ``mode``; full-integer modes need the dataset, or the
    ``calibrated`` model (``calibrate``) of that SavedModel, which skips their calibration pass. They calibrate
    through ``calibrate`` (the converter's own pass would record wrong ranges: ``calibration_model``) and
    quantize as the converter does."""
    import tensorflow as tf

    if mode not in MODES:
        raise KerasResnetError(f"unknown quantization mode {mode!r}: choose from {', '.join(MODES)}")
    if int8_io not in INT8_IO_TYPES:
        raise KerasResnetError(f"unknown int8 I/O type {int8_io!r}: choose uint8 or int8")
    if mode in FULL_INTEGER_MODES:
        if calibrated is None:
            if representative_dataset is None:
                raise KerasResnetError(f"{mode} needs calibration images: give training data (--data)")
            calibrated = calibrate(calibration_model(source_dir), representative_dataset)
        return _converted(lambda: _quantize_calibrated(calibrated, mode, int8_io), mode)
    converter = tf.lite.TFLiteConverter.from_saved_model(source_dir, signature_keys=[SIGNATURE])
    if mode != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    return _converted(converter.convert, mode)


def calibration_model(source_dir: str, keep_every_tensor: bool = True) -> bytes:
    """The float model of the SavedModel at ``source_dir`` as TFLite's calibrator takes it, before any image is
    fed: ``calibrate`` feeds it, here or in a helper process.

    It is what ``TFLiteConverter._quantize`` (``lite.py``, TF 2.18-2.21) calibrates in a full-integer
    conversion; here ``_quantize`` returns it. Private TF API: pinned by setup.py; the tests check that
    ``calibrate`` on it (``keep_every_tensor=False``) gives the converter's own calibrated model, byte for byte.

    ``keep_every_tensor``: every tensor an op computes is made an output of the graph too (``calibrate``
    takes them out again), so that no op runs in place over its input. The calibrator records an op's inputs
    again after the op ran; an input whose buffer the op reused for its output gets the output's range
    (tensorflow/tensorflow#127842). In a ResNet that is the residual branch before each addition: it took the
    addition's range, up to 2.9x wider than its own. On dimmed digits (ResNet-20 v2, brightness 1/100 to 1,
    3 seeds) int8 lost 0.90 points against float that way and 0.37 with each tensor's own range.
    """
    import tensorflow as tf
    from tensorflow.lite.python.optimize import calibrator

    converter = tf.lite.TFLiteConverter.from_saved_model(source_dir, signature_keys=[SIGNATURE])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter(())  # required by the checks, never fed: we stop before
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    # Where the converter would calibrate and quantize, it returns the model as the calibrator takes it.
    converter._quantize = lambda model, *unused: calibrator.add_intermediate_tensors(model)
    model = _converted(converter.convert, "calibration")
    return _with_outputs(model, every_tensor=True) if keep_every_tensor else model


def _with_outputs(model: bytes, every_tensor: bool) -> bytes:
    """``model`` whose signed subgraphs output every tensor their ops compute (``every_tensor``), or only what
    their signatures name (as converted)."""
    from tensorflow.lite.tools import flatbuffer_utils

    unpacked = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    for signature in unpacked.signatureDefs or ():
        graph = unpacked.subgraphs[signature.subgraphIndex]
        signed = [int(index) for index in graph.outputs if index in {out.tensorIndex for out in signature.outputs}]
        computed = [int(index) for op in graph.operators for index in op.outputs
                    if index >= 0 and index not in signed] if every_tensor else []
        graph.outputs = np.asarray(signed + list(dict.fromkeys(computed)), np.int32)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(unpacked))


def calibrate(model: bytes, representative_dataset) -> bytes:
    """``model`` (``calibration_model``) with every tensor's range recorded from one pass over the dataset,
    its outputs those its signature names.

    TFLiteConverter's int8 and int16x8 each calibrate on their own: the same pass over the same images, and
    most of their conversion time. From this model both quantize in a fraction of a second (``convert``), as
    the converter would from it (tested: outputs identical to the converter's own from its own calibration).
    """
    from tensorflow.lite.python import lite
    from tensorflow.lite.python.optimize.calibrator import Calibrator

    def run():
        calibrated = bytes(Calibrator(model).calibrate(representative_dataset))
        return lite._deduplicate_readonly_buffers(_with_outputs(calibrated, every_tensor=False))

    return _converted(run, "calibration")


def _quantize_calibrated(calibrated: bytes, mode: str, int8_io: str) -> bytes:
    """The last step of TFLiteConverter's full-integer conversion (``lite.py``, ``_quantize`` and
    ``_optimize_tflite_model``, TF 2.18-2.21), on a model ``calibrate`` made: the MLIR quantizer for int8,
    the older one for int16 activations, as the converter chooses. Private TF APIs: the version range in
    setup.py pins them, and the tests compare the results with the converter's own."""
    import numpy as np
    import tensorflow as tf
    from tensorflow.lite.python import lite
    from tensorflow.lite.python.convert import mlir_quantize
    from tensorflow.lite.python.optimize.calibrator import Calibrator

    if mode == "int8":
        io_type = getattr(tf, int8_io)
        model = mlir_quantize(calibrated, False, input_data_type=io_type, output_data_type=io_type)
    else:  # int16x8: the recorded ranges are read from the model; nothing is fed again
        number = lambda dtype: np.dtype(dtype).num  # noqa: E731
        model = Calibrator(calibrated)._calibrator.QuantizeModel(
            number(np.float32), number(np.float32), False, number(np.int16), number(np.int64), False, False)
    return lite._deduplicate_readonly_buffers(model)


def _converted(run, mode: str) -> bytes:
    """``run()``'s model as bytes, the converter's chatter silenced and its failure in one line."""
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), native_output_captured(2):
            warnings.simplefilter("ignore")  # "Statistics for quantized inputs were expected ..."
            return bytes(run())
    except KerasResnetError:
        raise
    except Exception as error:
        reason = first_line(error, 200)
        raise KerasResnetError(
            f"TFLite {mode} conversion failed ({reason}): export the other modes (--quantize) "
            "or simplify the model's custom ops"
        ) from None


def embed_metadata(content: bytes, info: dict) -> bytes:
    """``content`` with ``info`` (JSON) as flatbuffer metadata named ``keras_resnet``, the standard TFLite
    Metadata app runtimes read (``tflite_metadata``: image input, class labels), and ``labels.txt`` packed in.

    Uses TensorFlow's own flatbuffer helpers, the ones the converter uses for its
    conversion metadata. Any earlier entries of these names are replaced.
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    from .tflite_metadata import ENTRY_NAME, LABELS_FILE, labels_file, metadata_buffer, with_associated_files

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    subgraph = model.subgraphs[0]
    tensor = subgraph.tensors[subgraph.inputs[0]]
    types = {value: name.lower() for name, value in vars(schema.TensorType).items() if not name.startswith("_")}
    input_detail = {"dtype": types[tensor.type], "shape": [int(size) for size in tensor.shape]}
    entries = {METADATA_NAME: json.dumps(info, sort_keys=True).encode("utf-8"),
               ENTRY_NAME: metadata_buffer(info, input_detail)}
    kept = [item for item in (model.metadata or []) if _text(item.name) not in entries]
    model.buffers = list(model.buffers or [])
    for name, data in entries.items():
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(data, np.uint8)
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name = name
        entry.buffer = len(model.buffers) - 1
        kept.append(entry)
    model.metadata = kept
    packed = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    return with_associated_files(packed, {LABELS_FILE: labels_file(info.get("class_names") or [])})


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def read_metadata(source) -> dict | None:
    """Our embedded JSON from a ``.tflite`` path or its bytes, or ``None``."""
    from tensorflow.lite.python import schema_py_generated as schema

    if not isinstance(source, (bytes, bytearray)):
        with open(source, "rb") as file:
            source = file.read()
    try:
        model = schema.Model.GetRootAs(source, 0)
        for index in range(model.MetadataLength()):
            entry = model.Metadata(index)
            if _text(entry.Name()) == METADATA_NAME:
                data = model.Buffers(entry.Buffer()).DataAsNumpy()
                return json.loads(bytes(data).decode("utf-8")) if not isinstance(data, int) else None
    except Exception:  # a foreign or damaged flatbuffer has no metadata of ours
        return None
    return None


def is_tflite_file(path: str) -> bool:
    """Whether ``path`` starts like a TFLite flatbuffer (file identifier ``TFL3``)."""
    try:
        with open(path, "rb") as file:
            return file.read(8)[4:8] == b"TFL3"
    except OSError:
        return False


def tensor_io(detail: dict) -> dict:
    """An interpreter input/output detail as plain JSON: name, dtype, shape, quantization."""
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return {
        "name": detail["name"],
        "dtype": np.dtype(detail["dtype"]).name,
        "shape": [int(size) for size in detail["shape"]],
        "quantization": {"scale": float(scale), "zero_point": int(zero_point)} if scale else None,
    }


def op_summary(interpreter) -> dict:
    """What each op computes in: int8, int16 (16x8), hybrid (int8 weights, float math), float32.

    QUANTIZE/DEQUANTIZE are counted apart as conversions. ``integer_share`` is the
    fraction of the other ops that run in integer arithmetic; ``float_ops`` lists
    the ops left in float32 (in a full-integer model: the fallbacks).
    """
    tensors = {detail["index"]: detail for detail in interpreter.get_tensor_details()}
    kinds = collections.Counter()
    float_ops = collections.Counter()
    for op in interpreter._get_ops_details():  # the public API has no per-op view
        name = op["op_name"]
        if name in _CONVERSION_OPS:
            kinds["conversion"] += 1
            continue
        outputs = [tensors[index]["dtype"] for index in op["outputs"] if index in tensors]
        inputs = [tensors[index]["dtype"] for index in op["inputs"] if index >= 0 and index in tensors]
        dtype = np.dtype(outputs[0]) if outputs else np.dtype(np.float32)
        if dtype in (np.int8, np.uint8):
            kinds["int8"] += 1
        elif dtype == np.int16:
            kinds["int16"] += 1
        elif dtype == np.float32 and any(np.dtype(item) == np.int8 for item in inputs):
            kinds["hybrid"] += 1
        elif dtype == np.float32:
            kinds["float32"] += 1
            float_ops[name] += 1
        else:
            kinds[dtype.name] += 1
    compute = sum(count for kind, count in kinds.items() if kind != "conversion")
    integer = kinds["int8"] + kinds["int16"]
    return {
        "ops": sum(kinds.values()),
        "by_kind": dict(sorted(kinds.items())),
        "int8_share": round(kinds["int8"] / compute, 4) if compute else 0.0,
        "integer_share": round(integer / compute, 4) if compute else 0.0,
        "float_ops": dict(sorted(float_ops.items())),
        "has_float16_weights": any(np.dtype(t["dtype"]) == np.float16 for t in tensors.values()),
    }


def infer_mode(summary: dict, input_dtype: str) -> str:
    """The export mode a ``.tflite`` was made with, read from its tensors."""
    kinds = summary["by_kind"]
    if kinds.get("int16"):
        return "int16x8"
    if kinds.get("int8") or input_dtype in ("int8", "uint8"):
        return "int8"
    if kinds.get("hybrid"):
        return "dynamic"
    if summary["has_float16_weights"]:
        return "float16"
    return "float32"


def tflite_name(stem: str, mode: str) -> str:
    return f"{stem}_{mode}.tflite"
