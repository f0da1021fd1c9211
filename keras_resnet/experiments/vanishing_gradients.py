"""Is degradation caused by vanishing gradients? (He et al. 2015, Sec. 4.1.)

The degradation experiment's twins (plain-20/56, ResNet-20/56) trained under one
recipe; before training and after every epoch, on a fixed batch of training images
in training mode, each unit's activation mean and standard deviation, the gradient
norm ‖∂L/∂x_l‖ reaching each unit's output, and each layer's weight-gradient norm
(:mod:`keras_resnet.experiments.signals`).

The criterion the report applies (and states): a net's gradients *vanished* when, at
any measurement, some unit receives less than ``VANISHING_RATIO`` (1/100) of the
gradient norm at the last unit; they *grew* when some unit receives more than
``GROWTH_RATIO`` (100) times it. Its forward signals *collapsed* when some unit's
output has a standard deviation below ``COLLAPSED_STD``.
"""

from __future__ import annotations

import math

from keras_resnet.blocks import shortcut_kind
from keras_resnet.experiments import plots, report
from keras_resnet.experiments.degradation import degradation_models, final_train_errors
from keras_resnet.experiments.report import significant
from keras_resnet.experiments.session import Session
from keras_resnet.experiments.signals import SignalMeasure, gradient_ratios

NAME = "vanishing-gradients"
DEFAULT_DEPTHS = (20, 56)
VANISHING_RATIO, GROWTH_RATIO = 0.01, 100.0
COLLAPSED_STD = 1e-3  # BatchNorm normalises to 1: a unit output this flat carries no signal forward
PAPER = ("\"We argue that this optimization difficulty is unlikely to be caused by vanishing gradients. These plain"
         " networks are trained with BN, which ensures forward propagated signals to have non-zero variances. We"
         " also verify that the backward propagated gradients exhibit healthy norms with BN. So neither forward nor"
         " backward signals vanish.\" (He et al. 2015, Sec. 4.1)")


def measurement_row(measurement):
    """One measurement in a few numbers: gradient ratios to the last unit, the flattest unit output, the loss."""
    ratios = gradient_ratios(measurement)
    per_unit = [value for value in list(ratios["per_unit"].values())[:-1] if value is not None]  # not the last
    layers = list(measurement["layers"].values())
    return {"epoch": measurement["epoch"], "loss": measurement["loss"], "first_to_last": ratios["end_to_end"],
            "smallest_unit_ratio": min(per_unit) if per_unit else None,
            "largest_unit_ratio": max(per_unit) if per_unit else None,
            "smallest_std": min(unit["std"] for unit in measurement["units"].values()),
            "first_to_last_weight_gradient": layers[0]["gradient"] / layers[-1]["gradient"]
            if layers[-1]["gradient"] else None}


def signal_summary(record):
    """Per measurement rows, and the extremes over the run with the verdict of the criterion."""
    rows = [measurement_row(measurement) for measurement in record["measurements"]]
    smallest = min((row["smallest_unit_ratio"] for row in rows if row["smallest_unit_ratio"] is not None),
                   default=None)
    largest = max((row["largest_unit_ratio"] for row in rows if row["largest_unit_ratio"] is not None), default=None)
    smallest_std = min(row["smallest_std"] for row in rows)
    vanished = smallest is not None and smallest < VANISHING_RATIO
    return {"rows": rows, "smallest_unit_ratio": smallest, "largest_unit_ratio": largest,
            "smallest_std": smallest_std, "vanished": vanished,
            "grew": largest is not None and largest > GROWTH_RATIO,
            "forward_collapsed": not smallest_std >= COLLAPSED_STD}  # NaN counts as collapsed


def is_plain(record):
    return shortcut_kind(record["spec"]["options"].get("shortcut", "identity")).plain


def spec_depth(record):
    return int(record["spec"]["options"]["depth"])


