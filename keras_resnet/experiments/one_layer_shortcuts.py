"""Must a shortcut skip at least two layers? (He et al. 2015, Sec. 3.2.)

Three nets of the same depth and the same layers: a plain net (no shortcuts), a
ResNet whose shortcuts skip one conv (``block="one_layer"``: ``y = ReLU(BN(W·x) + x)``,
twice as many units) and the usual ResNet whose shortcuts skip two. All v1 units
with parameter-free option-A shortcuts, so the three have the same parameters.
"""

from __future__ import annotations

from keras_resnet.experiments import plots, report
from keras_resnet.experiments.runner import ModelSpec
from keras_resnet.experiments.session import Session

NAME = "one-layer-shortcuts"
DEFAULT_DEPTH = 56
PAPER = ("\"The form of the residual function F is flexible. Experiments in this paper involve a function F that has"
         " two or three layers, while more layers are possible. But if F has only a single layer, Eqn.(1) is similar"
         " to a linear layer: y = W1x + x, for which we have not observed advantages.\" (He et al. 2015, Sec. 3.2)")
_SKIPS = "layers a shortcut skips"


def one_layer_models(depth=DEFAULT_DEPTH):
    """plain-D, ResNet-D with one-layer units, ResNet-D with two-layer units (depth 6n+2: both groupings fit)."""
    depth = int(depth)
    return [ModelSpec(f"plain{depth}", f"plain-{depth}", {"depth": depth, "shortcut": "none"}),
            ModelSpec(f"one_layer{depth}", f"ResNet-{depth}, one-layer units",
                      {"depth": depth, "block": "one_layer", "shortcut": "identity"}),
            ModelSpec(f"two_layer{depth}", f"ResNet-{depth}, two-layer units",
                      {"depth": depth, "shortcut": "identity"})]


def one_layer_findings(records, margin=report.MARGIN):
    """Final training errors: one-layer units against the plain net (any gain?) and against two-layer units."""
    plain, one, two = records
    findings = report.variant_findings(records, baseline=two, margin=margin)
    error = {name: report.final(records[name]) for name in records}
    label = {name: records[name]["spec"]["label"] for name in records}
    gain = {name: report.compare(error[name], error[plain], margin) for name in (one, two)}
    said = {"lower": "trained better than", "same": "trained level with", "higher": "trained worse than"}
    sentences = []
    for name in (one, two):
        if gain[name] is None:
            sentences.append(f"{label[name]}: no final training error to compare (diverged or no epochs).")
            continue
        sentences.append(f"{label[name]} {said[gain[name]]} {label[plain]}: {report.percent(error[name])} against"
                         f" {report.percent(error[plain])} final training error.")
    versus = report.compare(error[one], error[two], margin)
    if versus is not None and gain[one] is not None:
        helped = {"lower": f"cut the training error by {error[plain] - error[one]:.2f} points against no shortcuts",
                  "same": f"left the training error within {margin:g} points of no shortcuts",
                  "higher": f"raised the training error by {error[one] - error[plain]:.2f} points against no"
                            " shortcuts"}[gain[one]]
        sentences.append(f"One-layer against two-layer shortcuts at equal depth: {report.percent(error[one])}"
                         f" against {report.percent(error[two])} training error"
                         f" ({'about the same' if versus == 'same' else 'one-layer ' + versus}); in this run the"
                         f" one-layer shortcuts {helped}.")
    findings.update({"one_layer_vs_plain": gain[one], "two_layer_vs_plain": gain[two], "one_layer_vs_two_layer": versus,
                     "sentences": sentences + findings["sentences"]})
    return findings


def run_one_layer_shortcuts(out=f"runs/experiments/{NAME}", *, depth=DEFAULT_DEPTH, data="bundled", recipe="tiny",
                            epochs=None, train_images=None, seed=0, verbose=None):
    """Trains plain-``depth``, a ResNet of one-layer units and one of two-layer units (same layers, same
    parameters); writes one-layer-shortcuts.json, .md and .png."""
    specs = one_layer_models(depth)
    session = Session(NAME, out, data=data, recipe=recipe, epochs=epochs, train_images=train_images, seed=seed,
                      verbose=verbose)
    records = session.train(specs)
    findings = one_layer_findings(records)
    units = {spec.name: ("—" if spec.options.get("shortcut") == "none" else
                         "1" if spec.options.get("block") == "one_layer" else "2") for spec in specs}
    title = f"One-layer against two-layer shortcuts at depth {depth}"
    markdown = report.variants_markdown(
        title, "The same layers with no shortcuts, with a shortcut around every conv (one-layer units,"
               " `y = ReLU(BN(W·x) + x)`) and around every two convs (the papers' basic units). Note the ReLU after"
               " the addition: with BatchNorm and ReLU the one-layer unit is not the purely linear `y = W·x + x` of"
               " the paper's remark.", session.describe(), records, findings, [(_SKIPS, units)], [],
        f"{NAME}.png", f"What the paper says:\n\n> {PAPER}")
    figures = {f"{NAME}.png": lambda path: plots.plot_variants(records, path, title)}
    return session.finish(records, findings, markdown, figures)
