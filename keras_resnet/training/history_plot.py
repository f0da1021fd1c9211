"""``history.png``: loss and accuracy per epoch, training against validation."""

from __future__ import annotations

from keras_resnet.files import atomic_path


def plot_history(history: dict, path, unfrozen_after: int | None = None) -> None:
    """Draws the loss and accuracy curves of ``history`` (Keras names: loss, val_loss, accuracy ...)
    into the PNG at ``path``, atomically. Epochs are numbered from 1. ``unfrozen_after``
    (transfer learning) marks where the frozen-backbone epochs end."""
    from matplotlib.figure import Figure  # a bare Figure: no pyplot state, no display, caller's backend untouched
    from matplotlib.ticker import MaxNLocator

    panels = [("loss", "loss"), ("accuracy", "accuracy")]
    panels = [(title, key) for title, key in panels if history.get(key) or history.get(f"val_{key}")]
    figure = Figure(figsize=(5 * max(1, len(panels)), 3.6), layout="constrained")
    for index, (title, key) in enumerate(panels, start=1):
        axes = figure.add_subplot(1, len(panels), index)
        for name, label, style in ((key, "train", "-"), (f"val_{key}", "validation", "--")):
            values = history.get(name) or []
            points = [(epoch, v) for epoch, v in enumerate(values, start=1) if v is not None]
            if points:
                axes.plot(*zip(*points), style, marker="o", markersize=3, label=label)
        if unfrozen_after:
            axes.axvline(unfrozen_after + 0.5, color="gray", linestyle=":", label="backbone unfrozen")
        axes.set_title(title)
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
