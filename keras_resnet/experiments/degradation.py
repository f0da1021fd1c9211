"""The degradation problem (He et al. 2015, Fig. 1 and Fig. 6): deeper plain nets train worse; residual nets don't.

Each depth is trained twice: as a plain net (``shortcut="none"``) and as a
ResNet with parameter-free option-A identity shortcuts, so the two twins have
exactly the same layers and parameter count and differ only in the shortcuts.
"""

from __future__ import annotations

from keras_resnet.blocks import shortcut_kind
from keras_resnet.errors import KerasResnetError
from keras_resnet.experiments import plots, report
from keras_resnet.experiments.runner import ModelSpec
from keras_resnet.experiments.session import Session

DEFAULT_DEPTHS = (20, 56)


def parse_depths(depths):
    """``"20,56"`` or ``[20, 56]`` -> sorted distinct ints (at least two)."""
    if isinstance(depths, str):
        try:
            depths = [int(part) for part in depths.replace(" ", "").split(",") if part]
        except ValueError:
            raise KerasResnetError(f"--depths {depths!r} is not a comma-separated list of numbers:"
                                   " use e.g. --depths 20,56") from None
    depths = sorted({int(depth) for depth in depths})
    if len(depths) < 2:
        raise KerasResnetError(f"degradation needs at least two depths to compare, got {depths}: use e.g. 20,56")
    return depths


def degradation_models(depths=DEFAULT_DEPTHS):
    """Plain nets first (shallow to deep), then their residual twins."""
    depths = parse_depths(depths)
    plain = [ModelSpec(f"plain{d}", f"plain-{d}", {"depth": d, "shortcut": "none"}) for d in depths]
    residual = [ModelSpec(f"resnet{d}", f"ResNet-{d}", {"depth": d, "shortcut": "identity"}) for d in depths]
    return plain + residual


def final_train_errors(records):
    """``{"plain": {depth: %}, "residual": {depth: %}}`` from the records' last epochs."""
    errors = {"plain": {}, "residual": {}}
    for record in records.values():
        options = record["spec"]["options"]
        family = "plain" if shortcut_kind(options.get("shortcut", "identity")).plain else "residual"
        errors[family][options["depth"]] = report.final(record)
    return errors


def run_degradation(out="runs/experiments/degradation", *, depths=DEFAULT_DEPTHS, data="bundled", recipe="tiny",
                    epochs=None, train_images=None, seed=0, verbose=None):
    """Trains plain and residual nets of each depth under one recipe; writes degradation.json, .md and .png.

    The summary (``result.summary``) states from the final training errors whether
    the deepest plain net trained worse than the shallowest and whether the residual
    nets reversed it.
    """
    specs = degradation_models(depths)
    session = Session("degradation", out, data=data, recipe=recipe, epochs=epochs, train_images=train_images,
                      seed=seed, verbose=verbose)
    records = session.train(specs)
    findings = report.degradation_findings(final_train_errors(records))
    markdown = report.degradation_markdown(session.describe(), records, findings, "degradation.png")
    figures = {"degradation.png": lambda path: plots.plot_degradation(records, path)}
    return session.finish(records, findings, markdown, figures)
