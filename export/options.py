"""``ExportOptions``: everything ``export_all`` can be told, checked when made.

    options = ExportOptions(modes="float32,int8,qat", qat_epochs=1, data="bundled")
    export_all("runs/resnet20", "export/", options)          # or export_all(..., modes=..., qat_epochs=1)

Every field is normalised (formats and modes to canonical tuples, numbers to
numbers) or refused with a one-line ``KerasResnetError`` naming the option and the
fix, before any file is touched. ``dataclasses.replace`` checks again.
"""

from __future__ import annotations

import dataclasses
import os

from keras_resnet.errors import KerasResnetError

from .calibration import DEFAULT_CALIBRATION_SIZE, MAX_CALIBRATION_IMAGES, MIN_CALIBRATION_IMAGES
from .checks import check_max_drop, real_number, seed_number, whole_number
from .formats import FORMATS, parse_formats
from .optimize import QAT, Optimizations, parse_quantize
from .tflite import FULL_INTEGER_MODES, INT8_IO_TYPES, MODES
from .verify import DEFAULT_MIN_AGREEMENT, DEFAULT_VERIFY_IMAGES, MAX_VERIFY_IMAGES

MAX_LABEL_OFFSET = 1_000_000  # ImageNet TFRecords use 1; anything near this is a typo

# ExportOptions field -> Optimizations field: the settings of the fine-tuned variants (QAT, pruning, clustering).
_FINE_TUNING = {**{field.name: field.name for field in dataclasses.fields(Optimizations)
                   if field.name not in ("qat", "batch_size")}, "fine_tune_batch_size": "batch_size"}


