"""Atomic writes: a temporary name in the same folder, then ``os.replace``; never a half-written file."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path next to ``path`` (same ending); renamed to ``path`` when the block succeeds."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    name = os.path.basename(path)
    suffix = name[name.index("."):] if "." in name else ""
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name.split('.')[0]}-", suffix=suffix)
    os.close(handle)
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def write_text(path, text):
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)


def _plain(value):
    """JSON-safe: NumPy scalars/arrays to Python, tuples to lists, NaN/inf to None (strict JSON)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path, data):
    write_text(path, json.dumps(_plain(data), indent=1, allow_nan=False) + "\n")


def read_json(path):
    """The JSON in ``path``; None if there is none."""
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except FileNotFoundError:
        return None
