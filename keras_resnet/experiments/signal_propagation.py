"""Does the signal propagate directly from any unit to any other? (Identity Mappings, Eq. 4-5 and Sec. 3.1.)

With ``x_{l+1} = λ·x_l + F(x_l)`` the gradient at unit l is
``∂E/∂x_l = ∂E/∂x_L · (Π λ_i + ∂/∂x_l Σ F̂_i)``: the shortcut term ``Π λ_i`` is 1 for
identity shortcuts and shrinks geometrically with depth for constant scaling
λ = 0.5. This experiment measures the gradient reaching the first unit relative
to the last (:func:`signals.gradient_ratios`, inside each stage, where the units'
shortcuts are identities or ``λ·x``) for v1 and v2 units and the Table 1 shortcut
variants:

- at initialisation, at several depths, once as initialised and once with every
  branch zeroed (``zero_init_residual``: F = 0), which leaves only the shortcut
  term; that one is set beside the formula's ``Π λ_i``;
- during training (a few variants at one depth): before training and after every
  epoch, through the package's training loop.
"""

from __future__ import annotations

import math

from keras_resnet.blocks import ALWAYS, shortcut_kind
from keras_resnet.errors import KerasResnetError
from keras_resnet.experiments import plots, report
from keras_resnet.experiments.report import significant
from keras_resnet.experiments.runner import ModelSpec
from keras_resnet.experiments.session import Session
from keras_resnet.experiments.shortcuts import SHORTCUT_VARIANTS
from keras_resnet.experiments.signals import SignalMeasure, SignalProbe, gradient_ratios
from keras_resnet.experiments.variants import Variant, parse_variants
from keras_resnet.specs import cifar_units_per_stage

NAME = "signal-propagation"
VARIANTS = {
    "original": Variant("v1 unit, identity shortcut", {"shortcut": "projection"}, {"on shortcut": "1", "on F": "1"}),
    "preactivation": Variant("v2 unit (pre-activation), identity shortcut", {"shortcut": "projection", "version": "v2"},
                             {"on shortcut": "1", "on F": "1"}),
    **{name: variant for name, variant in SHORTCUT_VARIANTS.items() if name != "original"},
}
DEFAULT_VARIANTS = ("original", "preactivation", "constant_scaling", "exclusive_gating", "shortcut_gating", "conv1x1",
                    "dropout")
DEFAULT_TRAINED = ("original", "constant_scaling")
DEFAULT_DEPTHS = (20, 56, 110)
TINY_DEPTH, PAPER_DEPTH = 20, 110  # the depth the trained variants have
MATCH = 0.01  # measured and formula agree when they differ by less than 1 %
AT_INIT_IMAGES = 32  # the first images of the probe batch: enough for a ratio, and a 110-layer pass stays quick
PAPER = ("\"Equations (4) and (5) suggest that the signal can be directly propagated from any unit to another, both"
         " forward and backward.\" With x_{l+1} = λ_l x_l + F: \"if λ_i > 1 for all i, this factor can be"
         " exponentially large; if λ_i < 1 for all i, this factor can be exponentially small and vanish, which blocks"
         " the backpropagated signal from the shortcut and forces it to flow through the weight layers.\""
         " (He et al. 2016, Identity Mappings in Deep Residual Networks, Sec. 2 and 3.1)")


def shortcut_term(options, depth):
    """The formula's ``Π λ_i`` over the units inside the stages (each stage's first unit to its last): 1 for
    identity shortcuts, ``λ^(3(n-1))`` for constant scaling; None where it depends on the data or on weights."""
    kind = shortcut_kind(options.get("shortcut", "identity"))
    units = cifar_units_per_stage(int(depth), options.get("block", "basic"))
    if kind.plain or kind.projects == ALWAYS or kind.gated:
        return None
    if kind.identity_path is None:
        return 1.0
    if options.get("shortcut") == "scaled":
        return float(options.get("shortcut_scale", 0.5)) ** (3 * (units - 1))
    return None  # dropout: a random mask


