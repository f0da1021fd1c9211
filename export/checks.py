"""The numbers users type, checked in one place: whole and real numbers within limits, else a one-line error.

    runs = whole_number(runs, "--runs 0: time at least 1 run", minimum=1)
    drop = real_number(max_drop, "--max-drop ...: give 0 to 100 top-1 points", minimum=0, maximum=100)

Each takes the full message to raise, so every option keeps its own wording and fix.
"""

from __future__ import annotations

import math

from keras_resnet.errors import KerasResnetError

# Seeds reach NumPy and tf.data (int64): keep them in 32 bits, like most tools do.
MAX_SEED = 2**32 - 1


def as_number(value) -> float:
    """``value`` as a float; NaN (which fails every range check) when it is not a number."""
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return float("nan")


def whole_number(value, message: str, minimum: int = 0, maximum: int | None = None) -> int:
    """``value`` as an int in ``minimum..maximum``; ``message`` otherwise (booleans and fractions too)."""
    number = as_number(value)
    if (isinstance(value, bool) or not number.is_integer() or number < minimum
            or (maximum is not None and number > maximum)):
        raise KerasResnetError(message)
    return int(value) if isinstance(value, int) else int(number)


def real_number(value, message: str, minimum: float | None = None, maximum: float | None = None,
                positive: bool = False) -> float:
    """``value`` as a float, not NaN, within the limits (``positive``: above 0); ``message`` otherwise."""
    number = as_number(value)
    if (isinstance(value, bool) or math.isnan(number) or (positive and number <= 0)
            or (minimum is not None and number < minimum) or (maximum is not None and number > maximum)):
        raise KerasResnetError(message)
    return number


def seed_number(value, option: str = "seed") -> int:
    """A seed: a whole number ``0..MAX_SEED``."""
    return whole_number(value, f"{option}={value!r}: give a whole number from 0 to {MAX_SEED}", 0, MAX_SEED)


def check_max_drop(value) -> float:
    """A release gate: the most top-1 points an artifact may lose, 0 to 100."""
    return real_number(value, f"max_drop={value!r}: give the most top-1 points an artifact may lose, 0 to 100 "
                              "(e.g. 0.5)", 0.0, 100.0)
