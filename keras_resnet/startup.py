"""A quiet start for the command line: TensorFlow's native start-up logs kept off the terminal.

TensorFlow's C++ code logs through absl before ``absl::InitializeLog()`` runs, and those
lines (oneDNN notices, CUDA probing, CPU feature hints) ignore ``TF_CPP_MIN_LOG_LEVEL``.
Only the file descriptor itself can hold them back.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def native_stderr_captured():
    """Sends what native code writes to stderr (fd 2) to a temporary file while the block runs.

    If the block fails, the captured text is written to stderr after all, so nothing needed to understand
    the failure is lost.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode("utf-8", "replace"))
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def import_tensorflow_quietly():
    """Imports TensorFlow and lets it probe its devices with native stderr captured (the CLI's start)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_stderr_captured():
        import tensorflow as tf

        tf.config.list_physical_devices()