def measure_at_initialisation(session, variants, depths):
    """``{"variant@depth": {...}}`` for every variant and depth, kept in the experiment's JSON (a rerun reuses it):
    gradient ratios as initialised and with zero branches, and the formula's shortcut term."""
    import keras

    data = session.data
    images, labels = data.probe_batch(AT_INIT_IMAGES), data.train_eval.labels
    kept = session.state.data.setdefault("at_initialisation", {})
    for depth in depths:
        for name in variants:
            key = f"{name}@{depth}"
            if key in kept:
                continue
            options = {"depth": int(depth), **VARIANTS[name].options}
            entry = {"variant": name, "depth": int(depth), "formula": shortcut_term(options, depth)}
            for setting, extra in (("as_initialised", {}), ("zero_branches", {"zero_init_residual": True})):
                keras.utils.set_random_seed(session.seed)
                model = ModelSpec(name, VARIANTS[name].label, {**options, **extra}).build(
                    data.image_shape, len(data.class_names))
                ratios = gradient_ratios(SignalProbe(model).measure(images, labels[:len(images)]))
                entry[setting] = ratios
            kept[key] = entry
            session.state.save()
            if session.verbose:
                print(f"[at initialisation] {VARIANTS[name].label}, depth {depth}: first/last unit gradient through"
                      f" the shortcuts {significant(entry['as_initialised']['through_shortcuts'])} (zero branches"
                      f" {significant(entry['zero_branches']['through_shortcuts'])},"
                      f" formula {significant(entry['formula'])})",
                      flush=True)
    return {f"{name}@{depth}": kept[f"{name}@{depth}"] for depth in depths for name in variants}


def identity_twin(name):
    """The variant with the same unit and identity shortcuts: ``preactivation`` for v2 units, else ``original``."""
    return "preactivation" if VARIANTS[name].options.get("version") in ("v2", "full_preactivation") else "original"


def _ratio(numerator, denominator):
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def _agrees(measured, formula):
    ratio = _ratio(measured, formula)
    return ratio is not None and abs(ratio - 1) < MATCH


def propagation_findings(at_init, records, variants, depths):
    """From the numbers: does the zero-branch ratio equal the formula's Π λ_i, absolutely and relative to the same
    net with identity shortcuts; how the ratios move with depth and with training."""
    sentences, rows = [], {}
    for name in variants:
        twin = identity_twin(name)
        entries = [at_init[f"{name}@{depth}"] for depth in depths]
        zero = [entry["zero_branches"]["through_shortcuts"] for entry in entries]
        formula = [entry["formula"] for entry in entries]
        relative = [_ratio(value, at_init[f"{twin}@{depth}"]["zero_branches"]["through_shortcuts"])
                    if twin in variants and twin != name else None for value, depth in zip(zero, depths)]
        shortcut_units = [3 * (cifar_units_per_stage(depth, "basic") - 1) for depth in depths]
        per_unit = [value ** (1 / units) if value and value > 0 and units else None
                    for value, units in zip(relative, shortcut_units)]  # the factor each λ·x unit applies
        rows[name] = {"depths": list(depths), "zero_branches": zero, "formula": formula,
                      "as_initialised": [entry["as_initialised"]["through_shortcuts"] for entry in entries],
                      "relative_to_identity": relative, "shortcut_units": shortcut_units,
                      "relative_per_unit": per_unit,
                      "matches_formula": [_agrees(m, f) for m, f in zip(zero, formula)],
                      "relative_matches_formula": [_agrees(r, f) for r, f in zip(relative, formula)]}
        row, label = rows[name], VARIANTS[name].label
        listed = lambda values: ", ".join(significant(v) for v in values)  # noqa: E731
        text = (f"{label}: with zero branches the gradient reaching each stage's first unit, relative to its last"
                f" and multiplied over the stages, was {listed(zero)} at depths {', '.join(map(str, depths))}")
        if all(f is None for f in formula):
            text += "; the paper gives no closed form for this shortcut"
        elif all(row["matches_formula"]):
            text += f", the formula's Π λ_i ({listed(formula)}) within {MATCH:.0%} at every depth"
        else:
            text += f", where the formula's Π λ_i is {listed(formula)}"
            if name == twin and VARIANTS[name].options.get("version", "v1") in ("v1", "post_activation"):
                text += ("; this unit ends with a ReLU after the addition, which passes gradient only where the output"
                         " is positive, and Eq. 4-5 assume nothing after the addition")
        if any(r is not None for r in relative):
            text += f"; relative to the same net with identity shortcuts: {listed(relative)}"
            agree = [d for d, ok in zip(depths, row["relative_matches_formula"]) if ok]
            if any(f is not None for f in formula):
                scale = VARIANTS[name].options.get("shortcut_scale")
                factors = ", ".join(significant(v, 4) for v in per_unit)
                text += (f" (a factor of {factors} per shortcut unit; the formula: λ = {scale:g})" if scale else "")
                text += (f", the formula's Π λ_i within {MATCH:.0%} at every depth" if len(agree) == len(depths) else
                         f", the formula's Π λ_i within {MATCH:.0%} at depth{'s' * (len(agree) > 1)}"
                         f" {', '.join(map(str, agree))} only" if agree
                         else f", nowhere within {MATCH:.0%} of the formula's Π λ_i")
        sentences.append(text + f". As initialised, branches included: {listed(row['as_initialised'])}.")
    trained = {}
    for name, record in records.items():
        measurements = record["measurements"]
        ratios = [gradient_ratios(m)["through_shortcuts"] for m in measurements]
        trained[name] = {"epochs": [m["epoch"] for m in measurements], "through_shortcuts": ratios,
                         "train_error": report.final(record), "test_error": report.final(record, "test_error")}
        sentences.append(f"Trained {record['spec']['label']} (depth {record['spec']['options']['depth']}): the"
                         f" gradient through the shortcut units went from {significant(ratios[0])} before training to"
                         f" {significant(ratios[-1])} after epoch {measurements[-1]['epoch']}; final training error"
                         f" {report.percent(report.final(record))}.")
    return {"match_tolerance": MATCH, "at_initialisation": rows, "trained": trained, "sentences": sentences}


