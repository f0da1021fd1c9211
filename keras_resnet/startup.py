"""Native logs kept off the terminal: TensorFlow's start-up lines, the TFLite converter's and LiteRT's chatter.

TensorFlow's C++ code logs through absl before ``absl::InitializeLog()`` runs, and those
lines (oneDNN notices, CUDA probing, CPU feature hints) ignore ``TF_CPP_MIN_LOG_LEVEL``;
the TFLite converter prints its quantizer settings with printf and LiteRT announces its
XNNPACK delegate. Only the file descriptor itself can hold them back.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def native_output_captured(fd: int = 2):
    """Sends what native code writes to file descriptor ``fd`` (2: stderr, 1: stdout) to a temporary file while
    the block runs; Python's own ``sys.stderr``/``sys.stdout`` keeps writing where it did (progress bars stay).

    If the block fails, the captured text is written out after all, so nothing needed to understand the failure
    is lost.
    """
    name = "stderr" if fd == 2 else "stdout"
    stream = getattr(sys, name)
    stream.flush()
    saved = os.dup(fd)
    python_side = os.fdopen(os.dup(saved), "w", encoding=getattr(stream, "encoding", None) or "utf-8",
                            errors="replace")
    real_fd = _fileno(stream) == fd  # under pytest/CliRunner the Python stream is not the descriptor
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), fd)
        if real_fd:
            setattr(sys, name, python_side)
        try:
            yield
        except BaseException:
            captured.seek(0)
            python_side.write(captured.read().decode("utf-8", "replace"))
            raise
        finally:
            if real_fd:
                setattr(sys, name, stream)
            python_side.close()
            stream.flush()
            os.dup2(saved, fd)
            os.close(saved)


def _fileno(stream):
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def import_tensorflow_quietly():
    """Imports TensorFlow and lets it probe its devices with native stderr captured (the CLI's start)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_output_captured(2):
        import tensorflow as tf

        tf.config.list_physical_devices()
