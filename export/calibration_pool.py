"""Full-integer calibration on every core: helper processes take images from the same list as this one.

TFLite's calibrator runs the float model image by image on one thread (at 224x224 a
ResNet-50 takes ~0.5 s an image, most of an export). It records each tensor's running
min and max, so calibrating disjoint parts of the set and taking the min of the mins
and the max of the maxes gives the very model one pass over the whole set gives
(``merge_ranges``; the tests compare the bytes). Helpers are separate Python processes
(``python -m keras_resnet.export.calibration_pool``, never a fork of the caller's
process or a re-run of its script) that claim images one at a time by creating a claim
file: whoever creates ``claims/<i>`` first calibrates image ``i``. This process converts
the model to the calibrator's form once (``tflite.calibration_model``); helpers read it
from the scratch folder, so starting one costs only its Python and TensorFlow imports.
They start only when the first image shows that calibration has more than
``HELPER_WORTH_SECONDS`` left, and one still starting when every image is claimed gets
none and is stopped, so a small model never waits for one. Between the first image and
the rest (``CalibrationPool``), this process can do other work while the helpers
calibrate: export converts the float TFLite modes there.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

from keras_resnet.errors import KerasResnetError

from .progress import progress_bar
from .runtime import all_threads

MAX_HELPERS = 3  # each holds TensorFlow and the float model (~1 GB at ResNet-50)
HELPER_WORTH_SECONDS = 10.0  # a helper needs a few seconds to start (TensorFlow, the float model): not for less
IMAGES_FILE, MODEL_FILE, CLAIMS_DIR = "images.npy", "model.tflite", "claims"


def default_helpers() -> int:
    """One helper per core beyond this process's, at most ``MAX_HELPERS``."""
    return max(0, min(all_threads() - 1, MAX_HELPERS))


def calibrate_on_all_cores(source_dir: str, images: np.ndarray, *, helpers: int | None = None,
                           progress: bool = False, own_share: bool = True) -> tuple[bytes, list[int]]:
    """``tflite.calibrate`` of the SavedModel at ``source_dir`` over uint8 ``images`` (as the graph takes
    them), shared with up to ``helpers`` processes: ``CalibrationPool`` started and finished at once. Returns
    the calibrated model and how many images each process calibrated (this one first)."""
    with CalibrationPool(source_dir, images, helpers=helpers, progress=progress, own_share=own_share) as pool:
        return pool.finish()


class CalibrationPool:
    """One calibration shared by this process and helper processes, in two steps with other work between:

        with CalibrationPool(graph, images) as pool:   # the calibrator's model; the first image; helpers start
            ...                                        # this process converts the float modes meanwhile
            calibrated, shares = pool.finish()         # it takes the images left, then merges every share

    Helpers (up to ``helpers``, default ``default_helpers()``) start when the first image shows that more
    than ``HELPER_WORTH_SECONDS`` of calibration are left. ``own_share=False``: they start at once and take
    every image; this process only merges.
    """

    def __init__(self, source_dir: str, images: np.ndarray, *, helpers: int | None = None, progress: bool = False,
                 own_share: bool = True):
        from .tflite import calibration_model

        self.images, self.progress, self.own_share = images, progress, own_share
        self.model = calibration_model(source_dir)
        self._scratch = tempfile.TemporaryDirectory(prefix="keras_resnet_calibration_")
        self.scratch = self._scratch.name
        os.mkdir(os.path.join(self.scratch, CLAIMS_DIR))
        count = default_helpers() if helpers is None else max(0, int(helpers))
        self.helpers = _Helpers(self.scratch, count, images, self.model)
        self.shares = []  # what this process calibrated so far: models to merge
        try:
            if not own_share:
                self.helpers.start()
                return
            clock = []
            self.shares.append(self._calibrate_own(limit=1, clock=clock))
            if count and (clock[-1] - clock[0]) * (len(images) - 1) > HELPER_WORTH_SECONDS:
                self.helpers.start()
        except BaseException:
            self.__exit__()
            raise

    def __enter__(self) -> CalibrationPool:
        return self

    def __exit__(self, *unused) -> None:
        self.helpers.stop()
        self._scratch.cleanup()

    def _calibrate_own(self, limit=None, bar=None, clock=None) -> bytes | None:
        """The calibrated model of the images this process claims (up to ``limit``), or ``None`` for none."""
        from .tflite import calibrate

        claims = _claims(self.scratch, len(self.images), "main", limit, bar)
        first = next(claims, None)
        return None if first is None else calibrate(self.model, _feed(self.images, first, claims, clock))

    def finish(self) -> tuple[bytes, list[int]]:
        """This process takes the images nobody claimed yet; returns the merged model and each process's count
        (this one first). A helper that failed has its images calibrated here, with a warning."""
        from .tflite import calibrate

        total = len(self.images)
        with progress_bar(total, "Calibrating", self.progress) as bar:
            if self.own_share:
                self.shares.append(self._calibrate_own(bar=bar))
            else:
                _wait_for_claims(self.scratch, total, self.helpers.processes, bar)
        owners = _owners(self.scratch, total)
        names = self.helpers.names
        counts = [owners.count("main")] + [owners.count(name) for name in names]
        for name, process, count in zip(names, self.helpers.processes, counts[1:]):
            if not count:
                continue
            result = _helper_result(process, self.scratch, name)
            if result is None:  # the helper failed: calibrate its images here, no image left out
                mine = [position for position, owner in enumerate(owners) if owner == name]
                result = calibrate(self.model, _feed(self.images, mine[0], iter(mine[1:])))
            self.shares.append(result)
        merged = None
        for share in self.shares:
            if share is not None:
                merged = share if merged is None else merge_ranges(merged, share)
        return merged, counts


