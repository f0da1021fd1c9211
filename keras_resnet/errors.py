"""The one exception type for mistakes a user can cause, and the one way to quote another error."""


class KerasResnetError(ValueError):
    """A user error: bad path, corrupt image, unknown model, impossible option.

    The message is one line that names the problem and the fix; the CLI prints
    it and exits non-zero without a traceback.
    """


def first_line(error: BaseException, limit: int = 160) -> str:
    """The first non-empty line of ``error``'s message (at most ``limit`` characters), else its type name.

    Third-party errors (Keras, TensorFlow, h5py) carry multi-line messages; ours quote one line of them.
    """
    message = getattr(error, "message", None) or str(error)
    for line in str(message).splitlines():
        if line.strip():
            return line.strip()[:limit]
    return type(error).__name__
