"""The artifact format registry: one module per format, one line each in ``REGISTRY``.

Export writes, verifies and loads through it; evaluate, predict and benchmark load
through it. Each format module has:

=================  ==================================================================
``NAME``           the artifact kind (``Artifact.kind``) and its ``--formats`` name
``DESCRIPTIONS``   how a user gives one, for error messages (``"a .tflite file"``)
``recognises(s)``  whether ``s`` (a path that exists, or an in-memory object) is one
``load(s, names)`` an ``Artifact`` running it in its real runtime
``export(job)``    writes its artifacts for ``export_all`` through ``job.stage`` (a
                   staged path, verified, then moved into place); ``None``: load only
``outputs(opts)``  the file and folder names ``export`` writes for ``ExportOptions``
                   (the export folder's manifest owns them); only where ``export`` is set
=================  ==================================================================

A new format is one module with those six names, registered below: ONNX, for one, is
``export/formats/onnx.py``, ``onnx`` on the import line and ``onnx,`` in ``REGISTRY``.
Order matters: the first format that recognises a path wins, and the report's float
reference is the first float32, not fine-tuned artifact in this order.
"""

from __future__ import annotations

import os

from keras_resnet.errors import KerasResnetError

from ..runtime import Artifact
from . import keras_model, onnx, saved_model, tflite

REGISTRY = (
    keras_model,  # .keras / run folder: the float reference, loaded but not written
    saved_model,
    tflite,
    onnx,
)

KINDS = tuple(module.NAME for module in REGISTRY)
FORMATS = tuple(module.NAME for module in REGISTRY if module.export is not None)  # what export can write
_DESCRIPTIONS = [description for module in REGISTRY for description in module.DESCRIPTIONS]
ARTIFACT_HELP = f"give {', '.join(_DESCRIPTIONS[:-1])} or {_DESCRIPTIONS[-1]}"


def parse_formats(formats) -> list[str]:
    """``"tflite,saved_model"``, a list, or ``"all"`` -> export format names in registry order."""
    names = [str(name).strip().lower().replace("-", "_") for name in
             (formats.split(",") if isinstance(formats, str) else formats) if str(name).strip()]
    if names == ["all"]:
        return list(FORMATS)
    for name in names:
        if name not in FORMATS:
            raise KerasResnetError(f"unknown export format {name!r}: choose from {', '.join(FORMATS)} (or 'all')")
    if not names:
        raise KerasResnetError(f"no export format given: choose from {', '.join(FORMATS)}")
    return [name for name in FORMATS if name in names]


def exporters(names) -> list:
    """The format modules that write ``names`` (already parsed), in registry order."""
    return [module for module in REGISTRY if module.NAME in names and module.export is not None]


def planned_outputs(options) -> list[str]:
    """Every file and folder name the formats of ``options`` write into the export folder, in registry order."""
    return [name for module in exporters(options.formats) for name in module.outputs(options)]


def _normalized(source):
    """A path as ``str`` (an error when nothing is there); anything else as it is."""
    if not isinstance(source, (str, os.PathLike)):
        return source
    path = os.fspath(source)
    if not os.path.exists(path):
        raise KerasResnetError(f"no model at '{path}': {ARTIFACT_HELP}")
    if not os.access(path, os.R_OK):
        raise KerasResnetError(f"cannot read '{path}' (permission denied): fix its permissions")
    return path


def format_of(source):
    """The format module of ``source`` (a path or an in-memory model); a one-line error when none fits."""
    source = _normalized(source)
    for module in REGISTRY:
        if module.recognises(source):
            return module
    if not isinstance(source, str):
        raise KerasResnetError(f"{type(source).__name__} object is not a model: {ARTIFACT_HELP}")
    if os.path.isdir(source):
        raise KerasResnetError(f"'{source}' is a folder with no model in it: {ARTIFACT_HELP}")
    raise KerasResnetError(f"'{source}' is not a model: {ARTIFACT_HELP}")


def artifact_kind(source) -> str:
    """``keras``, ``saved_model``, ``tflite``, ``onnx`` from what is at ``source``; a one-line error otherwise."""
    return format_of(source).NAME


def load_artifact(source, class_names=None) -> Artifact:
    """Any registered artifact (a Keras model object, ``.keras`` file, run folder, SavedModel folder,
    ``.tflite`` or ``.onnx`` file) as an ``Artifact``; an ``Artifact`` is returned as it is."""
    if isinstance(source, Artifact):
        return source
    source = _normalized(source)
    return format_of(source).load(source, class_names)


def reference_index(artifacts) -> int | None:
    """Index of the float reference among loaded ``artifacts``: the first float32 one, in registry order,
    that was not fine-tuned (pruned and clustered models are compared against it); ``None`` if none."""
    for module in REGISTRY:
        for index, artifact in enumerate(artifacts):
            fine_tuned = bool((artifact.info or {}).get("optimization"))
            if artifact.kind == module.NAME and artifact.mode == "float32" and not fine_tuned:
                return index
    return None
