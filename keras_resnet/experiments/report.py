"""Findings drawn from the measured numbers, and the Markdown summaries that state them.

Nothing here assumes the papers' conclusions: every sentence is chosen by
comparing the recorded errors (a difference under ``margin`` percentage
points counts as "about the same").
"""

from __future__ import annotations

import math

from keras_resnet.blocks import shortcut_kind
from keras_resnet.experiments import paper_results

MARGIN = 0.5  # percentage points; smaller differences are "about the same"


def final(record, key="train_error"):
    """The last recorded value of ``key`` (None before the first epoch)."""
    values = record["history"][key]
    return values[-1] if values else None


def best(record, key="test_error"):
    values = [v for v in record["history"][key] if v is not None and math.isfinite(v)]
    return min(values) if values else None


def compare(value, reference, margin=MARGIN):
    """'higher', 'lower' or 'same' (within ``margin``); None when either is missing."""
    if value is None or reference is None or not math.isfinite(value) or not math.isfinite(reference):
        return None
    if value - reference >= margin:
        return "higher"
    if reference - value >= margin:
        return "lower"
    return "same"


def percent(value):
    return "—" if value is None else f"{value:.2f}%"


def significant(value, digits=3):
    """``value`` to ``digits`` significant figures (ratios spanning orders of magnitude); "—" for None."""
    return "—" if value is None else f"{value:.{digits}g}"


def _ratio(value):
    return "—" if value is None else f"{value:.3f}"


def _points(a, b):
    return f"{abs(a - b):.2f} points"


# ---------------------------------------------------------------- degradation


def degradation_findings(train_errors, margin=MARGIN):
    """What the final training errors say; ``train_errors = {"plain": {depth: %}, "residual": {depth: %}}``.

    Compares the shallowest with the deepest depth of each family: did the deeper
    plain net train worse (degradation), and did the residual nets reverse it (the
    deeper residual net trains better)?
    """
    plain, residual = train_errors["plain"], train_errors["residual"]
    shallow, deep = min(plain), max(plain)
    plain_trend = compare(plain[deep], plain[shallow], margin)
    residual_trend = compare(residual[deep], residual[shallow], margin)
    deep_gap = compare(residual[deep], plain[deep], margin)
    degradation = plain_trend == "higher"
    reversed_ = degradation and residual_trend == "lower"
    p, r = f"plain-{deep}", f"ResNet-{deep}"
    sentences = []
    if plain_trend == "higher":
        sentences.append(f"The deeper plain net trained worse: {p} ended with {percent(plain[deep])} training error"
                         f" against {percent(plain[shallow])} for plain-{shallow}"
                         f" ({_points(plain[deep], plain[shallow])} higher). That is the degradation problem: more"
                         " layers, higher *training* error.")
    elif plain_trend == "lower":
        sentences.append(f"No degradation at this budget: {p} trained better than plain-{shallow}"
                         f" ({percent(plain[deep])} against {percent(plain[shallow])} training error).")
    else:
        sentences.append(f"No clear degradation at this budget: {p} and plain-{shallow} ended within {margin:g}"
                         f" points of each other ({percent(plain[deep])} and {percent(plain[shallow])} training"
                         " error).")
    if residual_trend == "lower":
        verb = "reversed it" if degradation else "gained from depth"
        sentences.append(f"The residual nets {verb}: {r} ended with {percent(residual[deep])} training error against"
                         f" {percent(residual[shallow])} for ResNet-{shallow}"
                         f" ({_points(residual[deep], residual[shallow])} lower).")
    elif residual_trend == "higher":
        penalty = (f"; depth cost the residual nets {_points(residual[deep], residual[shallow])} of training error"
                   f" against {_points(plain[deep], plain[shallow])} for the plain nets, so the shortcuts did not"
                   " reverse the degradation at this budget" if degradation else "")
        sentences.append(f"The deeper residual net trained worse as well: {r} {percent(residual[deep])} against"
                         f" ResNet-{shallow} {percent(residual[shallow])}{penalty}.")
    else:
        sentences.append(f"The residual nets did not degrade but did not clearly gain from depth either: {r}"
                         f" {percent(residual[deep])} against ResNet-{shallow} {percent(residual[shallow])} training"
                         f" error{' (within the margin, so not a reversal)' if degradation else ''}.")
    if deep_gap == "lower":
        sentences.append(f"At depth {deep}, adding the identity shortcuts lowered the training error from"
                         f" {percent(plain[deep])} to {percent(residual[deep])} with the same parameters.")
    elif deep_gap == "higher":
        sentences.append(f"At depth {deep} the residual net trained worse than its plain twin"
                         f" ({percent(residual[deep])} against {percent(plain[deep])}).")
    else:
        sentences.append(f"At depth {deep} the residual net and its plain twin ended within {margin:g} points"
                         f" ({percent(residual[deep])} and {percent(plain[deep])}).")
    return {"shallow_depth": shallow, "deep_depth": deep, "margin_points": margin,
            "plain_deeper_vs_shallower": plain_trend, "residual_deeper_vs_shallower": residual_trend,
            "residual_vs_plain_at_depth": deep_gap, "degradation_observed": degradation,
            "residual_reversed_degradation": reversed_, "sentences": sentences}


