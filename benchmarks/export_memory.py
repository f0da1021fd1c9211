"""Export memory: peak RSS of a full export from a large TFRecord set, above the model's own footprint.

Generates an ImageNet-layout TFRecord set in a temporary folder (``--images`` training images, default
50,000, plus ``--heldout-images`` in ``validation-*`` shards; 64x64 JPEGs, 10 classes labelled 1..10),
then, in a fresh process, builds a ResNet-20 for 64x64 RGB (random weights; BatchNorm statistics set by
a few training-mode passes), saves and loads it, runs one prediction and takes that RSS as the
baseline: the model's own footprint. Then ``export_all`` from the TFRecords (``--label-offset 1``,
streamed) writes the SavedModel and the TFLite modes with the report card, and the process's peak RSS
(VmHWM) is read. Target: peak minus baseline under 400 MB. Decoded, the training images alone take
``images x 64 x 64 x 3`` bytes (614 MB for 50,000): an export that held them would miss it.
``--compare-in-memory`` measures the same export with ``stream=False`` in another fresh process.

The model is untrained, so quantized artifacts are verified with ``min_agreement=0`` here: this measures
memory, not accuracy (``export_report.py`` measures that).

Prints one JSON object (``--json-out FILE`` also writes it). Linux only (reads /proc/self/status).

Run: python benchmarks/export_memory.py [--images 50000] [--modes all] [--compare-in-memory]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from json_output import emit  # noqa: E402 (benchmarks/, next to this script)

TARGET_GROWTH_MB = 400
SIZE = 64
CLASSES = 10
SHARD_IMAGES = 5000


def _status_mb(field: str) -> float:
    """A memory line of /proc/self/status (VmRSS: now, VmHWM: peak) in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise SystemExit(f"no {field} in /proc/self/status: this benchmark needs Linux")


