"""Staged output: every file or folder is written under a temporary name next to its final
path and moved into place (``os.replace``) only once it is complete and verified.

A failed or interrupted export leaves the previous artifact or nothing at the final
path, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

from keras_resnet.errors import KerasResnetError
from keras_resnet.files import write_json, write_text  # noqa: F401  (one atomic writer for the package)


def prepare_output_dir(path) -> str:
    """Creates ``path`` if needed and proves it writable; returns its absolute path."""
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path) and not os.path.isdir(path):
        raise KerasResnetError(f"output '{path}' is a file, not a folder: give a folder path as --out")
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise KerasResnetError(
            f"output folder '{path}' is not writable ({reason}): choose another --out or fix its permissions"
        ) from None
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _staging_name(final: str, directory: bool) -> str:
    folder, name = os.path.split(os.path.abspath(final))
    if directory:
        return tempfile.mkdtemp(dir=folder, prefix=f".{name}.", suffix=".partial")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".partial")
    os.close(handle)
    return temporary


def discard(path: str) -> None:
    """Removes a staged file or folder, if it is still there."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def publish(temporary: str, final: str) -> None:
    """Moves a finished file or folder to ``final``; a folder replaces any old one there."""
    mask = _umask()  # mkstemp/mkdtemp create 0600/0700: give the artifact normal permissions
    if os.path.isdir(temporary):
        for root, folders, files in os.walk(temporary):
            os.chmod(root, 0o777 & ~mask)
            for name in files:
                os.chmod(os.path.join(root, name), 0o666 & ~mask)
        old = None
        if os.path.lexists(final):
            old = _staging_name(final, directory=True)
            os.rmdir(old)
            os.replace(final, old)
        os.replace(temporary, final)
        if old:
            discard(old)
    else:
        os.chmod(temporary, 0o666 & ~mask)
        if os.path.isdir(final):
            raise KerasResnetError(f"'{final}' is a folder: remove it or choose another --out")
        os.replace(temporary, final)


@contextlib.contextmanager
def staged(final, directory: bool = False):
    """Yields a temporary path next to ``final``; moved there when the block ends without error.

    The block writes and verifies the artifact at the temporary path; on any error
    the temporary is removed and ``final`` is left as it was.
    """
    final = os.fspath(final)
    temporary = _staging_name(final, directory)
    if not directory:
        os.remove(temporary)  # writers (converters, savefig, Keras) create the file themselves
    try:
        yield temporary
        publish(temporary, final)
    except BaseException:
        discard(temporary)
        raise


def path_size(path: str) -> int:
    """Bytes of a file, or of every file under a folder."""
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(root, name))
                   for root, _, files in os.walk(path) for name in files)
    return os.path.getsize(path)
