"""Latency runs stop when the median has settled, not after a fixed count."""

import time

from keras_resnet.export.latency import STABLE_WITHIN, measure_latency


def sleeper(durations):
    """A run that sleeps the next of ``durations`` seconds (the last one repeats)."""
    calls = iter(durations)
    last = [durations[-1]]

    def run():
        last[0] = next(calls, last[0])
        time.sleep(last[0])

    return run


def test_a_steady_run_stops_as_soon_as_its_median_settles():
    result = measure_latency(sleeper([0.01]), warmup=2, runs=200, max_seconds=60)  # under LONG_RUN_SECONDS
    assert result["stopped"] == "stable" and result["runs"] in (20, 30, 40)  # checked every 10 runs from 20 on
    assert 10.0 <= result["p50_ms"] < 14.0


def test_a_long_run_checks_its_median_every_five_runs():
    result = measure_latency(sleeper([0.03]), warmup=1, runs=200, max_seconds=60)
    assert result["stopped"] == "stable" and result["runs"] in (10, 15, 20)
    assert 30.0 <= result["p50_ms"] < 40.0


def test_a_drifting_run_keeps_going_until_the_count_or_the_time():
    # Each run 30 % slower than the one before: the median never settles within STABLE_WITHIN.
    assert STABLE_WITHIN < 0.3
    drifting = [0.0005 * 1.3 ** index for index in range(40)]
    result = measure_latency(sleeper(drifting), warmup=0, runs=25, max_seconds=60)
    assert result["stopped"] == "runs" and result["runs"] == 25
    slow = measure_latency(sleeper([0.05]), warmup=0, runs=1000, max_seconds=0.2, min_runs=3)
    assert slow["stopped"] == "time" and 3 <= slow["runs"] <= 6
