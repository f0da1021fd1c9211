"""Latency at batch 1 (p50/p90 after warm-up) and batched throughput, per thread setting.

TFLite interpreters take a thread count each; TensorFlow (Keras, SavedModel)
fixes its thread pools when it starts, so those are measured with all threads
only and their 1-thread figures are reported as not measured.
"""

from __future__ import annotations

import time

import numpy as np

from .checks import real_number, whole_number
from .formats import load_artifact
from .runtime import all_threads

DEFAULT_THREADS = (1, None)  # None: all cores
STABLE_WITHIN = 0.02  # relative change of the median that counts as settled
SLOW_RUN_SECONDS = 0.5  # a first run slower than this times at least 3 runs, not min_runs
LONG_RUN_SECONDS = 0.02  # a first run slower than this checks the median every 5 runs, not every 10
MAX_THREADS = 1024
MAX_BATCH_SIZE = 1024


def parse_threads(values) -> tuple:
    """Thread counts as typed (``"1"``, ``"all"``, ``4``, ``None`` for all) -> ints and ``None``; default 1 and all."""
    counts = []
    for value in values or DEFAULT_THREADS:
        if value is None or str(value).strip().lower() == "all":
            counts.append(None)
            continue
        counts.append(whole_number(value, f"--threads {value!r} is not a number 1 to {MAX_THREADS} or 'all': use "
                                          "e.g. --threads 1", 1, MAX_THREADS))
    return tuple(counts)


def measure_latency(run, warmup: int = 10, runs: int = 50, max_seconds: float = 3.0, min_runs: int = 5,
                    check_every: int | None = None) -> dict:
    """Times ``run()`` up to ``runs`` times after warm-up; stops early once the median is stable or after
    ``max_seconds`` (``stopped`` says which).

    Warm-up is ``warmup`` calls, capped at about one second for slow models (a
    first call over 0.1 s is warm-up enough for 16x8 reference kernels at 224x224).
    Stable: every ``check_every`` runs (from twice that many on), the median of all
    runs so far is within ``STABLE_WITHIN`` of the median without the last ``check_every``;
    by default every 10 runs, every 5 when the first run took over ``LONG_RUN_SECONDS``
    (a ResNet-50 at 224x224: 10 runs of 70 ms settle as well as 20 of 1 ms).
    """
    start = time.perf_counter()
    run()
    first = time.perf_counter() - start
    if check_every is None:
        check_every = 5 if first > LONG_RUN_SECONDS else 10
    warmup = max(1, min(warmup, int(1.0 / max(first, 1e-6)))) if warmup else 0
    if first > SLOW_RUN_SECONDS:  # seconds per run (16x8 reference kernels at 224x224): a median of 3 will do
        min_runs = min(min_runs, 3)
    for _ in range(warmup - 1):
        run()
    times, stopped = [], "runs"
    deadline = time.perf_counter() + max_seconds
    while len(times) < runs:
        if len(times) >= min_runs and time.perf_counter() >= deadline:
            stopped = "time"
            break
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
        if len(times) >= 2 * check_every and len(times) % check_every == 0 and len(times) < runs:
            before, now = np.median(times[:-check_every]), np.median(times)
            if abs(now - before) <= STABLE_WITHIN * before:
                stopped = "stable"
                break
    milliseconds = np.asarray(times) * 1e3
    return {"p50_ms": round(float(np.percentile(milliseconds, 50)), 4),
            "p90_ms": round(float(np.percentile(milliseconds, 90)), 4),
            "mean_ms": round(float(milliseconds.mean()), 4), "runs": len(times), "warmup": warmup,
            "stopped": stopped}


def thread_key(threads) -> str:
    return "all" if threads is None else str(threads)


def latencies(artifact, threads=DEFAULT_THREADS, warmup=10, runs=50, max_seconds=3.0) -> dict:
    """``{"1": {...} or None, "all": {...}}``: batch-1 latency per thread setting."""
    results = {}
    for count in threads:
        runner = artifact.latency_runner(count)
        results[thread_key(count)] = None if runner is None else measure_latency(runner, warmup, runs, max_seconds)
    return results


def throughput(artifact, batch_size: int = 32, seconds: float = 2.0, min_batches: int = 3) -> dict:
    """Images per second through ``artifact.predict`` in batches of ``batch_size``, all threads."""
    images = np.random.default_rng(0).integers(0, 256, (batch_size, *artifact.input_shape), dtype=np.uint8)
    artifact.predict(images, batch_size=batch_size)  # warm-up: allocation, tracing
    batches, start = 0, time.perf_counter()
    while batches < min_batches or time.perf_counter() - start < seconds:
        artifact.predict(images, batch_size=batch_size)
        batches += 1
    elapsed = time.perf_counter() - start
    return {"batch_size": batch_size, "images_per_second": round(batches * batch_size / elapsed, 2),
            "batches": batches, "threads": all_threads()}


def benchmark(path_or_artifact, threads=DEFAULT_THREADS, warmup=10, runs=100, max_seconds=5.0,
              batch_size: int = 32, throughput_seconds: float = 2.0) -> dict:
    """Latency and throughput of one artifact (``keras-resnet benchmark``); ``threads`` as ``parse_threads`` takes."""
    threads = parse_threads(threads)
    runs = whole_number(runs, f"runs={runs!r}: time at least 1 run (e.g. 100)", 1)
    warmup = whole_number(warmup, f"warmup={warmup!r}: give 0 or more untimed runs")
    batch_size = whole_number(batch_size, f"batch_size={batch_size!r}: give 1 to {MAX_BATCH_SIZE}", 1, MAX_BATCH_SIZE)
    max_seconds = real_number(max_seconds, f"max_seconds={max_seconds!r}: give a positive number", positive=True)
    throughput_seconds = real_number(throughput_seconds, f"throughput_seconds={throughput_seconds!r}: give a "
                                                         "positive number", positive=True)
    artifact = load_artifact(path_or_artifact)
    try:
        return {"artifact": artifact.name, "path": artifact.path, "kind": artifact.kind, "mode": artifact.mode,
                "size_bytes": artifact.size_bytes, "input_shape": list(artifact.input_shape),
                "all_threads": all_threads(),
                "latency_ms": latencies(artifact, threads, warmup, runs, max_seconds),
                "throughput": throughput(artifact, batch_size, throughput_seconds)}
    finally:
        artifact.close()
