"""Export: SavedModel and quantized TFLite artifacts, verified, with a report card.

Installed as ``keras_resnet.export``; knows models only through a model object or a saved artifact.

    from keras_resnet.export import export_all, evaluate_artifacts, load_artifact, benchmark
    result = export_all("runs/resnet20", "export/")        # SavedModel + 5 TFLite modes + report card
    probabilities = load_artifact("export/model_int8.tflite").predict(uint8_images)
"""

from keras_resnet.export.calibration import (DEFAULT_CALIBRATION_SIZE, MIN_CALIBRATION_IMAGES, CalibrationSet,
                                             representative_set)
from keras_resnet.export.latency import benchmark
from keras_resnet.export.pipeline import FORMATS, ExportResult, export_all, parse_formats
from keras_resnet.export.report import evaluate_artifacts, markdown, write_report
from keras_resnet.export.runtime import Artifact, artifact_kind, load_artifact, top_k
from keras_resnet.export.source import float32_model
from keras_resnet.export.tflite import MODES, parse_modes, read_metadata
from keras_resnet.export.verify import FLOAT16_TOLERANCE, FLOAT32_TOLERANCE, VerificationError

__all__ = [
    "Artifact", "CalibrationSet", "DEFAULT_CALIBRATION_SIZE", "ExportResult", "FLOAT16_TOLERANCE",
    "FLOAT32_TOLERANCE", "FORMATS", "MIN_CALIBRATION_IMAGES", "MODES", "VerificationError", "artifact_kind",
    "benchmark", "evaluate_artifacts", "export_all", "float32_model", "load_artifact", "markdown", "parse_formats",
    "parse_modes", "read_metadata", "representative_set", "top_k", "write_report",
]
