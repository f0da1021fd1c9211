"""The one exception type for mistakes a user can cause."""


class KerasResnetError(ValueError):
    """A user error: bad path, corrupt image, unknown model, impossible option.

    The message is one line that names the problem and the fix; the CLI prints
    it and exits non-zero without a traceback.
    """
