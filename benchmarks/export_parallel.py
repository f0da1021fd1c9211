"""Export's single-threaded stages on every core: calibration helpers and int16x8 side by side, same run.

TFLite's calibrator and LiteRT's int16x8 reference kernels each use one core. Export now
shares calibration with helper processes (``export/calibration_pool.py``) and runs one
int16x8 interpreter per core (``TFLiteArtifact.concurrent_batches``). This measures both
against the one-core way on the same model and images, in the same run, and checks that
the results are identical (the calibrated model byte for byte, the int16x8 outputs exactly).
It also times one-core calibration of the converter's own graph, where ops may run in place and the
recorded ranges are wrong (``tflite.calibration_model``): what keeping every tensor costs.

Default: ResNet-50 at 224x224 (bundled digits resized to 224x224 RGB; BatchNorm statistics set
by a few training-mode passes, no weight updates), ``--calibration-images`` 200 (export's
default) and ``--int16x8-images`` 16 (export's verification count). ``--resnet20``: ResNet-20
at 28x28. Prints one JSON object (``--json-out FILE`` also writes it).

Run: python benchmarks/export_parallel.py [--resnet20] [--calibration-images N] [--int16x8-images N]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from json_output import emit  # noqa: E402 (benchmarks/, next to this script)


def _model_and_images(name, size, channels, count):
    import keras
    import numpy as np

    from keras_resnet import build_model
    from keras_resnet.data import load_dataset
    from keras_resnet.data.images import convert_channels, resize_images

    digits = load_dataset("bundled").train.images[:count]
    images = resize_images(convert_channels(digits, channels), (size, size))
    keras.utils.set_random_seed(0)
    model = build_model(name, input_shape=(size, size, channels), classes=10)
    for start in range(0, min(len(images), 64), 16):  # BatchNorm statistics from real images; weights unchanged
        model(images[start:start + 16].astype(np.float32), training=True)
    return model, np.ascontiguousarray(images)


def _timed(function):
    began = time.perf_counter()
    result = function()
    return result, round(time.perf_counter() - began, 2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resnet20", action="store_true", help="ResNet-20 at 28x28 instead of ResNet-50 at 224")
    parser.add_argument("--calibration-images", type=int, default=200)
    parser.add_argument("--int16x8-images", type=int, default=16)
    parser.add_argument("--json-out", help="also write the JSON here")
    args = parser.parse_args(argv)

    import numpy as np

    from keras_resnet.export.calibration_pool import calibrate_on_all_cores, default_helpers
    from keras_resnet.export.formats.tflite import TFLiteArtifact
    from keras_resnet.export.runtime import all_threads
    from keras_resnet.export.calibration import representative_dataset, representative_set
    from keras_resnet.export.tflite import calibrate, calibration_model, convert, write_conversion_source
    from keras_resnet.training.precision import speed_flags

    name, size, channels = ("resnet20", 28, 1) if args.resnet20 else ("resnet50", 224, 3)
    model, images = _model_and_images(name, size, channels, max(args.calibration_images, args.int16x8_images))
    with tempfile.TemporaryDirectory(prefix="export_parallel_") as scratch:
        graph = write_conversion_source(model, os.path.join(scratch, "graph"), (size, size, channels))
        calibration = images[:args.calibration_images]
        (alone, _), one_core = _timed(lambda: calibrate_on_all_cores(graph, calibration, helpers=0))
        every_image = representative_dataset(representative_set(calibration, size=len(calibration)))
        _, converters_graph = _timed(lambda: calibrate(calibration_model(graph, keep_every_tensor=False), every_image))
        (shared, shares), every_core = _timed(lambda: calibrate_on_all_cores(graph, calibration))
        path = os.path.join(scratch, "model_int16x8.tflite")
        with open(path, "wb") as file:
            file.write(convert(graph, "int16x8", calibrated=shared))
        checked = images[:args.int16x8_images]
        serial = TFLiteArtifact(path)
        serial.concurrent_batches = 1
        side_by_side = TFLiteArtifact(path)
        expected, serial_seconds = _timed(lambda: serial.predict(checked, batch_size=4))
        outputs, parallel_seconds = _timed(lambda: side_by_side.predict(checked, batch_size=4))
    output = {
        "benchmark": "export_parallel",
        "model": name,
        "input_shape": [size, size, channels],
        "machine": {"platform": platform.platform(), "cpus": all_threads(), "cpu_flags": speed_flags(),
                    "python": platform.python_version(), "load_average_at_end": list(os.getloadavg())},
        "calibration": {"images": len(calibration), "helpers": default_helpers(), "images_per_process": shares,
                        "seconds_one_core": one_core, "seconds_every_core": every_core,
                        "speedup": round(one_core / every_core, 2), "identical_model": alone == shared,
                        "seconds_one_core_converters_graph": converters_graph,
                        "every_tensor_kept_cost": round(one_core / converters_graph, 2)},
        "int16x8": {"images": len(checked), "batch_size": 4, "interpreters": side_by_side.concurrent_batches,
                    "seconds_one_interpreter": serial_seconds, "seconds_one_per_core": parallel_seconds,
                    "speedup": round(serial_seconds / parallel_seconds, 2),
                    "identical_outputs": bool(np.array_equal(expected, outputs))},
    }
    emit(output, args.json_out)
    return output


if __name__ == "__main__":
    main()
