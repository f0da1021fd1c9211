"""Training throughput (images/s): our default pipeline + precision against a plain baseline, same run.

CPU (default; ``--quick`` for a short run):
  ResNet-20 at 32x32 and ResNet-50 at 224x224.
  ours:     uint8 images -> keras_resnet.data.make_pipeline (augmentation on the graph, prefetch) ->
            model.fit with the precision and XLA choice train() makes for this machine.
  ours_float32: the same pipeline in float32 (the control: ``pipeline_gain`` = ours_float32 /
            baseline is what the pipeline brings, ``precision_gain`` = ours / ours_float32 what the
            precision train() picks brings).
  baseline: a naive model.fit on float32 NumPy arrays in float32 (ResNet-20: the same network;
            ResNet-50: keras.applications.ResNet50).
GPU (``--gpu``): ResNet-50 at 224x224 on GPU 0.
  mixed_float16 + XLA on synthetic data resident in GPU memory, the same through our tf.data
  pipeline, and the float32 / no-XLA baseline on resident data.

Prints one JSON object. Throughput counts steps after warm-up (tracing, XLA compiling, autotuning),
timed at batch ends. On CPU the two contenders alternate timed fits and the best of each counts, so a
busy shared machine hurts both alike. Run: python benchmarks/train_throughput.py [--quick | --gpu]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from json_output import emit  # noqa: E402 (benchmarks/, next to this script)

import numpy as np  # noqa: E402

CPU_CASES = {  # model, image size, batch, warm-up steps, timed steps per fit (full run; --quick halves)
    "resnet20": ("resnet20", 32, 128, 3, 30),
    "resnet50": ("resnet50", 224, 16, 2, 10),
}


class BatchTimer:
    """Keras callback: (steps done, wall time) at every training batch end (one per execution)."""

    def __new__(cls):
        import keras

        class _Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.marks = []

            def on_train_batch_end(self, batch, logs=None):
                self.marks.append((batch + 1, time.perf_counter()))

        return _Timer()


def images_per_second(timer, batch, warmup):
    """Images/s from the first mark at or after ``warmup`` steps to the last mark."""
    start = next(mark for mark in timer.marks if mark[0] >= warmup)
    end = timer.marks[-1]
    return batch * (end[0] - start[0]) / (end[1] - start[1])


def synthetic(count, size, classes, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8),
            rng.integers(0, classes, count).astype(np.int32))


def compile_model(model, precision_name, jit_compile):
    import keras

    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")], jit_compile=jit_compile)
    return model


def ours(name, size, batch, classes=10, precision=None):
    """Our path: tf.data pipeline from uint8 arrays, the precision/XLA train() picks (or ``precision``), our
    optimizer setup. Returns (fit(steps) -> images/s, description)."""
    from keras_resnet.data import LabeledImages, make_pipeline
    from keras_resnet.training import TrainConfig, build_network, choose_jit_compile, choose_precision
    from keras_resnet.training.optimizers import make_optimizer
    from keras_resnet.training.precision import dtype_policy
    from keras_resnet.training.train import _loss_and_metrics, resolve_augment

    images, labels = synthetic(max(batch * 4, 256), size, classes)
    policy, jit = precision or choose_precision("auto", "default"), choose_jit_compile("auto", "default")
    augment = resolve_augment("auto", (size, size, 3))
    dataset = make_pipeline(LabeledImages(images, labels), batch_size=batch, training=True, augment=augment,
                            seed=0, drop_remainder=True).repeat()
    config = TrainConfig()
    with dtype_policy(policy):
        model = build_network(name, (size, size, 3), classes)
        loss, metrics = _loss_and_metrics(config, classes)
        model.compile(make_optimizer(model, config, 0.01), loss, metrics=metrics, jit_compile=jit)

    def fit(steps):
        timer = BatchTimer()
        model.fit(dataset, epochs=1, steps_per_epoch=steps, callbacks=[timer], verbose=0)
        return images_per_second(timer, batch, 1)

    return fit, {"precision": policy, "jit_compile": jit, "input": f"tf.data pipeline (augment={augment})"}


def baseline(name, size, batch, classes=10):
    """Plain: float32 NumPy arrays straight into model.fit, float32 everywhere, no XLA."""
    import keras

    from keras_resnet.training import build_network
    from keras_resnet.training.precision import dtype_policy

    with dtype_policy("float32"):
        if name == "resnet50":
            model = keras.applications.ResNet50(weights=None, input_shape=(size, size, 3), classes=classes)
            source = "keras.applications.ResNet50"
        else:
            model = build_network(name, (size, size, 3), classes)
            source = f"keras_resnet {name}"
        compile_model(model, "float32", False)

    def fit(steps):
        images, labels = synthetic(batch * steps, size, classes)
        timer = BatchTimer()
        model.fit(images.astype("float32"), labels, batch_size=batch, epochs=1, callbacks=[timer], verbose=0)
        return images_per_second(timer, batch, 1)

    return fit, {"precision": "float32", "jit_compile": False, "input": f"float32 NumPy arrays, {source}"}


def cpu_benchmark(quick):
    """Each contender: one warm-up fit, then ``repeats`` timed fits, alternating with the other contender so
    both see the same background load; the best fit of each counts (the machine may be shared)."""
    from keras_resnet.training.precision import speed_flags

    results = []
    for name, size, batch, warmup, steps in CPU_CASES.values():
        repeats = 2 if quick else 3
        if quick:
            steps = max(4, steps // 2)
        contenders = {"baseline": baseline(name, size, batch), "ours": ours(name, size, batch),
                      "ours_float32": ours(name, size, batch, precision="float32")}
        samples = {key: [] for key in contenders}
        for fit, _ in contenders.values():
            fit(warmup)
        for _ in range(repeats):
            for key, (fit, _) in contenders.items():
                samples[key].append(round(fit(steps), 1))
        entry = {"model": name, "image_size": size, "batch_size": batch, "timed_steps": steps, "repeats": repeats}
        for key, (_, description) in contenders.items():
            entry[key] = {"images_per_second": max(samples[key]), "samples": samples[key], **description}
        rate = {key: entry[key]["images_per_second"] for key in contenders}
        entry["speedup"] = round(rate["ours"] / rate["baseline"], 2)
        entry["pipeline_gain"] = round(rate["ours_float32"] / rate["baseline"], 2)  # same precision as baseline
        entry["precision_gain"] = round(rate["ours"] / rate["ours_float32"], 2)  # same pipeline
        results.append(entry)
        print(json.dumps({name: {key: entry[key] for key in ("speedup", "pipeline_gain", "precision_gain")}}),
              file=sys.stderr, flush=True)
    flags = speed_flags()
    return {"mode": "cpu", "cpu_count": os.cpu_count(), "cpu_flags": flags, "load_average": os.getloadavg(),
            "results": results, "target_speedup": 1.5}


def gpu_benchmark(batch, warmup, steps, allow_cpu=False):
    import keras
    import tensorflow as tf

    from keras_resnet.data import LabeledImages, make_pipeline
    from keras_resnet.training import build_network
    from keras_resnet.training.precision import dtype_policy

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus and not allow_cpu:
        raise SystemExit(json.dumps({"mode": "gpu", "error": "no GPU visible to TensorFlow"}))
    details = tf.config.experimental.get_device_details(gpus[0]) if gpus else {"device_name": "CPU (smoke test)"}
    device = "/GPU:0" if gpus else "/CPU:0"
    classes, size = 1000, 224

    class Resident(keras.Model):
        """Trains ``inner`` on one batch kept in GPU memory; the dataset only paces the steps."""

        def __init__(self, inner, images, labels):
            super().__init__()
            self.inner = inner
            object.__setattr__(self, "resident", (images, labels))  # plain tf.Variables, not model weights

        def call(self, inputs, training=False):
            return self.inner(inputs, training=training)

        def train_step(self, data):
            return super().train_step(self.resident)

    def resident_run(policy, jit):
        images, labels = synthetic(batch, size, classes)
        with tf.device(device):
            resident = (tf.Variable(images.astype("float32"), trainable=False),
                        tf.Variable(labels, trainable=False))
        pace = tf.data.Dataset.from_tensors((tf.zeros((1,)), tf.zeros((1,), tf.int32))).repeat()
        with dtype_policy(policy):
            inner = build_network("resnet50", (size, size, 3), classes)
            model = Resident(inner, *resident)
            compile_model(model, policy, jit)
            timer = BatchTimer()
            model.fit(pace, epochs=1, steps_per_epoch=warmup + steps, callbacks=[timer], verbose=0)
        return round(images_per_second(timer, batch, warmup), 1)

    def pipeline_run(policy, jit):
        images, labels = synthetic(batch * 8, size, classes)
        dataset = make_pipeline(LabeledImages(images, labels), batch_size=batch, training=True,
                                augment="imagenet", seed=0, drop_remainder=True).repeat()
        with dtype_policy(policy):
            model = compile_model(build_network("resnet50", (size, size, 3), classes), policy, jit)
            timer = BatchTimer()
            model.fit(dataset, epochs=1, steps_per_epoch=warmup + steps, callbacks=[timer], verbose=0)
        return round(images_per_second(timer, batch, warmup), 1)

    results = {}
    for key, run in (("mixed_float16_xla_resident", lambda: resident_run("mixed_float16", True)),
                     ("mixed_float16_xla_pipeline", lambda: pipeline_run("mixed_float16", True)),
                     ("float32_no_xla_resident", lambda: resident_run("float32", False))):
        try:
            results[key] = run()
        except Exception as error:  # report and go on: the other numbers still count
            results[key] = {"error": f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"}
        print(json.dumps({key: results[key]}), file=sys.stderr, flush=True)
    best = results.get("mixed_float16_xla_resident")
    base = results.get("float32_no_xla_resident")
    speedup = round(best / base, 2) if isinstance(best, float) and isinstance(base, float) else None
    return {"mode": "gpu", "gpu": details.get("device_name"), "compute_capability": details.get("compute_capability"),
            "model": "resnet50", "image_size": size, "batch_size": batch, "timed_steps": steps,
            "images_per_second": results, "speedup_vs_float32": speedup,
            "reference": {"nvidia_a100_amp_xla": 2375, "target_h100": 3500}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="half the timed steps, 2 repeats instead of 3 (CPU)")
    parser.add_argument("--gpu", action="store_true", help="ResNet-50 on GPU: mixed precision + XLA vs float32")
    parser.add_argument("--batch-size", type=int, default=256, help="GPU batch (default 256)")
    parser.add_argument("--steps", type=int, default=60, help="GPU timed steps (default 60)")
    parser.add_argument("--warmup", type=int, default=15, help="GPU warm-up steps (default 15)")
    parser.add_argument("--smoke-on-cpu", action="store_true", help=argparse.SUPPRESS)  # check --gpu code paths
    parser.add_argument("--json-out", help="also write the JSON here")
    args = parser.parse_args(argv)
    import keras
    import tensorflow as tf

    if args.gpu:
        report = gpu_benchmark(args.batch_size, args.warmup, args.steps, args.smoke_on_cpu)
    else:
        report = cpu_benchmark(args.quick)
    report.update({"tensorflow": tf.__version__, "keras": keras.__version__, "python": platform.python_version()})
    emit(report, args.json_out)


if __name__ == "__main__":
    main()
