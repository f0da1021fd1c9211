"""Answers an artifact already gave on some held-out images, so the report card does not run them again.

Export verifies every artifact on a stratified pick of the held-out split; the report
card then grades each artifact on that split. It reads the verified images first
(``reading_order``) and takes each artifact's verification answers for them
(``known_answers``), so no image goes through an artifact twice. An answer is taken only
for the very same pixels at the same place in the reading order, so a split that reads
differently (streamed, skipped images) is simply run. The seconds the answers took count
against the artifact's time budget, as if the report had run them.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .runtime import with_channels


@dataclasses.dataclass(eq=False)
class KnownOutputs:
    """An artifact's probabilities on ``images`` (uint8, as read from the held-out split) and the seconds they took."""

    images: np.ndarray
    probabilities: np.ndarray
    seconds: float

    def __len__(self) -> int:
        return len(self.probabilities)


def reading_order(order, first):
    """``order`` (held-out indices) with ``first`` moved to its front, in ``first``'s order; ``order`` as it is
    when either is ``None``."""
    if order is None or first is None:
        return order
    first = np.asarray(first, np.int64)
    rest = np.asarray(order, np.int64)
    return np.concatenate([first, rest[~np.isin(rest, first)]])


def known_answers(known: KnownOutputs | None, seen: int, images: np.ndarray):
    """How many leading ``images`` of a batch that starts ``seen`` images into the reading ``known`` already
    answered, and those answers (``0, None`` when the pixels there differ)."""
    if known is None or seen >= len(known):
        return 0, None
    count = min(len(images), len(known) - seen)
    mine = with_channels(known.images[seen:seen + count], images.shape[-1])
    if mine.shape != images[:count].shape or not np.array_equal(mine, images[:count]):
        return 0, None
    return count, known.probabilities[seen:seen + count]