def _model_row(record, paper):
    return (f"| {record['spec']['label']} | {record['parameters']:,} | {percent(final(record))} |"
            f" {percent(final(record, 'test_error'))} | {percent(best(record))} |"
            f" {'diverged' if record.get('diverged') else len(record['history']['epoch'])} | {paper} |")


def opening(title, intro, setup, findings, paper=None):
    """The lines every experiment report starts with: title, what was done (one paragraph or a list), the
    setup, the measured findings' sentences and, when given, the paper's own words."""
    paragraphs = [intro] if isinstance(intro, str) else list(intro)
    lines = [f"# {title}", ""]
    for paragraph in paragraphs:
        lines += [paragraph, ""]
    lines += [f"Setup: {setup}.", "", "## What the numbers say", ""]
    lines += [f"- {sentence}" for sentence in findings["sentences"]]
    if paper:
        lines += ["", "## What the paper says", "", f"> {paper}"]
    return lines


def degradation_markdown(setup, records, findings, figure):
    lines = opening("Degradation: plain nets against residual nets",
                    "Plain nets and their residual twins (identical layers and parameter counts; the residual ones"
                    " add parameter-free option-A identity shortcuts), trained with the same data, recipe, seed and"
                    " budget.", setup, findings)
    lines += ["", "## Final errors", "",
              "| model | parameters | training error | test error | best test error | epochs | paper, CIFAR-10"
              " test error |", "|---|---:|---:|---:|---:|---:|---:|"]
    for record in records.values():
        depth = record["spec"]["options"]["depth"]
        plain = shortcut_kind(record["spec"]["options"].get("shortcut", "identity")).plain
        paper = "curve only (Fig. 6)" if plain else paper_results.RESNET_CIFAR10.get(depth, "—")
        lines.append(_model_row(record, paper))
    lines += ["", f"![training (dashed) and test (solid) error per epoch]({figure})", "",
              f"Training error is measured after each epoch on a fixed subset of the training images in inference"
              f" mode; test error on the test images. Paper numbers: {paper_results.DEEP_RESIDUAL_LEARNING}, Table 6"
              " (ResNets on CIFAR-10 with the full recipe, 64k iterations); its Figure 6 shows plain-20/32/44/56"
              " training error rising with depth. They are not comparable in absolute terms with a short run on"
              " other data: compare which net trains better.", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- shortcut and activation variants


def variant_findings(records, baseline, margin=MARGIN):
    """Each variant's final errors against ``baseline`` (a record name): which trained and tested worse."""
    base = records[baseline]
    rows = {}
    for name, record in records.items():
        rows[name] = {"train_error": final(record), "test_error": final(record, "test_error"),
                      "best_test_error": best(record), "diverged": bool(record.get("diverged")),
                      "train_vs_baseline": None if name == baseline else compare(final(record), final(base), margin),
                      "test_vs_baseline": None if name == baseline else
                      compare(final(record, "test_error"), final(base, "test_error"), margin)}
    finished = {name: row for name, row in rows.items() if row["test_error"] is not None}
    ranking = sorted(finished, key=lambda name: finished[name]["test_error"])
    label = lambda name: records[name]["spec"]["label"]  # noqa: E731
    sentences = []
    if ranking:
        lowest, highest = finished[ranking[0]]["test_error"], finished[ranking[-1]]["test_error"]
        sentences.append(f"Lowest final test error: {label(ranking[0])} ({percent(lowest)});"
                         f" highest: {label(ranking[-1])} ({percent(highest)}).")
    worse = [name for name, row in rows.items() if row["train_vs_baseline"] == "higher"]
    better = [name for name, row in rows.items() if row["train_vs_baseline"] == "lower"]
    same = [name for name, row in rows.items() if row["train_vs_baseline"] == "same"]
    base_label, base_error = label(baseline), percent(final(base))
    if worse:
        sentences.append(f"Trained worse than {base_label} ({base_error} training error): " + ", ".join(
            f"{label(name)} ({percent(rows[name]['train_error'])})" for name in worse) + ".")
    if better:
        sentences.append(f"Trained better than {base_label}: " + ", ".join(
            f"{label(name)} ({percent(rows[name]['train_error'])})" for name in better) + ".")
    if same:
        sentences.append(f"Within {margin:g} points of {base_label}'s training error: "
                         + ", ".join(label(name) for name in same) + ".")
    diverged = [label(name) for name, row in rows.items() if row["diverged"]]
    if diverged:
        sentences.append(f"Diverged (loss became NaN): {', '.join(diverged)}.")
    return {"baseline": baseline, "margin_points": margin, "ranking_by_test_error": ranking, "variants": rows,
            "sentences": sentences}


def variants_markdown(title, intro, setup, records, findings, columns, paper_columns, figure, paper_note):
    """A table of final errors per variant with the paper's numbers beside them.

    ``columns``: extra descriptive columns ``[(header, {name: text})]``;
    ``paper_columns``: ``[(header, {name: paper value})]``.
    """
    headers = ["variant", *[header for header, _ in columns], "parameters", "training error", "test error",
               "best test error", *[header for header, _ in paper_columns]]
    lines = opening(title, intro, setup, findings)
    lines += ["", "## Final errors", "", "| " + " | ".join(headers) + " |",
              "|" + "|".join(["---"] * (1 + len(columns)) + ["---:"] * (4 + len(paper_columns))) + "|"]
    for name, record in records.items():
        cells = [record["spec"]["label"], *[values.get(name, "") for _, values in columns],
                 f"{record['parameters']:,}", percent(final(record)),
                 "diverged" if record.get("diverged") else percent(final(record, "test_error")), percent(best(record)),
                 *[values.get(name, "—") for _, values in paper_columns]]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"![training (dashed) and test (solid) error per epoch]({figure})", "", paper_note, ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- identity


def identity_findings(records, labels):
    """Per setting: ratios ‖F(x)‖/‖x‖ at initialisation and after the last epoch, and what they show."""
    summary, sentences = {}, []
    for name, record in records.items():
        measurements = record["measurements"]
        first, last = measurements[0]["ratios"], measurements[-1]["ratios"]
        finite = lambda ratios: [v for v in ratios.values() if v is not None]  # noqa: E731
        start, end = finite(first), finite(last)
        summary[name] = {
            "initial_mean": sum(start) / len(start) if start else None,
            "initial_max": max(start) if start else None,
            "final_mean": sum(end) / len(end) if end else None,
            "final_max": max(end) if end else None,
            "final_epoch": measurements[-1]["epoch"],
            "units": len(last),
            "units_branch_smaller_than_shortcut": sum(1 for v in end if v < 1.0),
        }
    for name, values in summary.items():
        label = labels[name]
        if values["initial_max"] == 0.0:
            start = "every unit started as an exact identity (all ratios 0)"
        else:
            start = (f"the branches started at a mean ratio of {_ratio(values['initial_mean'])}"
                     f" (max {_ratio(values['initial_max'])})")
        sentences.append(
            f"{label}: {start}; after epoch {values['final_epoch']} the mean ratio is {_ratio(values['final_mean'])}"
            f" (max {_ratio(values['final_max'])}), and in {values['units_branch_smaller_than_shortcut']} of"
            f" {values['units']} units the branch is smaller than the shortcut (ratio < 1).")
    names = list(summary)
    if len(names) == 2:
        a, b = names
        if summary[a]["final_mean"] is not None and summary[b]["final_mean"] is not None:
            lower = a if summary[a]["final_mean"] < summary[b]["final_mean"] else b
            sentences.append(f"At the end, {labels[lower]} has the smaller residual branches on average"
                             f" ({summary[lower]['final_mean']:.3f} against"
                             f" {summary[b if lower == a else a]['final_mean']:.3f}).")
    return {"settings": summary, "sentences": sentences}


def identity_markdown(setup, records, labels, findings, figure):
    names = list(records)
    units = list(records[names[0]]["measurements"][-1]["ratios"])
    lines = opening("How close to the identity do residual units stay?",
                    "For every residual unit `y = x + F(x)` (x: the shortcut input to the addition, F(x): the"
                    " residual branch), the ratio ‖F(x)‖ / ‖x‖ on a fixed batch of training images, in inference"
                    " mode, before training and after every epoch. Ratio 0 means the unit is the identity; a small"
                    " ratio means the unit learned a small correction to its input, the situation residual learning"
                    " is designed for (He et al. 2015, Sec. 3.1 and Fig. 7).", setup, findings)
    lines += ["", "## Final errors", "", "| setting | parameters | training error | test error | epochs |",
              "|---|---:|---:|---:|---:|"]
    for name, record in records.items():
        lines.append(f"| {labels[name]} | {record['parameters']:,} | {percent(final(record))} |"
                     f" {percent(final(record, 'test_error'))} | {len(record['history']['epoch'])} |")
    header = " | ".join(f"{labels[name]}: initial | {labels[name]}: final" for name in names)
    lines += ["", "## Ratio ‖F(x)‖ / ‖x‖ per unit", "", f"| unit | {header} |",
              "|---|" + "---:|" * (2 * len(names))]
    for unit in units:
        cells = []
        for name in names:
            measurements = records[name]["measurements"]
            for ratios in (measurements[0]["ratios"], measurements[-1]["ratios"]):
                value = ratios.get(unit)
                cells.append(_ratio(value))
        lines.append(f"| {unit} | " + " | ".join(cells) + " |")
    lines += ["", f"![ratio per unit and epoch]({figure})", ""]
    return "\n".join(lines)
