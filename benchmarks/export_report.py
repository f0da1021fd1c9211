"""Export targets: what int8 costs in accuracy and gains in size and speed, against float32, same run.

Default: ResNet-20 on the bundled dataset (28x28 digits), trained here for ``--epochs``
(2, batch 32) with a plain ``model.fit``, or ``--model PATH`` (a .keras file or run folder).
``--resnet50``: ResNet-50 at 224x224 (bundled digits resized to 224x224 RGB), trained for
``--train-steps`` (40 steps of 16 images) so its accuracy rows mean something; reports the
same ratios and the wall time of the full export (SavedModel, five TFLite modes and ONNX
float32/int8, each verified on 16 images, + the report card on 100 images with at most 30 s
of accuracy run per artifact: int16x8 takes ~2 s per image on reference kernels, so it is
scored on a subset).

The JSON has the wall time of every export stage (``export.json``'s ``stage_seconds``: model
load, data, each conversion, each verification, the report card) and, per report row, its
accuracy and latency seconds; the baseline is a plain float32 ``TFLiteConverter.from_keras_model``
conversion of the same model in the same run.

Targets (checked, not asserted): int8 top-1 within 0.5 points of float; the int8
``.tflite`` at most 30 % of the float32 file; int8 batch-1 latency at 1 thread at most
0.45x float32's; the full export within 30 s (ResNet-20) or 180 s (ResNet-50) on 2 cores.
Prints one JSON object (``--json-out FILE`` also writes it).

Run: python benchmarks/export_report.py [--model PATH] [--resnet50] [--out DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from json_output import emit  # noqa: E402 (benchmarks/, next to this script)

TARGETS = {"int8_top1_drop_points": 0.5, "int8_size_ratio": 0.30, "int8_latency_ratio_1_thread": 0.45}


def _row(report, kind, mode):
    for row in report["artifacts"]:
        if row["kind"] == kind and row["mode"] == mode:
            return row
    raise SystemExit(f"no {kind} {mode} row in the report")


def _baseline_conversion_seconds(model) -> float:
    """A plain float32 TFLite conversion of ``model``, the floor any export of it stands on."""
    import tensorflow as tf

    began = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints the traced signature
        tf.lite.TFLiteConverter.from_keras_model(model).convert()
    return round(time.perf_counter() - began, 2)


def _train(model_name, input_shape, epochs, train_images, train_labels, batch_size, steps=None):
    import keras

    from keras_resnet import build_model

    keras.utils.set_random_seed(0)
    model = build_model(model_name, input_shape=input_shape, classes=10)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    began = time.perf_counter()
    if steps:
        count = min(len(train_images), steps * batch_size)
        model.fit(train_images[:count], train_labels[:count], epochs=1, batch_size=batch_size, verbose=2)
    elif epochs:
        model.fit(train_images, train_labels, epochs=epochs, batch_size=batch_size, verbose=2)
    else:
        # Untrained, BatchNorm's moving statistics are 0/1 and a deep net's softmax saturates
        # on one class for every image, which makes agreement meaningless. A few forward
        # passes in training mode set the statistics (no weight changes): outputs then vary.
        for start in range(0, min(len(train_images), 8 * batch_size), batch_size):
            model(train_images[start:start + batch_size].astype("float32"), training=True)
    return model, time.perf_counter() - began


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a trained .keras file or run folder (skips training)")
    parser.add_argument("--resnet50", action="store_true", help="ResNet-50 at 224x224 instead of ResNet-20")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (ResNet-20: 2, ResNet-50: 0)")
    parser.add_argument("--train-images", type=int, default=None, help="train on this many images (default all)")
    parser.add_argument("--train-steps", type=int, default=None,
                        help="train this many steps instead of epochs (ResNet-50 default: 40 steps of 16)")
    parser.add_argument("--eval-images", type=int, default=None,
                        help="held-out images for the report (default: all 1000; ResNet-50: 100)")
    parser.add_argument("--calibration-size", type=int, default=200)
    parser.add_argument("--eval-seconds", type=float, default=None,
                        help="cap each artifact's accuracy run (default: none; ResNet-50: 30 s)")
    parser.add_argument("--out", help="keep the artifacts here (default: a temporary folder)")
    parser.add_argument("--json-out", help="also write the JSON here")
    args = parser.parse_args(argv)

    from keras_resnet.export import export_all
    from keras_resnet.export.calibration import stratified_sample
    from keras_resnet.export.datasets import load_export_data
    from keras_resnet.export.runtime import all_threads
    from keras_resnet.training.precision import speed_flags

    name = "resnet50" if args.resnet50 else "resnet20"
    shape = (224, 224, 3) if args.resnet50 else (28, 28, 1)
    epochs = args.epochs if args.epochs is not None else (0 if args.resnet50 else 2)
    eval_images = args.eval_images or (100 if args.resnet50 else None)
    began = time.perf_counter()
    data = load_export_data("bundled", shape)
    load_seconds = time.perf_counter() - began
    train_x, train_y = data.train_images, data.train_labels
    if args.train_images:
        picks = stratified_sample(train_y, args.train_images, seed=0)
        train_x, train_y = train_x[picks], train_y[picks]
    test_x, test_y = data.heldout_images, data.heldout_labels
    if eval_images and eval_images < len(test_y):
        picks = stratified_sample(test_y, eval_images, seed=0)
        test_x, test_y = test_x[picks], test_y[picks]

    train_seconds, baseline_seconds = 0.0, None
    steps = args.train_steps if args.train_steps is not None else (40 if args.resnet50 and not args.epochs else None)
    batch_size = 16 if args.resnet50 else 32
    if args.model:
        model = args.model
        trained = f"given: {args.model}"
    else:
        model, train_seconds = _train(name, shape, epochs, train_x, train_y, batch_size, steps)
        trained = (f"{steps} steps of {batch_size} images (model.fit) on bundled digits" if steps else
                   f"{epochs} epoch(s) of model.fit on {len(train_y)} bundled images" if epochs else
                   "untrained (BatchNorm statistics set by 8 forward batches): accuracy is chance, "
                   "agreement and the ratios are what count")
        baseline_seconds = _baseline_conversion_seconds(model)

    with tempfile.TemporaryDirectory(prefix="export_report_") as scratch:
        out = args.out or scratch
        began = time.perf_counter()
        result = export_all(model, out, calibration_images=train_x, calibration_labels=train_y,
                            heldout_images=test_x, heldout_labels=test_y, class_names=data.class_names,
                            calibration_size=args.calibration_size,
                            verify_images=16 if args.resnet50 else 256, latency_runs=100,
                            eval_seconds=args.eval_seconds or (30.0 if args.resnet50 else None),
                            progress=sys.stderr.isatty())
        export_seconds = time.perf_counter() - began
        report = result.report
        reference = report["artifacts"][0]  # the Keras model
        float32 = _row(report, "tflite", "float32")
        int8 = _row(report, "tflite", "int8")
        measured = {
            "int8_top1_drop_points": round((reference["top1"] - int8["top1"]) * 100, 3),
            "int8_size_ratio": round(int8["size_bytes"] / float32["size_bytes"], 4),
            "int8_latency_ratio_1_thread": round(int8["latency_ms"]["1"]["p50_ms"] / float32["latency_ms"]["1"]["p50_ms"], 4),
        }
        output = {
            "benchmark": "export_report",
            "model": name,
            "input_shape": list(shape),
            "training": trained,
            "machine": {"platform": platform.platform(), "cpus": all_threads(), "cpu_flags": speed_flags(),
                        "python": platform.python_version()},
            "heldout_images": int(len(test_y)),
            "eval_seconds_per_artifact": args.eval_seconds or (30.0 if args.resnet50 else None),
            "images_scored": {row["name"]: row["images"] for row in report["artifacts"]},
            "calibration_images": args.calibration_size,
            "seconds": {"load_data": round(load_seconds, 2), "train": round(train_seconds, 2),
                        "full_export": round(export_seconds, 2),
                        "baseline_float32_tflite_conversion": baseline_seconds,
                        "stages": result.manifest["stage_seconds"],
                        "report_rows": {row["name"]: row["seconds"] for row in report["artifacts"]},
                        "per_artifact": {key: value["seconds"] for key, value in result.manifest["artifacts"].items()}},
            "latency_runs": {row["name"]: {key: (value or {}).get("runs") for key, value in row["latency_ms"].items()}
                             for row in report["artifacts"]},
            "verification": {key: {"max_abs_diff": value["verification"]["max_abs_diff"],
                                   "top1_agreement": value["verification"]["top1_agreement"],
                                   "images": value["verification"]["images"]}
                             for key, value in result.manifest["artifacts"].items()},
            "baseline_float": {"keras_top1": reference["top1"], "float32_tflite_top1": float32["top1"],
                               "float32_size_bytes": float32["size_bytes"],
                               "float32_latency_ms_1_thread": float32["latency_ms"]["1"]},
            "int8": {"top1": int8["top1"], "agreement_with_float": int8["agreement"], "size_bytes": int8["size_bytes"],
                     "latency_ms_1_thread": int8["latency_ms"]["1"], "latency_ms_all_threads": int8["latency_ms"]["all"],
                     "int8_op_share": int8["ops"]["int8_share"], "input": int8["input"]},
            "targets": {key: {"measured": measured[key], "target": limit, "met": measured[key] <= limit}
                        for key, limit in TARGETS.items()},
            "all_artifacts": [{"name": row["name"], "mode": row["mode"], "top1": row["top1"],
                               "agreement": row["agreement"], "size_bytes": row["size_bytes"],
                               "latency_p50_ms_1_thread": (row["latency_ms"].get("1") or {}).get("p50_ms"),
                               "latency_p50_ms_all_threads": (row["latency_ms"].get("all") or {}).get("p50_ms")}
                              for row in report["artifacts"]],
            "warnings": report["warnings"],
        }
        limit = 180 if args.resnet50 else 30
        output["targets"]["full_export_seconds"] = {"measured": round(export_seconds, 1), "target": limit,
                                                    "met": export_seconds <= limit}
    emit(output, args.json_out)
    return output


if __name__ == "__main__":
    main()
