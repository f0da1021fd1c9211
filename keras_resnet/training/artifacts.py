"""Atomic writes for the run directory: a temporary name in the same folder, then ``os.replace``.

A run killed at any moment leaves either the previous complete file or the new
complete file at the final path, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None):
    """Yields a temporary path next to ``path``; on success it is renamed to ``path``.

    ``suffix`` defaults to the final path's own ending (``.weights.h5``,
    ``.keras``, ``.png``), which some writers need to pick the format. On an
    error the temporary file is removed and the final path is left untouched.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    name = os.path.basename(path)
    if suffix is None:
        suffix = name[name.index("."):] if "." in name else ""
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name.split('.')[0]}-", suffix=suffix)
    os.close(handle)
    os.remove(temporary)  # writers such as h5py and Keras want to create the file themselves
    try:
        yield temporary
        _fsync(temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _fsync(path):
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def write_text(path, text: str) -> None:
    """Writes ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)


def write_json(path, data) -> None:
    """Writes ``data`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")


def read_json(path):
    """The JSON in ``path``, or ``None`` when there is no such file."""
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except FileNotFoundError:
        return None


def _json_default(value):
    """NumPy scalars and arrays, tuples and paths as plain JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