class _Helpers:
    """The helper processes, started on demand: each runs ``_helper_main`` in a fresh interpreter, on the
    images and calibration model written to ``scratch`` when they start."""

    def __init__(self, scratch: str, count: int, images: np.ndarray, model: bytes):
        self.scratch, self.images, self.model = scratch, images, model
        self.names = [f"helper{index}" for index in range(count)]
        self.processes = []

    def start(self) -> None:
        if not self.processes and self.names:
            np.save(os.path.join(self.scratch, IMAGES_FILE), self.images)
            with open(os.path.join(self.scratch, MODEL_FILE), "wb") as file:
                file.write(self.model)
            for name in self.names:
                with open(os.path.join(self.scratch, f"{name}.log"), "wb") as log:  # the child keeps its own handle
                    self.processes.append(subprocess.Popen(
                        [sys.executable, "-m", __name__, self.scratch, name],
                        stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()


def _claim(scratch: str, index: int, name: str) -> bool:
    """Whether ``name`` got image ``index`` (the claim file is created once, by one process)."""
    try:
        descriptor = os.open(os.path.join(scratch, CLAIMS_DIR, str(index)), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.write(descriptor, name.encode())
    os.close(descriptor)
    return True


def _claims(scratch: str, count: int, name: str, limit=None, bar=None):
    """The indices of the images ``name`` claims, one at a time as it asks, up to ``limit``; ``bar`` moves on
    for every image looked at, whoever claimed it."""
    taken = 0
    for index in range(count):
        if limit is not None and taken >= limit:
            return
        claimed = _claim(scratch, index, name)
        if bar is not None:
            bar.update(1)
        if claimed:
            taken += 1
            yield index


def _feed(images, first: int, rest, clock=None):
    """The converter's representative dataset: image ``first``, then those of the ``rest`` of the indices, one
    float32 batch each (``rest`` may claim them as it goes). ``clock`` (a list) gets the time the calibrator
    first asked for an image and the time it asked for the next after the last."""

    def generate():
        if clock is not None:
            clock.append(time.perf_counter())
        for index in itertools.chain([first], rest):
            yield [images[index][np.newaxis].astype(np.float32)]
        if clock is not None:
            clock.append(time.perf_counter())

    return generate


def _wait_for_claims(scratch: str, count: int, processes, bar) -> None:
    """Until every image is claimed (``own_share=False``); a helper that died first is an error."""
    claimed = 0
    while claimed < count:
        now = len(os.listdir(os.path.join(scratch, CLAIMS_DIR)))
        bar.update(now - claimed)
        claimed = now
        if all(process.poll() is not None for process in processes) and claimed < count:
            raise KerasResnetError(f"calibration helpers stopped with {count - claimed} images unclaimed: "
                                   "calibrate in this process (helpers=0)")
        time.sleep(0.05)


def _owners(scratch: str, count: int) -> list[str]:
    owners = []
    for index in range(count):
        with open(os.path.join(scratch, CLAIMS_DIR, str(index))) as file:
            owners.append(file.read())
    return owners


def _helper_result(process, scratch: str, name: str) -> bytes | None:
    """The helper's calibrated model, or ``None`` (with a warning naming why) when it failed."""
    process.wait()
    path = os.path.join(scratch, f"{name}.tflite")
    if process.returncode == 0 and os.path.exists(path):
        with open(path, "rb") as file:
            return file.read()
    with open(os.path.join(scratch, f"{name}.log"), errors="replace") as log:
        lines = [line.strip() for line in log if line.strip()]
    warnings.warn(f"calibration helper failed ({lines[-1] if lines else f'exit {process.returncode}'}); "
                  "its images were calibrated in this process")
    return None


def merge_ranges(model: bytes, other: bytes) -> bytes:
    """``model`` with every tensor's recorded range widened to cover ``other``'s (the same graph calibrated
    on other images): min of the mins, max of the maxes. Both must come from ``tflite.calibrate``."""
    from tensorflow.lite.python import schema_py_generated as schema

    merged = bytearray(model)
    ours, theirs = schema.Model.GetRootAs(merged, 0), schema.Model.GetRootAs(other, 0)
    for graph in range(ours.SubgraphsLength()):
        mine, yours = ours.Subgraphs(graph), theirs.Subgraphs(graph)
        for index in range(mine.TensorsLength()):
            low, high = mine.Tensors(index).Quantization(), yours.Tensors(index).Quantization()
            if low is None or high is None or not low.MinLength() or not high.MinLength():
                continue
            minimum, maximum = low.MinAsNumpy(), low.MaxAsNumpy()  # views into ``merged``: updated in place
            np.minimum(minimum, high.MinAsNumpy(), out=minimum)
            np.maximum(maximum, high.MaxAsNumpy(), out=maximum)
    return bytes(merged)


def _helper_main(scratch: str, name: str) -> None:
    """A helper process: calibrates the images it claims, writes its model next to the claims."""
    from .tflite import calibrate

    images = np.load(os.path.join(scratch, IMAGES_FILE), mmap_mode="r")
    with open(os.path.join(scratch, MODEL_FILE), "rb") as file:
        source = file.read()
    claims = _claims(scratch, len(images), name)
    first = next(claims, None)
    if first is not None:
        model = calibrate(source, _feed(images, first, claims))
        path = os.path.join(scratch, f"{name}.tflite")
        with open(path + ".part", "wb") as file:
            file.write(model)
        os.replace(path + ".part", path)


if __name__ == "__main__":
    _helper_main(*sys.argv[1:3])