def propagation_markdown(setup, at_init, records, findings, variants, depths, figure):
    lines = report.opening(
        "Signal propagation through the shortcuts",
        "The gradient of the loss reaching the first unit relative to the last, ‖∂L/∂x_first‖ / ‖∂L/∂x_last‖,"
        f" measured on a fixed batch of training images ({AT_INIT_IMAGES} at initialisation, the probe batch"
        " during training) in training mode inside each stage (from the stage's"
        " first unit to its last) and multiplied over the stages: the units that change the shape, where the"
        " shortcut is a projection rather than λ·x, are left out. The formula's shortcut term Π λ_i"
        " (Identity Mappings, Eq. 5 and its λ form in Sec. 3.1) is 1 for identity shortcuts and λ^(3(n-1))"
        " for constant scaling (n units per stage). With every residual branch zeroed, the measured ratio is"
        " the shortcut term alone. — marks a ratio that is undefined (a zero or non-finite gradient).",
        setup, findings, PAPER)
    lines += ["", "## At initialisation", "",
              "| variant | on shortcut | on F | depth | formula Π λ_i | measured, zero branches | zero branches,"
              " relative to identity shortcuts | measured, as initialised | first/last unit over the whole net, as"
              " initialised |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for name in variants:
        variant, row = VARIANTS[name], findings["at_initialisation"][name]
        for i, depth in enumerate(depths):
            entry = at_init[f"{name}@{depth}"]
            lines.append(f"| {variant.label} | {variant.columns.get('on shortcut', '')} |"
                         f" {variant.columns.get('on F', '')} | {depth} | {significant(entry['formula'])} |"
                         f" {significant(row['zero_branches'][i])} | {significant(row['relative_to_identity'][i])} |"
                         f" {significant(entry['as_initialised']['through_shortcuts'])} |"
                         f" {significant(entry['as_initialised']['end_to_end'])} |")
    if records:
        lines += ["", "## During training", "", "| variant | depth | parameters | ratio before training | ratio at the"
                  " end | training error | test error |", "|---|---:|---:|---:|---:|---:|---:|"]
        for name, record in records.items():
            trained = findings["trained"][name]
            lines.append(f"| {record['spec']['label']} | {record['spec']['options']['depth']} |"
                         f" {record['parameters']:,} | {significant(trained['through_shortcuts'][0])} |"
                         f" {significant(trained['through_shortcuts'][-1])} |"
                         f" {report.percent(trained['train_error'])} | {report.percent(trained['test_error'])} |")
    lines += ["", f"![gradient ratios against depth and during training]({figure})", ""]
    return "\n".join(lines)


def plot_propagation(findings, records, variants, path):
    """Ratio against depth with zero branches (formula dashed) and as initialised; ratio per epoch when trained."""
    figure, (zero_axes, full_axes, *trained_axes) = plots.panels(3 if records else 2, width=4.8)
    nan = lambda values: [math.nan if v is None else v for v in values]  # noqa: E731
    for i, name in enumerate(variants):
        row, colour, label = findings["at_initialisation"][name], plots.COLOURS[i % len(plots.COLOURS)], \
            VARIANTS[name].label
        zero_axes.plot(row["depths"], nan(row["zero_branches"]), color=colour, marker="o", markersize=3, label=label)
        if any(value is not None for value in row["formula"]):
            zero_axes.plot(row["depths"], nan(row["formula"]), "--", color=colour, linewidth=0.9)
        full_axes.plot(row["depths"], nan(row["as_initialised"]), color=colour, marker="o", markersize=3, label=label)
    for i, (name, record) in enumerate(records.items()):
        trained, colour = findings["trained"][name], (variants.index(name) if name in variants else i)
        trained_axes[0].plot(trained["epochs"], nan(trained["through_shortcuts"]),
                          color=plots.COLOURS[colour % len(plots.COLOURS)], marker="o", markersize=3,
                          label=record["spec"]["label"])
    for axes, title in ((zero_axes, "zero branches (dashed: formula Π λ_i)"), (full_axes, "as initialised")):
        axes.set_yscale("log")
        plots.finish(axes, title, ylabel="‖∂L/∂x_first‖ / ‖∂L/∂x_last‖, through the shortcuts")
        axes.set_xlabel("depth")
        axes.legend(fontsize=6)
    for axes in trained_axes:
        axes.set_yscale("log")
        plots.finish(axes, "during training", ylabel="‖∂L/∂x_first‖ / ‖∂L/∂x_last‖, through the shortcuts")
    plots.save(figure, path)


def parse_depths(depths):
    """``"20,56,110"`` or a list -> sorted distinct depths, each 6n+2."""
    given = depths
    if isinstance(depths, str):
        depths = [part for part in depths.replace(" ", "").split(",") if part]
    try:
        depths = sorted({int(depth) for depth in depths})
    except ValueError:
        depths = []
    if not depths or any(cifar_units_per_stage(depth, "basic") is None for depth in depths):
        raise KerasResnetError(f"depths {given!r} must be comma-separated depths 6n+2 (20, 56, 110 ...):"
                               " use e.g. --depths 20,56,110")
    return depths


def run_signal_propagation(out=f"runs/experiments/{NAME}", *, variants=DEFAULT_VARIANTS, depths=DEFAULT_DEPTHS,
                           trained=DEFAULT_TRAINED, depth=None, data="bundled", recipe="tiny", epochs=None,
                           train_images=None, seed=0, verbose=None):
    """Measures the gradient ratios of ``variants`` at initialisation at each of ``depths``, then trains the
    ``trained`` variants at ``depth`` (default 20; 110 with the paper recipe), measuring before training and after
    every epoch; writes signal-propagation.json, .md and .png. ``trained="none"`` trains none."""
    variants = parse_variants(variants, VARIANTS, "variant(s)")
    trained = [] if not trained or trained == "none" else parse_variants(trained, VARIANTS, "variant(s)")
    depths = parse_depths(depths)
    if depth is None:
        depth = PAPER_DEPTH if getattr(recipe, "name", recipe) == "paper" else TINY_DEPTH
    specs = [ModelSpec(name, VARIANTS[name].label, {"depth": int(depth), **VARIANTS[name].options})
             for name in trained]
    session = Session(NAME, out, data=data, recipe=recipe, epochs=epochs, train_images=train_images, seed=seed,
                      verbose=verbose, settings={"at_initialisation_images": AT_INIT_IMAGES})
    at_init = measure_at_initialisation(session, variants, depths)
    records = session.train(specs, measure=SignalMeasure(session.data.train_eval.labels)) if specs else {}
    findings = propagation_findings(at_init, records, variants, depths)
    markdown = propagation_markdown(session.describe(), at_init, records, findings, variants, depths, f"{NAME}.png")
    figures = {f"{NAME}.png": lambda path: plot_propagation(findings, records, variants, path)}
    return session.finish(records, findings, markdown, figures)
