"""Which trained optimizations an export asks for, checked up front, and the models they make.

``export_all`` takes ``"qat"`` among its TFLite modes and ``prune`` / ``cluster``
options; each becomes a *variant*: a fine-tuned tf_keras model converted next to
the plain artifacts, verified against itself and put on the same report card.

=========  ==================================  ===================================
variant    made by                             .tflite files
=========  ==================================  ===================================
qat        quantization-aware training         ``model_qat_int8``
pruned     magnitude pruning to a sparsity     ``model_pruned_float32`` (+ ``_int8``)
clustered  weight clustering into N values     ``model_clustered_float32`` (+ ``_int8``)
=========  ==================================  ===================================

The pruned and clustered models get an int8 file too when ``int8`` is among the modes.
"""

from __future__ import annotations

import dataclasses
import time

from keras_resnet.errors import KerasResnetError

from .clustering import DEFAULT_CLUSTER_EPOCHS, DEFAULT_CLUSTER_LEARNING_RATE, check_clusters
from .checks import whole_number
from .fine_tune import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, check_epochs, check_learning_rate
from .pruning import DEFAULT_PRUNE_EPOCHS, DEFAULT_PRUNE_LEARNING_RATE, check_sparsity
from .qat import DEFAULT_QAT_EPOCHS, DEFAULT_QAT_LEARNING_RATE

QAT = "qat"
VARIANTS = ("qat", "pruned", "clustered")


def parse_quantize(modes) -> tuple[list[str], bool]:
    """``"int8,qat"`` (or a list) -> (the plain TFLite modes, whether QAT was asked for)."""
    from .tflite import MODES, parse_modes

    names = [str(name).strip().lower().replace("-", "") for name in
             (modes.split(",") if isinstance(modes, str) else modes) if str(name).strip()]
    qat = QAT in names
    rest = [name for name in names if name != QAT]
    for name in rest:
        if name not in (*MODES, "all"):
            raise KerasResnetError(f"unknown quantization mode {name!r}: choose from {', '.join(MODES)}, qat "
                                   "(or all)")
    if "all" in rest:
        rest = list(MODES)
    if not rest and not qat:
        raise KerasResnetError(f"no quantization mode given: choose from {', '.join(MODES)}, qat")
    return (parse_modes(rest) if rest else []), qat


@dataclasses.dataclass(frozen=True)
class Optimizations:
    """What to fine-tune and how; ``check()`` returns a validated copy (one-line errors)."""

    qat: bool = False
    qat_epochs: int = DEFAULT_QAT_EPOCHS
    qat_learning_rate: float = DEFAULT_QAT_LEARNING_RATE
    prune: float | None = None
    prune_epochs: int = DEFAULT_PRUNE_EPOCHS
    prune_learning_rate: float = DEFAULT_PRUNE_LEARNING_RATE
    cluster: int | None = None
    cluster_epochs: int = DEFAULT_CLUSTER_EPOCHS
    cluster_learning_rate: float = DEFAULT_CLUSTER_LEARNING_RATE
    batch_size: int = DEFAULT_BATCH_SIZE

    def check(self) -> "Optimizations":
        values = dataclasses.asdict(self)
        if self.qat:
            values["qat_epochs"] = check_epochs(self.qat_epochs, "--qat-epochs")
            values["qat_learning_rate"] = check_learning_rate(self.qat_learning_rate, "--qat-learning-rate")
        if self.prune is not None:
            values["prune"] = check_sparsity(self.prune)
            values["prune_epochs"] = check_epochs(self.prune_epochs, "--prune-epochs")
            values["prune_learning_rate"] = check_learning_rate(self.prune_learning_rate, "--prune-learning-rate")
        if self.cluster is not None:
            values["cluster"] = check_clusters(self.cluster)
            values["cluster_epochs"] = check_epochs(self.cluster_epochs, "--cluster-epochs")
            values["cluster_learning_rate"] = check_learning_rate(self.cluster_learning_rate,
                                                                  "--cluster-learning-rate")
        values["batch_size"] = whole_number(
            self.batch_size, f"fine-tuning batch size {self.batch_size!r}: use 1 to {MAX_BATCH_SIZE} (default 32)",
            1, MAX_BATCH_SIZE)
        return Optimizations(**values)

    @property
    def requested(self) -> list[str]:
        return [name for name, wanted in zip(VARIANTS, (self.qat, self.prune is not None, self.cluster is not None))
                if wanted]

    def modes(self, variant: str, modes) -> list[str]:
        """The TFLite modes ``variant`` is converted in, given the plain modes asked for."""
        if variant == "qat":
            return ["int8"]
        return ["float32"] + (["int8"] if "int8" in modes else [])

    def needs_calibration(self, modes) -> bool:
        return self.qat or ((self.prune is not None or self.cluster is not None) and "int8" in modes)


@dataclasses.dataclass
class Variant:
    """A fine-tuned tf_keras model to convert, with what made it."""

    name: str
    model: object
    modes: list
    info: dict  # method, options, fine-tuning seconds, Keras weight statistics


def variants(model, options: Optimizations, images, labels, modes, *, check_images=None, seed: int = 0,
             progress: bool = True):
    """Yields each requested ``Variant`` of ``model`` (float32 Keras 3), fine-tuned on ``images``/``labels``."""
    from .compression import model_compression

    common = {"batch_size": options.batch_size, "check_images": check_images, "seed": seed, "progress": progress}
    for name in options.requested:
        began = time.perf_counter()
        if name == "qat":
            from .qat import quantization_aware_training

            selection = {}
            optimized = quantization_aware_training(model, images, labels, epochs=options.qat_epochs,
                                                    learning_rate=options.qat_learning_rate, details=selection,
                                                    **common)
            info = {"method": "quantization-aware training", "epochs": options.qat_epochs,
                    "learning_rate": options.qat_learning_rate, **selection}
        elif name == "pruned":
            from .pruning import pruned_model

            optimized = pruned_model(model, images, labels, sparsity=options.prune, epochs=options.prune_epochs,
                                     learning_rate=options.prune_learning_rate, **common)
            info = {"method": "magnitude pruning (PolynomialDecay)", "target_sparsity": options.prune,
                    "epochs": options.prune_epochs, "learning_rate": options.prune_learning_rate}
        else:
            from .clustering import clustered_model

            optimized = clustered_model(model, images, labels, clusters=options.cluster,
                                        epochs=options.cluster_epochs, learning_rate=options.cluster_learning_rate,
                                        **common)
            info = {"method": "weight clustering (k-means++)", "clusters": options.cluster,
                    "epochs": options.cluster_epochs, "learning_rate": options.cluster_learning_rate}
        info.update({"variant": name, "batch_size": options.batch_size, "training_images": int(len(images)),
                     "fine_tune_seconds": round(time.perf_counter() - began, 2)})
        if name != "qat":
            info["keras_weights"] = model_compression(optimized)
        yield Variant(name, optimized, options.modes(name, modes), info)
