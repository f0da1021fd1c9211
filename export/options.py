"""``ExportOptions``: everything ``export_all`` can be told, checked when made.

    options = ExportOptions(modes="float32,int8,qat", qat_epochs=1, data="bundled")
    export_all("runs/resnet20", "export/", options)          # or export_all(..., modes=..., qat_epochs=1)

Every field is normalised (formats and modes to canonical tuples, numbers to
numbers) or refused with a one-line ``KerasResnetError`` naming the option and the
fix, before any file is touched. ``dataclasses.replace`` checks again.
"""

from __future__ import annotations

import dataclasses

from keras_resnet.errors import KerasResnetError

from .calibration import DEFAULT_CALIBRATION_SIZE, MIN_CALIBRATION_IMAGES
from .fine_tune import as_number
from .formats import FORMATS, parse_formats
from .optimize import QAT, Optimizations, parse_quantize
from .tflite import FULL_INTEGER_MODES, INT8_IO_TYPES, MODES
from .verify import DEFAULT_MIN_AGREEMENT, DEFAULT_VERIFY_IMAGES

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
    calibration_size: int = DEFAULT_CALIBRATION_SIZE
    seed: int = 0  # of the calibration and verification picks, and of fine-tuning's shuffling
    int8_io: str = "uint8"
    verify_images: int = DEFAULT_VERIFY_IMAGES
    min_agreement: float = DEFAULT_MIN_AGREEMENT
    evaluate: bool = True  # write the report card (needs held-out labels)
    max_drop: float | None = None  # top-1 points: sets report["gate"]
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
        set_("calibration_size", _whole(self.calibration_size, MIN_CALIBRATION_IMAGES,
                                        f"calibration size {self.calibration_size} is too small: use at least "
                                        f"{MIN_CALIBRATION_IMAGES} images (default {DEFAULT_CALIBRATION_SIZE})"))
        set_("verify_images", _whole(self.verify_images, 1, f"verify_images={self.verify_images}: verify on at "
                                                            f"least 1 image (default {DEFAULT_VERIFY_IMAGES})"))
        set_("latency_runs", _whole(self.latency_runs, 1, f"latency_runs={self.latency_runs}: time at least 1 run "
                                                          "(default 50)"))
        set_("seed", _whole(self.seed, 0, f"seed={self.seed!r}: give a whole number >= 0"))
        if not 0.0 <= as_number(self.min_agreement) <= 1.0:
            raise KerasResnetError(f"min_agreement={self.min_agreement} is outside 0..1: use e.g. 0.8")
        set_("min_agreement", float(self.min_agreement))
        if self.max_drop is not None:
            set_("max_drop", _number(self.max_drop, f"max_drop={self.max_drop!r}: give top-1 points, e.g. 0.5"))
        if self.eval_seconds is not None:
            set_("eval_seconds", _number(self.eval_seconds, f"eval_seconds={self.eval_seconds!r}: give a positive "
                                                            "number of seconds", positive=True))
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
        return (any(mode in FULL_INTEGER_MODES for mode in self.tflite_modes)
                or self.optimizations.needs_calibration(self.tflite_modes))

    @property
    def calibration_needed_by(self) -> list[str]:
        """The modes and variants that need calibration images (for the error when there are none)."""
        return [mode for mode in self.tflite_modes if mode in FULL_INTEGER_MODES] + self.optimizations.requested


def _number(value, message: str, positive: bool = False) -> float:
    number = as_number(value)
    if isinstance(value, bool) or number != number or (positive and number <= 0):  # NaN: not a number
        raise KerasResnetError(message)
    return number


def _whole(value, minimum: int, message: str) -> int:
    number = as_number(value)
    if isinstance(value, bool) or not number.is_integer() or number < minimum:
        raise KerasResnetError(message)
    return int(number)
