"""Calibration and held-out images for export and evaluation, shaped for the model's input."""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_resnet.errors import KerasResnetError


@dataclasses.dataclass(frozen=True, eq=False)
class ExportData:
    """Training images (for calibration) and held-out images (for verification and the report)."""

    class_names: list
    train_images: np.ndarray
    train_labels: np.ndarray
    heldout_images: np.ndarray
    heldout_labels: np.ndarray
    source: str
    heldout_split: str

    def describe(self) -> dict:
        return {"source": self.source, "split": self.heldout_split}


def load_export_data(source: str, input_shape, data_dir=None, split: str | None = None) -> ExportData:
    """``load_dataset(source)`` resized to the model's ``(H, W, C)``; held out: ``split``, else test, else validation."""
    from keras_resnet.data import load_dataset

    height, width, channels = input_shape
    options = {"image_size": (height, width), "channels": channels}
    if data_dir:
        options["data_dir"] = data_dir
    splits = load_dataset(source, **options)
    available = splits.splits()
    if split is not None and split not in available:
        raise KerasResnetError(
            f"dataset '{source}' has no {split} split (it has {', '.join(available)}): choose one of those")
    chosen = split or ("test" if "test" in available else "validation" if "validation" in available else None)
    if chosen is None:
        raise KerasResnetError(
            f"dataset '{source}' has no test or validation split to evaluate on: add a test/ folder or use "
            "a source with one")
    heldout = available[chosen]
    return ExportData(list(splits.class_names), splits.train.images, splits.train.labels, heldout.images,
                      heldout.labels, str(source), chosen)


def synthetic_images(count: int, input_shape, seed: int = 0) -> np.ndarray:
    """Deterministic smooth random images, for verifying float artifacts when no data is given."""
    rng = np.random.default_rng(seed)
    height, width, channels = input_shape
    coarse = rng.integers(0, 256, (count, max(1, height // 4), max(1, width // 4), channels)).astype(np.float32)
    from keras_resnet.data.images import resize_images

    return resize_images(coarse.astype(np.uint8), (height, width))