@dataclasses.dataclass(frozen=True)
class ExportOptions:
    """What to export and how (the ``keras-resnet export`` flags); see ``export_all``."""

    formats: tuple = FORMATS  # of formats.FORMATS, or "all"
    modes: tuple = MODES  # TFLite modes (tflite.MODES), plus "qat" for quantization-aware training; or "all"
    class_names: tuple | None = None  # in label order; default: labels_file, the run's labels.txt, else "0".."N-1"
    labels_file: str | None = None
    data: str | None = None  # a load_dataset source for calibration and held-out images (default: the run's)
    data_dir: str | None = None
    label_offset: int | None = None  # subtracted from TFRecord labels (default: the run's recipe, else 0)
    stream: bool | None = None  # keep the data on disk (default: where that cannot change the splits)
    calibration_size: int = DEFAULT_CALIBRATION_SIZE
    seed: int = 0  # of the calibration and verification picks, and of fine-tuning's shuffling
    int8_io: str = "uint8"
    rgb_input: bool | None = None  # artifacts take RGB and convert to the model's channel (default: 1-channel models)
    verify_images: int = DEFAULT_VERIFY_IMAGES
    min_agreement: float = DEFAULT_MIN_AGREEMENT
    evaluate: bool = True  # write the report card (needs held-out labels)
    max_drop: float | None = None  # top-1 points: sets report["gate"]; needs evaluate and labelled held-out data
    latency_runs: int = 50
    eval_seconds: float | None = None  # cap on each artifact's accuracy run in the report
    stem: str = "model"  # file names: <stem>_<mode>.tflite
    progress: bool = True
    qat_epochs: int = Optimizations.qat_epochs
    qat_learning_rate: float = Optimizations.qat_learning_rate
    prune: float | None = None  # target sparsity
    prune_epochs: int = Optimizations.prune_epochs
    prune_learning_rate: float = Optimizations.prune_learning_rate
    cluster: int | None = None  # shared values per kernel
    cluster_epochs: int = Optimizations.cluster_epochs
    cluster_learning_rate: float = Optimizations.cluster_learning_rate
    fine_tune_batch_size: int = Optimizations.batch_size

    def __post_init__(self):
        set_ = lambda field, value: object.__setattr__(self, field, value)  # noqa: E731
        set_("formats", tuple(parse_formats(self.formats)))
        if self.class_names is not None:
            from keras_resnet.data.labels import check_class_names

            set_("class_names", tuple(check_class_names(self.class_names, "class_names")))
        modes, qat = parse_quantize(self.modes)
        set_("modes", tuple(modes) + ((QAT,) if qat else ()))
        set_("int8_io", str(self.int8_io))
        if self.int8_io not in INT8_IO_TYPES:
            raise KerasResnetError(f"unknown int8 I/O type {self.int8_io!r}: choose {' or '.join(INT8_IO_TYPES)}")
        set_("calibration_size", whole_number(
            self.calibration_size, f"calibration size {self.calibration_size!r} is too small or not a whole number: "
            f"use {MIN_CALIBRATION_IMAGES} to {MAX_CALIBRATION_IMAGES} images (default {DEFAULT_CALIBRATION_SIZE})",
            MIN_CALIBRATION_IMAGES, MAX_CALIBRATION_IMAGES))
        set_("verify_images", whole_number(
            self.verify_images, f"verify_images={self.verify_images!r}: verify on 1 to {MAX_VERIFY_IMAGES} images "
            f"(default {DEFAULT_VERIFY_IMAGES})", 1, MAX_VERIFY_IMAGES))
        set_("latency_runs", whole_number(self.latency_runs, f"latency_runs={self.latency_runs!r}: time at least 1 "
                                                             "run (default 50)", 1))
        set_("seed", seed_number(self.seed))
        set_("min_agreement", real_number(self.min_agreement, f"min_agreement={self.min_agreement!r} is outside "
                                                              "0..1: use e.g. 0.8", 0.0, 1.0))
        if self.max_drop is not None:
            set_("max_drop", check_max_drop(self.max_drop))
            if not self.evaluate:
                raise KerasResnetError(f"max_drop={self.max_drop:g} gates on the report card, which --no-report "
                                       "turns off: drop --no-report (or --max-drop)")
        if self.eval_seconds is not None:
            set_("eval_seconds", real_number(self.eval_seconds, f"eval_seconds={self.eval_seconds!r}: give a "
                                                                "positive number of seconds", positive=True))
        if self.label_offset is not None:
            set_("label_offset", whole_number(self.label_offset, f"label_offset={self.label_offset!r}: give a whole "
                                                                 f"number 0 to {MAX_LABEL_OFFSET} (1 for ImageNet "
                                                                 "TFRecords)", 0, MAX_LABEL_OFFSET))
        if self.rgb_input not in (None, True, False):
            raise KerasResnetError(f"rgb_input={self.rgb_input!r}: give True, False or None (automatic)")
        if self.stream not in (None, True, False):
            raise KerasResnetError(f"stream={self.stream!r}: give True, False or None (automatic)")
        for field in ("data", "data_dir", "labels_file"):
            value = getattr(self, field)
            if value is not None:
                set_(field, _path_text(value, field))
        if self.labels_file is not None and not os.path.isfile(self.labels_file):
            raise KerasResnetError(f"no labels file at '{self.labels_file}': give a text file with one class name "
                                   "per line")
        if self.data is not None:
            from .datasets import check_data

            check_data(self.data, self.stream, self.label_offset)
        if not isinstance(self.stem, str) or not self.stem or any(mark in self.stem for mark in "/\\"):
            raise KerasResnetError(f"stem={self.stem!r}: give a plain file name start such as 'model'")
        checked = self.optimizations.check()
        for field, name in _FINE_TUNING.items():
            set_(field, getattr(checked, name))
        if checked.requested and "tflite" not in self.formats:
            raise KerasResnetError("QAT, pruning and clustering make .tflite artifacts: add tflite to --formats")

    @property
    def tflite_modes(self) -> list[str]:
        """The plain TFLite modes to write (none when TFLite is not among the formats)."""
        return [mode for mode in self.modes if mode != QAT] if "tflite" in self.formats else []

    @property
    def optimizations(self) -> Optimizations:
        """The fine-tuned variants asked for, as ``optimize.variants`` takes them."""
        values = {name: getattr(self, field) for field, name in _FINE_TUNING.items()}
        return Optimizations(qat=QAT in self.modes, **values)

    @property
    def needs_calibration(self) -> bool:
        """Whether a full-integer mode (int8, int16x8, QAT) needs a representative set."""
        return (any(mode in FULL_INTEGER_MODES for mode in self.tflite_modes) or self._onnx_int8
                or self.optimizations.needs_calibration(self.tflite_modes))

    @property
    def calibration_needed_by(self) -> list[str]:
        """The modes and variants that need calibration images (for the error when there are none)."""
        return ([mode for mode in self.tflite_modes if mode in FULL_INTEGER_MODES]
                + (["ONNX int8"] if self._onnx_int8 else []) + self.optimizations.requested)

    @property
    def _onnx_int8(self) -> bool:
        return "onnx" in self.formats and "int8" in self.modes


def _path_text(value, field: str) -> str:
    if not isinstance(value, (str, os.PathLike)):
        raise KerasResnetError(f"{field}={value!r}: give a path or name as text")
    return os.fspath(value)
