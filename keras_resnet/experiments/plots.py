"""The experiments' figures, drawn on bare matplotlib Figures (no pyplot state, no display needed).

Curves follow Figure 6 of He et al. 2015: training error dashed, test error
solid, one colour per model.
"""

from __future__ import annotations

from keras_resnet.blocks import shortcut_kind

COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
           "tab:olive", "tab:cyan")


def panels(count, width=5.2, height=4.0):
    """A figure of ``count`` side-by-side axes, and the axes."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width * count, height), layout="constrained")
    return figure, [figure.add_subplot(1, count, i + 1) for i in range(count)]


def _points(record, key):
    history = record["history"]
    return [(epoch, value) for epoch, value in zip(history["epoch"], history[key]) if value is not None]


def error_curves(axes, record, colour, label):
    """A record's training (dashed) and test (solid) error per epoch."""
    for key, style, suffix in (("train_error", "--", "train"), ("test_error", "-", "test")):
        points = _points(record, key)
        if points:
            axes.plot(*zip(*points), style, color=colour, marker="o", markersize=2.5, linewidth=1.4,
                      label=f"{label} {suffix}")


def finish(axes, title, ylabel="error (%)"):
    """Integer epochs on x, title, labels, grid and legend."""
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(title)
    axes.set_xlabel("epoch")
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)


def save(figure, path):
    """The figure as a PNG at ``path``."""
    figure.savefig(path, format="png", dpi=110)


def plot_degradation(records, path):
    """Plain nets (left) and residual nets (right), one colour per depth, as Figure 6 of the 2015 paper."""
    depths = sorted({record["spec"]["options"]["depth"] for record in records.values()})
    colour = {depth: COLOURS[i % len(COLOURS)] for i, depth in enumerate(depths)}
    figure, (plain_axes, residual_axes) = panels(2)
    top = 0.0
    for record in records.values():
        plain = shortcut_kind(record["spec"]["options"].get("shortcut", "identity")).plain
        depth = record["spec"]["options"]["depth"]
        error_curves(plain_axes if plain else residual_axes, record, colour[depth],
                      f"{'plain' if plain else 'ResNet'}-{depth}")
        top = max([top, *(v for _, v in _points(record, "train_error") + _points(record, "test_error"))])
    for axes, title in ((plain_axes, "plain nets"), (residual_axes, "residual nets")):
        finish(axes, f"{title} (dashed: training, solid: test)")
        axes.set_ylim(0, min(100.0, top * 1.05 + 1))  # the same scale on both panels
    save(figure, path)


def plot_variants(records, path, title):
    """Every variant's training (dashed) and test (solid) error; training and test in separate panels too."""
    figure, (both_axes, train_axes, test_axes) = panels(3, width=4.6)
    for i, record in enumerate(records.values()):
        colour, label = COLOURS[i % len(COLOURS)], record["spec"]["label"]
        error_curves(both_axes, record, colour, label)
        for axes, key, style in ((train_axes, "train_error", "--"), (test_axes, "test_error", "-")):
            points = _points(record, key)
            if points:
                axes.plot(*zip(*points), style, color=colour, marker="o", markersize=2.5, label=label)
    finish(both_axes, title)
    finish(train_axes, "training error")
    finish(test_axes, "test error")
    save(figure, path)


def plot_identity(records, labels, path):
    """‖F(x)‖/‖x‖ per unit against epoch, one panel per setting, and per unit at the start and the end."""
    names = list(records)
    figure, axes = panels(len(names) + 1, width=4.6)
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    top = 0.0
    for panel, name in zip(axes, names):
        measurements = records[name]["measurements"]
        units = list(measurements[-1]["ratios"])
        for i, unit in enumerate(units):
            points = [(m["epoch"], m["ratios"].get(unit)) for m in measurements if m["ratios"].get(unit) is not None]
            if points:
                panel.plot(*zip(*points), color=cmap(i / max(1, len(units) - 1)), marker="o", markersize=2,
                           linewidth=1.2, label=unit)
                top = max(top, max(v for _, v in points))
        finish(panel, labels[name], ylabel="‖F(x)‖ / ‖x‖")
        panel.legend(fontsize=5, ncol=2)
    last = axes[-1]
    for i, name in enumerate(names):
        measurements = records[name]["measurements"]
        for measurement, style in ((measurements[0], ":"), (measurements[-1], "-")):
            values = [measurement["ratios"].get(unit) for unit in measurement["ratios"]]
            last.plot(range(1, len(values) + 1), [float("nan") if v is None else v for v in values], style,
                      color=COLOURS[i % len(COLOURS)], marker="o", markersize=3,
                      label=f"{labels[name]}, epoch {measurement['epoch']}")
    from matplotlib.ticker import MaxNLocator

    last.xaxis.set_major_locator(MaxNLocator(integer=True))
    last.set_title("per unit: start (dotted), end (solid)")
    last.set_xlabel("unit (input side → output side)")
    last.set_ylabel("‖F(x)‖ / ‖x‖")
    last.grid(alpha=0.3)
    last.legend(fontsize=7)
    for panel in axes:
        panel.set_ylim(0, top * 1.05 + 1e-3)
    save(figure, path)
