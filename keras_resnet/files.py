"""Atomic writes for every file the package makes: a temporary name in the same folder, then ``os.replace``.

A run killed at any moment leaves either the previous complete file or the new
complete file at the final path, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None):
    """Yields a temporary path next to ``path``; on success it is renamed to ``path``.

    ``suffix`` defaults to the final path's own ending (``.weights.h5``,
    ``.keras``, ``.png``), which some writers need to pick the format. On an
    error the temporary file is removed and the final path is left untouched.
    The file gets the usual permissions (umask), not mkstemp's 0600.
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
        if os.path.isfile(temporary):
            os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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


def plain(value):
    """JSON-safe: NumPy scalars/arrays to Python, tuples to lists, paths to str, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if hasattr(value, "tolist"):
        return plain(value.tolist())
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path, data) -> None:
    """Writes ``data`` as indented, strict JSON to ``path`` atomically."""
    write_text(path, json.dumps(plain(data), indent=2, allow_nan=False) + "\n")


def read_json(path):
    """The JSON in ``path``, or ``None`` when there is no such file."""
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except FileNotFoundError:
        return None
