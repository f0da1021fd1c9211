"""Atomic writes for every file and folder the package makes, and its one JSON reader.

Everything is written under a temporary name next to its final path
(``.NAME.XXXX.partial`` plus the final ending, which some writers need to pick
a format) and moved into place with ``os.replace`` only once complete: a run
killed at any moment leaves the previous complete file or folder, or the new
one, at the final path, never half of one. Temporaries a killed process left
behind match ``is_partial`` and may be deleted by whoever owns the folder.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile

from keras_resnet.errors import KerasResnetError, first_line

PARTIAL_MARK = ".partial"


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


def is_partial(name: str) -> bool:
    """True for a temporary left by ``atomic_path`` (a finished write never leaves one)."""
    base = os.path.basename(name)
    return base.startswith(".") and PARTIAL_MARK in base


def discard(path: str) -> None:
    """Removes a file or folder, if it is there."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def _publish(temporary: str, final: str, directory: bool) -> None:
    """Moves a finished temporary to ``final`` with normal permissions; a folder replaces any old one."""
    mask = _umask()  # mkstemp/mkdtemp create 0600/0700
    if not directory:
        _fsync(temporary)
        if os.path.isdir(final):
            raise KerasResnetError(f"'{final}' is a folder: remove it or write somewhere else")
        os.chmod(temporary, 0o666 & ~mask)
        os.replace(temporary, final)
        return
    for root, _, names in os.walk(temporary):
        os.chmod(root, 0o777 & ~mask)
        for name in names:
            os.chmod(os.path.join(root, name), 0o666 & ~mask)
    old = None
    if os.path.lexists(final):
        old = tempfile.mkdtemp(dir=os.path.dirname(final), prefix=f".{os.path.basename(final)}.",
                               suffix=PARTIAL_MARK)
        os.rmdir(old)
        os.replace(final, old)
    os.replace(temporary, final)
    if old:
        discard(old)


@contextlib.contextmanager
def atomic_path(path, *, directory: bool = False, suffix: str | None = None):
    """Yields a temporary path next to ``path``; on success it is moved to ``path``.

    ``directory=True`` yields an empty folder to fill. For a file, the temporary
    does not exist yet (writers such as h5py and Keras create it) and ends like
    ``path`` (``.weights.h5``, ``.keras``, ``.png``) unless ``suffix`` says otherwise.
    On any error the temporary is removed and ``path`` is left as it was.
    """
    final = os.path.abspath(os.fspath(path))
    folder, name = os.path.split(final)
    os.makedirs(folder, exist_ok=True)
    prefix = f".{name}."
    if directory:
        temporary = tempfile.mkdtemp(dir=folder, prefix=prefix, suffix=PARTIAL_MARK)
    else:
        if suffix is None:
            stem = name.lstrip(".")
            suffix = stem[stem.index("."):] if "." in stem else ""
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=PARTIAL_MARK + suffix)
        os.close(handle)
        os.remove(temporary)
    try:
        yield temporary
        _publish(temporary, final, directory)
    except BaseException:
        discard(temporary)
        raise


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
    """The JSON in ``path``, or ``None`` when there is no such file; a one-line error when it does not parse."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except FileNotFoundError:
        return None
    except (ValueError, OSError) as error:
        raise KerasResnetError(f"'{path}' is not readable JSON ({first_line(error)}): fix or delete it") from None


def path_size(path: str) -> int:
    """Bytes of a file, or of every file under a folder."""
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(root, name))
                   for root, _, names in os.walk(path) for name in names)
    return os.path.getsize(path)


@contextlib.contextmanager
def output_dir(path):
    """``prepare_output_dir(path)`` for the work within; a folder it created is removed again when that work
    fails before writing anything into it, so a refused export leaves nothing behind."""
    existed = os.path.exists(os.path.abspath(os.fspath(path)))
    folder = prepare_output_dir(path)
    try:
        yield folder
    except BaseException:
        if not existed and os.path.isdir(folder) and not os.listdir(folder):
            os.rmdir(folder)
        raise


def prepare_output_dir(path) -> str:
    """Creates the folder ``path`` if needed and proves it writable; returns its absolute path."""
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path) and not os.path.isdir(path):
        raise KerasResnetError(f"output '{path}' is a file, not a folder: give a folder path as --out")
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise KerasResnetError(
            f"output folder '{path}' is not writable ({error.strerror or type(error).__name__}): "
            "choose another --out or fix its permissions") from None
    return path