def vanishing_findings(records, margin=report.MARGIN):
    """What the measurements say about each net, and about the deepest plain net against the shallowest."""
    summaries = {name: signal_summary(record) for name, record in records.items()}
    label = lambda name: records[name]["spec"]["label"]  # noqa: E731
    sentences = []
    for name, summary in summaries.items():
        start = summary["rows"][0]
        sentences.append(
            f"{label(name)}: at initialisation the first unit received {significant(start['first_to_last'])}x the"
            f" gradient norm of the last unit; over the run the least any unit received was"
            f" {significant(summary['smallest_unit_ratio'])}x and the most"
            f" {significant(summary['largest_unit_ratio'])}x;"
            f" the flattest unit output had standard deviation {significant(summary['smallest_std'])}.")
    plain = {spec_depth(records[name]): name for name in records if is_plain(records[name])}
    deep, shallow = plain[max(plain)], plain[min(plain)]
    deep_summary = summaries[deep]
    if deep_summary["vanished"]:
        verdict = (f"By the criterion, {label(deep)}'s gradients vanished in this run: some unit received"
                   f" {significant(deep_summary['smallest_unit_ratio'])}x the last unit's gradient norm (below"
                   f" {VANISHING_RATIO:g}).")
    else:
        grew = (f"; instead they grew towards the input, up to {significant(deep_summary['largest_unit_ratio'])}x"
                f" (above {GROWTH_RATIO:g})" if deep_summary["grew"] else "")
        verdict = (f"By the criterion, {label(deep)}'s gradients did not vanish in this run: no unit received less"
                   f" than {significant(deep_summary['smallest_unit_ratio'])}x the last unit's gradient norm (vanishing"
                   f" means below {VANISHING_RATIO:g}){grew}.")
    sentences.append(verdict)
    errors = final_train_errors(records)["plain"]
    trend = report.compare(errors[max(plain)], errors[min(plain)], margin) if deep != shallow else None
    pair = (f"{report.percent(errors[max(plain)])} against {report.percent(errors[min(plain)])} training error for"
            f" {label(shallow)}")
    if trend == "higher" and not deep_summary["vanished"]:
        sentences.append(f"Yet {label(deep)} trained worse ({pair}): in this run the deeper plain net degraded"
                         " without vanishing gradients.")
    elif trend == "higher":
        sentences.append(f"{label(deep)} also trained worse ({pair}): in this run degradation and vanishing"
                         " gradients came together, so the run does not separate them.")
    elif trend is not None:
        sentences.append(f"{label(deep)} did not train worse than {label(shallow)} here ({pair}): no degradation"
                         " to explain at this budget.")
    collapsed = [label(name) for name, summary in summaries.items() if summary["forward_collapsed"]]
    sentences.append(f"Forward signals collapsed (some unit output's standard deviation below {COLLAPSED_STD:g}) in:"
                     f" {', '.join(collapsed)}." if collapsed else
                     f"No unit output of any net collapsed: every standard deviation stayed at or above"
                     f" {significant(min(s['smallest_std'] for s in summaries.values()))}.")
    return {"criterion": {"vanishing_ratio": VANISHING_RATIO, "growth_ratio": GROWTH_RATIO,
                          "collapsed_std": COLLAPSED_STD},
            "deep_plain": deep, "deep_plain_vanished": deep_summary["vanished"],
            "deep_plain_vs_shallow_plain": trend, "margin_points": margin,
            "models": summaries,
            "sentences": sentences}


def _unit_table(records, names):
    """Rows: units (input side first); columns: each model's ‖∂L/∂x_l‖ / ‖∂L/∂x_last‖ at the start and the end."""
    units = list(dict.fromkeys(unit for name in names for unit in records[name]["measurements"][0]["units"]))
    units.sort(key=lambda unit: tuple(int(part.removeprefix("conv").removeprefix("block"))
                                      for part in unit.split("_")))
    header = " | ".join(f"{records[n]['spec']['label']}: epoch 0 | epoch {records[n]['measurements'][-1]['epoch']}"
                        for n in names)
    lines = [f"| unit | {header} |", "|---|" + "---:|" * (2 * len(names))]
    ratios = {name: [gradient_ratios(m)["per_unit"] for m in (records[name]["measurements"][0],
                                                                  records[name]["measurements"][-1])]
              for name in names}
    for unit in units:
        cells = [significant(per_unit.get(unit)) for name in names for per_unit in ratios[name]]
        lines.append(f"| {unit} | " + " | ".join(cells) + " |")
    return lines


