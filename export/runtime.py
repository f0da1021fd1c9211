"""What every artifact offers, whatever its format: raw uint8 images in, class probabilities out.

    artifact = load_artifact("export/model_int8.tflite")   # (formats) or a .keras file, run dir, SavedModel dir
    probabilities = artifact.predict(images)                # uint8 [N, H, W, C] -> float32 [N, classes]

Each format module (``formats/``) subclasses ``Artifact`` to run its kind in its real
runtime: Keras, ``tf.saved_model.load`` or LiteRT's interpreter.
"""

from __future__ import annotations

import concurrent.futures
import os
import time

import numpy as np

from keras_resnet.files import path_size

from .progress import progress_bar


def all_threads() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def with_channels(images, channels: int):
    """Gray images for an RGB-input artifact repeated to 3 channels, RGB ones for a gray artifact made gray
    (``data.images.convert_channels``, as the data loader does); anything else as it is, for ``check_images``."""
    from keras_resnet.data.images import convert_channels

    images = np.asarray(images)
    if images.ndim == 4 and images.dtype == np.uint8 and {images.shape[-1], channels} == {1, 3}:
        return convert_channels(images, channels)
    return images


class Artifact:
    """What every kind offers; subclasses fill in loading and one batch of inference."""

    kind = ""
    mode = "float32"
    # Batches run at once, each on its own copy of the runtime in its own thread: for kernels that use one core
    # whatever they are told (TFLite's int16x8). Subclasses that set it take ``_predict_batch(images, worker)``.
    concurrent_batches = 1

    def __init__(self, path, name, class_names, input_shape, info=None):
        self.path = path
        self.name = name
        self.class_names = class_names
        self.input_shape = tuple(input_shape)
        self.info = info or {}

    @property
    def size_bytes(self) -> int | None:
        return path_size(self.path) if self.path else None

    def predict(self, images, batch_size: int = 32, progress: bool = False, label: str | None = None,
                max_seconds: float | None = None):
        """Probabilities for uint8 ``images`` ``[N, H, W, C]``, in batches of ``batch_size``.

        With ``max_seconds``, stops after the batch that crosses it: the result then
        covers only the first images (at least one batch).
        """
        from .reader import check_images

        images = check_images(with_channels(images, self.input_shape[-1]), self.input_shape,
                              f"images for {self.name}")
        outputs = []
        began = time.perf_counter()
        starts = list(range(0, len(images), batch_size))
        at_once = max(1, min(self.concurrent_batches, len(starts)))
        with progress_bar(len(images), label or f"Running {self.name}", progress) as bar, \
                concurrent.futures.ThreadPoolExecutor(at_once) as pool:
            for group in range(0, len(starts), at_once):
                batches = [images[start:start + batch_size] for start in starts[group:group + at_once]]
                if at_once == 1:
                    results = [self._predict_batch(batches[0])]
                else:  # the runtimes release Python's lock while they compute
                    results = list(pool.map(self._predict_batch, batches, range(len(batches))))
                outputs += [np.asarray(result, np.float32) for result in results]
                bar.update(sum(len(batch) for batch in batches))
                if max_seconds is not None and time.perf_counter() - began > max_seconds:
                    break
        return np.concatenate(outputs) if outputs else np.zeros((0, 0), np.float32)

    def _predict_batch(self, images):
        raise NotImplementedError

    def latency_runner(self, threads: int | None):
        """A no-argument function running one batch-1 inference with ``threads`` threads
        (``None``: all), or ``None`` when this runtime cannot be limited to ``threads``."""
        raise NotImplementedError

    def io(self) -> dict:
        raise NotImplementedError

    def ops(self) -> dict | None:
        return None

    def compression(self) -> dict | None:
        """Size, gzip size and weight statistics of the file, where the format can read its weights."""
        return None

    def close(self):
        pass

    def summary(self) -> dict:
        return {"name": self.name, "path": self.path, "kind": self.kind, "mode": self.mode,
                "size_bytes": self.size_bytes, "input_shape": list(self.input_shape),
                "classes": len(self.class_names) if self.class_names else None, **self.io()}
