"""Standard TFLite Metadata (the ``TFLITE_METADATA`` schema app runtimes read), with a labels file.

MediaPipe Tasks (Android, iOS, web, Python) and the TFLite Task Library read this
to preprocess camera frames and name the classes: input ``ImageProperties`` (colour
space, size) and ``NormalizationOptions`` (our graphs rescale inside, so mean 0 and
std 1: raw 0-255 pixels), output ``TENSOR_AXIS_LABELS`` (``labels.txt``, packed into
the ``.tflite`` as an uncompressed zip, as the schema specifies).

Why not MediaPipe's ``metadata_writers``: the only maintained writer ships inside
``mediapipe``, which needs ``absl-py~=2.3`` while tensorflow-model-optimization 0.8.1
(QAT) pins ``absl-py~=1.2``; pip cannot install both (tflite-support needs
``protobuf<4``, TensorFlow 2.21 ``>=6.31``). So the few tables we need are built here
with ``flatbuffers``, field by field in the schema's order (``metadata_schema.fbs``,
version 1.0.0 features only), and the tests read every file back with MediaPipe's own
``MetadataDisplayer`` and run it in MediaPipe's ``ImageClassifier``.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np

ENTRY_NAME = "TFLITE_METADATA"  # the model's metadata entry app runtimes look for
FILE_IDENTIFIER = b"M001"
MIN_PARSER_VERSION = "1.0.0"  # every field written here is in schema 1.0.0
LABELS_FILE = "labels.txt"

# Enum values and union tags of metadata_schema.fbs.
_RGB, _GRAYSCALE = 1, 2
_TENSOR_AXIS_LABELS = 2
_FEATURE_PROPERTIES, _IMAGE_PROPERTIES = 1, 2
_NORMALIZATION_OPTIONS = 1


def metadata_buffer(info: dict, input_detail: dict) -> bytes:
    """The ``ModelMetadata`` flatbuffer for a classifier with ``info`` (class names, model, mode ...) whose
    input tensor is ``input_detail`` (``tflite.tensor_io``: name, dtype, shape)."""
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    _, height, width, channels = input_detail["shape"]
    colour = "RGB" if channels == 3 else "grayscale"
    float_input = input_detail["dtype"] == "float32"
    pixels = f"{colour} image, {width}x{height}, raw pixel values 0-255 " + (
        "as float32" if float_input else f"as {input_detail['dtype']}")
    normalization = [_process_unit(builder, [0.0] * channels, [1.0] * channels)] if float_input else []
    image = _tensor(builder, "image", pixels, _image_content(builder, channels, width, height),
                    normalization, _stats(builder, [255.0], [0.0]), [])
    labels = _associated_file(builder, LABELS_FILE, "class names, one per line, in output order",
                              _TENSOR_AXIS_LABELS)
    classes = len(info.get("class_names") or [])
    scores = _tensor(builder, "probabilities", f"probability of each of the {classes} classes",
                     _feature_content(builder), [], _stats(builder, [1.0], [0.0]), [labels])
    subgraph = _table(builder, [(2, _vector(builder, [image])), (3, _vector(builder, [scores]))])
    model = info.get("model") or "resnet"
    description = (f"{model} image classifier, {classes} classes, TFLite {info.get('mode', 'float32')}, "
                   f"exported by keras_resnet {info.get('keras_resnet_version', '')}").strip()
    root = _table(builder, [
        (0, builder.CreateString(model)),
        (1, builder.CreateString(description)),
        (2, builder.CreateString(str(info.get("keras_resnet_version", "")))),
        (3, _vector(builder, [subgraph])),
        (4, builder.CreateString("keras_resnet")),
        (7, builder.CreateString(MIN_PARSER_VERSION)),
    ])
    builder.Finish(root, file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def with_associated_files(content: bytes, associated: dict[str, bytes]) -> bytes:
    """``content`` followed by a zip of ``associated`` files, stored uncompressed (the schema's packing)."""
    packed = io.BytesIO()
    packed.write(content)
    with zipfile.ZipFile(packed, "a", zipfile.ZIP_STORED) as archive:
        for name, data in associated.items():
            archive.writestr(name, data)
    return packed.getvalue()


def associated_files(content: bytes) -> dict[str, bytes]:
    """The files packed into a ``.tflite`` (``{}`` when none)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return {name: archive.read(name) for name in archive.namelist()}
    except zipfile.BadZipFile:
        return {}


def labels_file(class_names) -> bytes:
    return "".join(f"{name}\n" for name in class_names).encode("utf-8")


# ---- flatbuffer tables (fields given as (slot, value); unions take two slots: type, then value) ----

def _table(builder, fields):
    """A table of ``fields``: ``(slot, offset)`` for strings, vectors and tables, ``(slot, ("byte"|"uint",
    value))`` for scalars."""
    builder.StartObject(1 + max(slot for slot, _ in fields))
    for slot, value in fields:
        if isinstance(value, tuple):
            kind, number = value
            (builder.PrependUint8Slot if kind == "byte" else builder.PrependUint32Slot)(slot, number, 0)
        else:
            builder.PrependUOffsetTRelativeSlot(slot, value, 0)
    return builder.EndObject()


def _vector(builder, offsets):
    builder.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def _floats(builder, values):
    return builder.CreateNumpyVector(np.asarray(values, np.float32))


def _image_content(builder, channels, width, height):
    size = _table(builder, [(0, ("uint", int(width))), (1, ("uint", int(height)))])
    properties = _table(builder, [(0, ("byte", _RGB if channels == 3 else _GRAYSCALE)), (1, size)])
    return _table(builder, [(0, ("byte", _IMAGE_PROPERTIES)), (1, properties)])


def _feature_content(builder):
    builder.StartObject(0)
    properties = builder.EndObject()
    return _table(builder, [(0, ("byte", _FEATURE_PROPERTIES)), (1, properties)])


def _process_unit(builder, mean, std):
    options = _table(builder, [(0, _floats(builder, mean)), (1, _floats(builder, std))])
    return _table(builder, [(0, ("byte", _NORMALIZATION_OPTIONS)), (1, options)])


def _stats(builder, maximum, minimum):
    return _table(builder, [(0, _floats(builder, maximum)), (1, _floats(builder, minimum))])


def _associated_file(builder, name, description, file_type):
    return _table(builder, [(0, builder.CreateString(name)), (1, builder.CreateString(description)),
                            (2, ("byte", file_type))])


def _tensor(builder, name, description, content, process_units, stats, files):
    fields = [(0, builder.CreateString(name)), (1, builder.CreateString(description)), (3, content)]
    if process_units:
        fields.append((4, _vector(builder, process_units)))
    fields.append((5, stats))
    if files:
        fields.append((6, _vector(builder, files)))
    return _table(builder, fields)
