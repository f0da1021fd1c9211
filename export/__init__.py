"""Export: SavedModel and quantized TFLite artifacts, verified, with a report card.

Installed as ``keras_resnet.export`` (inside this folder imports are relative, so they name the same
files in the source tree and when installed); knows models only through a model object or a saved
artifact, and never imports training. Every artifact format is one module in ``formats/``, registered
in ``formats/__init__.py``; ``job`` stages and verifies each artifact, ``options`` holds ``ExportOptions``,
``datasets``/``reader`` rebuild and stream the run's data, ``evaluation``/``report`` grade the artifacts.

    from keras_resnet.export import export_all, evaluate, load_artifact, benchmark, ExportOptions
    result = export_all("runs/resnet20", "artifacts/")     # SavedModel + 5 TFLite modes + report card
    report, paths = evaluate(["runs/resnet20", "artifacts/model_int8.tflite"], max_drop=0.5)  # run's held-out split
    probabilities = load_artifact("artifacts/model_int8.tflite").predict(uint8_images)
    export_all(model, "artifacts/", modes="float32,int8,qat", data="bundled", prune=0.5, cluster=16)  # + tfmot
    export_all(model, "artifacts/", ExportOptions(formats="tflite", modes="int8", data="bundled"))
    qat_model = quantization_aware_training(model, train_images, train_labels, epochs=1)  # a tf_keras model
"""

from .calibration import (DEFAULT_CALIBRATION_SIZE, MIN_CALIBRATION_IMAGES, CalibrationSet, calibration_set,
                          representative_set)
from .clustering import clustered_model
from .compression import gzip_size, model_compression, tflite_compression
from .datasets import ExportData, load_export_data
from .evaluation import evaluate
from .formats import FORMATS, artifact_kind, load_artifact, parse_formats
from .latency import benchmark, parse_threads
from .optimize import Optimizations, parse_quantize
from .options import ExportOptions
from .pipeline import ExportResult, export_all
from .prediction import image_files, predict_files, top_k
from .pruning import pruned_model
from .qat import quantization_aware_training, quantization_plan, quantize_aware_model
from .report import evaluate_artifacts, markdown, write_report
from .runtime import Artifact
from .source import float32_model
from .tflite import MODES, parse_modes, read_metadata
from .twin import tf_keras_twin
from .verify import FLOAT16_TOLERANCE, FLOAT32_TOLERANCE, VerificationError

__all__ = [
    "Artifact", "CalibrationSet", "DEFAULT_CALIBRATION_SIZE", "ExportData", "ExportOptions", "ExportResult",
    "FLOAT16_TOLERANCE", "FLOAT32_TOLERANCE", "FORMATS", "MIN_CALIBRATION_IMAGES", "MODES", "Optimizations",
    "VerificationError", "artifact_kind", "benchmark", "calibration_set", "clustered_model", "evaluate",
    "evaluate_artifacts", "export_all", "float32_model", "gzip_size", "image_files", "load_artifact",
    "load_export_data", "markdown", "model_compression", "parse_formats", "parse_modes", "parse_quantize",
    "parse_threads", "predict_files", "pruned_model", "quantization_aware_training", "quantization_plan",
    "quantize_aware_model", "read_metadata", "representative_set", "tf_keras_twin", "tflite_compression", "top_k",
    "write_report",
]
