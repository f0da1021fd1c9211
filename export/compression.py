"""What pruning and clustering buy: gzip size, weight sparsity and distinct weight values.

A pruned or clustered model is no smaller as a plain file (zeros and repeated values
take as many bytes as any others); it compresses better. So we report the gzip size
next to the file size, and measure the weights where they end up: in the ``.tflite``
(conv, depthwise and fully-connected weight tensors, after BatchNorm folding and
quantization) and in the Keras model. Distinct values are counted per output
channel, because folding BatchNorm scales each output channel of a clustered
kernel by its own factor (a 16-cluster kernel still has at most 16 values per
channel).
"""

from __future__ import annotations

import gzip
import os

import numpy as np

# TFLite weight operand of each op, and the output-channel axis of that tensor.
_WEIGHT_OPS = {"CONV_2D": (1, 0), "DEPTHWISE_CONV_2D": (1, 3), "FULLY_CONNECTED": (1, 0)}
_TFLITE_DTYPES = {0: np.float32, 1: np.float16, 9: np.int8, 3: np.uint8}


def gzip_size(source) -> int:
    """Bytes of ``source`` (a path or bytes) after gzip (level 6, as zip tools default to)."""
    if not isinstance(source, (bytes, bytearray)):
        with open(os.fspath(source), "rb") as file:
            source = file.read()
    return len(gzip.compress(bytes(source), compresslevel=6, mtime=0))


def weight_stats(kernels) -> dict:
    """Sparsity and distinct values over ``[(array, output_channel_axis), ...]``."""
    total = zeros = 0
    per_channel = []
    for array, axis in kernels:
        array = np.asarray(array)
        total += array.size
        zeros += int(np.count_nonzero(array == 0))
        channels = np.moveaxis(array, axis, 0).reshape(array.shape[axis], -1)
        per_channel += [len(np.unique(channel)) for channel in channels]
    return {
        "weight_tensors": len(kernels),
        "weights": int(total),
        "sparsity": round(zeros / total, 4) if total else 0.0,
        "max_unique_per_channel": int(max(per_channel)) if per_channel else 0,
        "mean_unique_per_channel": round(float(np.mean(per_channel)), 2) if per_channel else 0.0,
    }


def model_kernels(model) -> list:
    """``(kernel, output axis)`` of every Conv2D / DepthwiseConv2D / Dense layer of a Keras or tf_keras model."""
    kernels = []
    for layer in model.layers:
        kind = layer.__class__.__name__
        if kind in ("Conv2D", "Dense") and getattr(layer, "kernel", None) is not None:
            kernels.append((np.asarray(layer.kernel), -1))
        elif kind == "DepthwiseConv2D":
            kernels.append((np.asarray(layer.depthwise_kernel), 2))
    return kernels


def tflite_kernels(content: bytes) -> list:
    """``(weights, output axis)`` of every conv / depthwise / fully-connected op's constant weights."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    names = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    kernels, seen = [], set()
    for subgraph in model.subgraphs or []:
        for op in subgraph.operators or []:
            code = model.operatorCodes[op.opcodeIndex]
            builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
            slot = _WEIGHT_OPS.get(names.get(builtin))
            if slot is None or len(op.inputs) <= slot[0] or op.inputs[slot[0]] < 0:
                continue
            tensor = subgraph.tensors[op.inputs[slot[0]]]
            buffer = model.buffers[tensor.buffer]
            dtype = _TFLITE_DTYPES.get(tensor.type)
            if dtype is None or buffer.data is None or (id(subgraph), tensor.buffer) in seen:
                continue
            seen.add((id(subgraph), tensor.buffer))
            data = np.frombuffer(np.asarray(buffer.data, np.uint8).tobytes(), dtype)
            shape = [int(size) for size in tensor.shape]
            if data.size != int(np.prod(shape)):
                continue
            kernels.append((data.reshape(shape), slot[1]))
    return kernels


def tflite_compression(path) -> dict:
    """Size, gzip size and weight statistics of a ``.tflite`` file (any mode)."""
    with open(os.fspath(path), "rb") as file:
        content = file.read()
    return {"size_bytes": len(content), "gzip_bytes": gzip_size(content), **weight_stats(tflite_kernels(content))}


def model_compression(model) -> dict:
    """Weight statistics of a Keras or tf_keras model's kernels."""
    return weight_stats(model_kernels(model))
