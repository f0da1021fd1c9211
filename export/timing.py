"""Wall time of each export stage, kept in ``export.json`` (``stage_seconds``) for the speed benchmark.

    times = StageTimes()
    with times.stage("tflite int8 conversion"):
        ...
    times  # {"tflite int8 conversion": 12.345}: seconds, summed when a stage repeats
"""

from __future__ import annotations

import contextlib
import time


class StageTimes(dict):
    """Seconds by stage name, in the order the stages first ran."""

    @contextlib.contextmanager
    def stage(self, name: str):
        began = time.perf_counter()
        try:
            yield
        finally:
            self[name] = round(self.get(name, 0.0) + time.perf_counter() - began, 3)
