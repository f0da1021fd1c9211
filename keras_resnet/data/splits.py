"""Deterministic stratified splits: the same seed and labels always give the same split."""

from __future__ import annotations

import numpy as np

from keras_resnet.errors import KerasResnetError


def stratified_split(labels, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(kept, held_out)``: about ``fraction`` of every class held out.

    Each class is shuffled by its own generator seeded with ``(seed, class id)``,
    so adding images to one class never reshuffles another. A class with at least
    two images gives at least one held-out and keeps at least one. Both index
    arrays are sorted, so the original order survives within each part.
    """
    if not 0.0 <= fraction < 1.0:
        raise KerasResnetError(
            f"split fraction {fraction} is outside [0, 1): use e.g. 0.1 for 10 %, or 0 for no split"
        )
    labels = np.asarray(labels)
    held_out = []
    if fraction > 0:
        for class_id in np.unique(labels):
            members = np.flatnonzero(labels == class_id)
            count = int(np.floor(len(members) * fraction + 0.5))  # halves round up
            count = min(max(count, 1), len(members) - 1)
            order = np.random.default_rng([seed, int(class_id)]).permutation(len(members))
            held_out.append(members[order[:count]])
    held_out = np.sort(np.concatenate(held_out)) if held_out else np.zeros(0, np.int64)
    kept = np.setdiff1d(np.arange(len(labels)), held_out, assume_unique=True)
    return kept, held_out