def _generate(folder: str, images: int, heldout: int, seed: int = 0) -> dict:
    """Writes train-*-of-* and validation-*-of-* shards of small JPEGs; returns counts, bytes and seconds."""
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    began = time.perf_counter()
    rng = np.random.default_rng(seed)
    colours = rng.integers(0, 256, (CLASSES, 3))
    for prefix, count in (("train", images), ("validation", heldout)):
        shards = max(1, -(-count // SHARD_IMAGES))
        for shard in range(shards):
            path = os.path.join(folder, f"{prefix}-{shard:05d}-of-{shards:05d}")
            with tf.io.TFRecordWriter(path) as writer:
                for index in range(shard * SHARD_IMAGES, min(count, (shard + 1) * SHARD_IMAGES)):
                    label = index % CLASSES
                    noise = rng.integers(-60, 60, (SIZE, SIZE, 3))
                    pixels = np.clip(colours[label] + noise, 0, 255).astype(np.uint8)
                    encoded = io.BytesIO()
                    Image.fromarray(pixels).save(encoded, "JPEG", quality=90)
                    feature = {
                        "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded.getvalue()])),
                        "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label + 1])),
                        "image/class/text": tf.train.Feature(bytes_list=tf.train.BytesList(
                            value=[f"class{label}".encode()])),
                    }
                    writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    size = sum(os.path.getsize(os.path.join(folder, name)) for name in os.listdir(folder))
    return {"train_images": images, "heldout_images": heldout, "image_size": [SIZE, SIZE, 3],
            "tfrecord_bytes": size, "decoded_train_bytes": images * SIZE * SIZE * 3,
            "generate_seconds": round(time.perf_counter() - began, 1)}


def _measure(data: str, out: str, modes: str, stream: bool, eval_seconds: float) -> dict:
    """In this (fresh) process: the model's footprint, then the peak of a full export from ``data``."""
    import keras
    import numpy as np

    import keras_resnet
    from keras_resnet.export import export_all

    keras.utils.set_random_seed(0)
    model = keras_resnet.CifarResNet(depth=20, input_shape=(SIZE, SIZE, 3), classes=CLASSES)
    warm = np.random.default_rng(0).integers(0, 256, (32, SIZE, SIZE, 3)).astype("float32")
    for _ in range(4):  # set BatchNorm's moving statistics, so outputs vary from image to image
        model(warm, training=True)
    path = os.path.join(out, "model.keras")
    model.save(path)
    del model
    model = keras.saving.load_model(path, compile=False)
    model.predict(warm[:1], verbose=0)
    baseline = _status_mb("VmRSS")
    before_peak = _status_mb("VmHWM")
    began = time.perf_counter()
    result = export_all(path, os.path.join(out, "export"), data=data, label_offset=1, stream=stream, modes=modes,
                        min_agreement=0.0, eval_seconds=eval_seconds, progress=False)
    peak = _status_mb("VmHWM")
    manifest = result.manifest
    return {"stream": stream, "baseline_rss_mb": round(baseline, 1), "peak_before_export_mb": round(before_peak, 1),
            "peak_rss_mb": round(peak, 1), "growth_mb": round(peak - baseline, 1),
            "export_seconds": round(time.perf_counter() - began, 1), "artifacts": sorted(manifest["artifacts"]),
            "heldout": manifest["data"]["heldout"], "report_images": result.report["data"]["images"],
            "calibration_images": (manifest["calibration"] or {}).get("images", 0)}


def _in_fresh_process(arguments: list[str]) -> dict:
    """Runs this script with ``arguments`` in a new Python (``--measure``: its peak RSS starts from nothing);
    returns the JSON it printed last."""
    done = subprocess.run([sys.executable, os.path.abspath(__file__), *arguments], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the measuring process failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50_000, help="training images to generate (default 50,000)")
    parser.add_argument("--heldout-images", type=int, default=1000, help="held-out images (validation-* shards)")
    parser.add_argument("--modes", default="all", help="TFLite modes, as export --quantize (default: all)")
    parser.add_argument("--eval-seconds", type=float, default=20.0, help="cap on each artifact's accuracy run")
    parser.add_argument("--compare-in-memory", action="store_true",
                        help="also measure the export with the data loaded into memory (stream=False)")
    parser.add_argument("--json-out", help="also write the JSON here")
    parser.add_argument("--generate", metavar="DATA", help=argparse.SUPPRESS)  # the steps run in fresh processes
    parser.add_argument("--measure", nargs=2, metavar=("DATA", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--in-memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.generate:
        print(json.dumps(_generate(args.generate, args.images, args.heldout_images)))
        return
    if args.measure:
        print(json.dumps(_measure(*args.measure, args.modes, not args.in_memory, args.eval_seconds)))
        return

    with tempfile.TemporaryDirectory(prefix="export_memory_") as scratch:
        data = os.path.join(scratch, "shards")
        os.makedirs(data)
        generated = _in_fresh_process(["--generate", data, "--images", str(args.images),
                                       "--heldout-images", str(args.heldout_images)])
        common = ["--modes", args.modes, "--eval-seconds", str(args.eval_seconds)]
        runs = {}
        for name, extra in (("streamed", []), *((("in_memory", ["--in-memory"]),) if args.compare_in_memory else ())):
            out = os.path.join(scratch, name)
            os.makedirs(out)
            runs[name] = _in_fresh_process(["--measure", data, out, *common, *extra])
    from keras_resnet.training.precision import speed_flags

    streamed = runs["streamed"]
    result = {
        "benchmark": "export_memory", "python": platform.python_version(), "machine": platform.machine(),
        "cpus": os.cpu_count(), "cpu_flags": speed_flags(), "data": generated, "modes": args.modes, "runs": runs,
        "target_growth_mb": TARGET_GROWTH_MB, "growth_mb": streamed["growth_mb"],
        "target_met": streamed["growth_mb"] < TARGET_GROWTH_MB,
    }
    emit(result, args.json_out)


if __name__ == "__main__":
    main()
