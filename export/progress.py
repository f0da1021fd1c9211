"""Progress bars on stderr (click's: drawn on a terminal, a single line otherwise), or none."""

from __future__ import annotations

import contextlib
import sys


class _Silent:
    def update(self, steps):
        pass


@contextlib.contextmanager
def progress_bar(length: int, label: str, enabled: bool = True):
    """A context yielding an object with ``update(steps)``."""
    if not enabled:
        yield _Silent()
        return
    import click

    with click.progressbar(length=length, label=label, file=sys.stderr, show_pos=True,
                           show_eta=False) as bar:
        yield bar
