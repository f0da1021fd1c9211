"""ResNet-50 training throughput of our model definition on one GPU, Keras 3 on the JAX backend.

For accelerator machines that have JAX but no TensorFlow (TensorFlow's wheel is too large to carry
there): the same keras_resnet model definition, mixed precision (bfloat16 and float16) against the
float32 baseline, measured in the same run on synthetic data resident in GPU memory. Prints JSON.

    KERAS_BACKEND=jax python benchmarks/gpu_throughput_jax.py --batch-size 256 --steps 50
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_resnet  # noqa: E402

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def measure(precision, batch_size, steps, warmup, image_size):
    """Images per second of SGD training steps at the given dtype policy (data already on the device)."""
    import jax

    keras.mixed_precision.set_dtype_policy(precision)
    try:
        model = keras_resnet.ResNet50(weights=None, input_shape=(image_size, image_size, 3))
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                      loss="sparse_categorical_crossentropy", jit_compile=True)
        rng = np.random.default_rng(0)
        images = jax.device_put(rng.uniform(0, 255, (batch_size, image_size, image_size, 3)).astype("float32"))
        labels = jax.device_put(rng.integers(0, 1000, (batch_size,)).astype("int32"))
        started = time.perf_counter()
        for _ in range(warmup):  # the first step compiles
            model.train_on_batch(images, labels)
        compile_and_warmup = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(steps):
            loss = model.train_on_batch(images, labels)
        elapsed = time.perf_counter() - started
        return {"precision": precision, "images_per_second": round(steps * batch_size / elapsed, 1),
                "seconds": round(elapsed, 2), "compile_and_warmup_seconds": round(compile_and_warmup, 1),
                "final_loss": float(np.asarray(loss).reshape(-1)[0])}
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--precisions", default=",".join(PRECISIONS))
    args = parser.parse_args()
    import jax

    results = []
    for precision in args.precisions.split(","):
        results.append(measure(precision, args.batch_size, args.steps, args.warmup, args.image_size))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    baseline = next((r["images_per_second"] for r in results if r["precision"] == "float32"), None)
    for result in results:
        if baseline:
            result["speedup_vs_float32"] = round(result["images_per_second"] / baseline, 2)
    print(json.dumps({"benchmark": "resnet50_train_throughput", "backend": keras.backend.backend(),
                      "device": str(jax.devices()[0]), "keras": keras.__version__, "jax": jax.__version__,
                      "batch_size": args.batch_size, "image_size": args.image_size, "steps": args.steps,
                      "results": results}, indent=2))


if __name__ == "__main__":
    main()