def vanishing_markdown(setup, records, findings, figure):
    lines = report.opening(
        "Is degradation caused by vanishing gradients?",
        ["Plain nets and their residual twins trained under one recipe. Before training (epoch 0) and after every"
         " epoch, on a fixed batch of training images in training mode (BatchNorm on batch statistics, as SGD sees"
         " the net): the gradient norm ‖∂L/∂x_l‖ of the loss at every unit's output x_l, each unit output's"
         " standard deviation, and every layer's weight-gradient norm.",
         f"**Criterion.** A net's gradients *vanished* when, at any measurement, some unit received less than"
         f" {VANISHING_RATIO:g} of the gradient norm at the last unit; they *grew* when some unit received more"
         f" than {GROWTH_RATIO:g} times it. Forward signals *collapsed* when some unit output's standard"
         f" deviation fell below {COLLAPSED_STD:g}."], setup, findings, PAPER)
    lines += ["", "## Per net", "",
              "| model | parameters | training error | test error | first/last unit gradient, epoch 0 | least"
              " unit/last, whole run | most unit/last, whole run | smallest output std | first/last layer"
              " weight gradient, epoch 0 → end | verdict |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, record in records.items():
        summary = findings["models"][name]
        start, end = summary["rows"][0], summary["rows"][-1]
        verdict = "vanished" if summary["vanished"] else "grew" if summary["grew"] else "neither"
        lines.append(
            f"| {record['spec']['label']} | {record['parameters']:,} | {report.percent(report.final(record))} |"
            f" {report.percent(report.final(record, 'test_error'))} | {significant(start['first_to_last'])} |"
            f" {significant(summary['smallest_unit_ratio'])} | {significant(summary['largest_unit_ratio'])} |"
            f" {significant(summary['smallest_std'])} | {significant(start['first_to_last_weight_gradient'])} →"
            f" {significant(end['first_to_last_weight_gradient'])} | {verdict} |")
    lines += ["", "## Gradient reaching each unit, relative to the last unit", ""]
    lines += _unit_table(records, list(records))
    lines += ["", f"![errors, gradient ratios and output spread per unit]({figure})", ""]
    return "\n".join(lines)


def plot_vanishing(records, findings, path):
    """Errors per epoch; first/last-unit gradient ratio per epoch; per-unit gradient ratio and output std at the
    start (dotted) and the end (solid)."""
    figure, (errors, over_time, per_unit, spread) = plots.panels(4, width=4.4)
    for i, (name, record) in enumerate(records.items()):
        colour, label = plots.COLOURS[i % len(plots.COLOURS)], record["spec"]["label"]
        plots.error_curves(errors, record, colour, label)
        rows = findings["models"][name]["rows"]
        over_time.plot([row["epoch"] for row in rows], [row["first_to_last"] or math.nan for row in rows],
                       color=colour, marker="o", markersize=3, label=label)
        for measurement, style in ((record["measurements"][0], ":"), (record["measurements"][-1], "-")):
            ratios = list(gradient_ratios(measurement)["per_unit"].values())
            per_unit.plot(range(1, len(ratios) + 1), [math.nan if v is None else v for v in ratios], style,
                          color=colour, marker="o", markersize=2, label=f"{label}, epoch {measurement['epoch']}")
            stds = [unit["std"] for unit in measurement["units"].values()]
            spread.plot(range(1, len(stds) + 1), stds, style, color=colour, marker="o", markersize=2,
                        label=f"{label}, epoch {measurement['epoch']}")
    plots.finish(errors, "errors (dashed: training, solid: test)")
    for axes in (over_time, per_unit):
        axes.set_yscale("log")
        for level in (VANISHING_RATIO, GROWTH_RATIO):
            axes.axhline(level, color="black", linewidth=0.8, linestyle="--")
    plots.finish(over_time, "gradient at first unit / at last unit", ylabel="‖∂L/∂x_first‖ / ‖∂L/∂x_last‖")
    plots.finish(per_unit, "per unit: epoch 0 (dotted), end (solid)", ylabel="‖∂L/∂x_l‖ / ‖∂L/∂x_last‖")
    plots.finish(spread, "unit output std: epoch 0 (dotted), end (solid)", ylabel="std of x_l")
    for axes in (per_unit, spread):
        axes.set_xlabel("unit (input side → output side)")
        axes.legend(fontsize=5)
    plots.save(figure, path)


def run_vanishing_gradients(out=f"runs/experiments/{NAME}", *, depths=DEFAULT_DEPTHS, data="bundled", recipe="tiny",
                            epochs=None, train_images=None, seed=0, verbose=None):
    """Trains plain and residual nets of each depth, measuring their signals before training and after every
    epoch; writes vanishing-gradients.json, .md and .png. ``result.summary["deep_plain_vanished"]`` says
    whether the deepest plain net's gradients vanished by the criterion."""
    specs = degradation_models(depths)
    session = Session(NAME, out, data=data, recipe=recipe, epochs=epochs, train_images=train_images, seed=seed,
                      verbose=verbose)
    records = session.train(specs, measure=SignalMeasure(session.data.train_eval.labels))
    findings = vanishing_findings(records)
    markdown = vanishing_markdown(session.describe(), records, findings, f"{NAME}.png")
    figures = {f"{NAME}.png": lambda path: plot_vanishing(records, findings, path)}
    return session.finish(records, findings, markdown, figures)
