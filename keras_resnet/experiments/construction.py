"""The construction argument (He et al. 2015, Sec. 1): a deeper net made of a trained shallow net plus identity
units is at least as good as the shallow net. Does training it on keep it there?

For each family (residual, plain) a shallow net (ResNet-20, plain-20) is trained;
it is then grown to the deep net (ResNet-56, plain-56) with :func:`growing.grow_into`
and both the grown net and, as the fair baseline, a copy of the shallow net are
trained on for the same iterations at a lower learning rate. Before the first step
and after every epoch each run's training-subset and test errors are measured in
inference mode by one routine (``errors``), which also measures the shallow net,
so "starts at exactly the shallow net's accuracy" is a comparison of equal numbers.
"""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np

from keras_resnet.errors import KerasResnetError
from keras_resnet.experiments import plots, report
from keras_resnet.experiments.data import EVAL_BATCH
from keras_resnet.experiments.growing import grow_into, output_difference
from keras_resnet.experiments.recipes import resolve_budget
from keras_resnet.experiments.variants import parse_variants
from keras_resnet.experiments.runner import ModelSpec, run_models
from keras_resnet.experiments.session import Session
from keras_resnet.files import atomic_path

NAME = "construction"
START_DIR = "start"  # in the experiment folder: the weights each grown or continued net starts from
FAMILIES = {"residual": ("resnet", "ResNet", {"shortcut": "identity"}),
            "plain": ("plain", "plain", {"shortcut": "none"})}
PAPER = ("\"There exists a solution by construction to the deeper model: the added layers are identity mapping, and"
         " the other layers are copied from the learned shallower model. The existence of this constructed solution"
         " indicates that a deeper model should produce no higher training error than its shallower counterpart. But"
         " experiments show that our current solvers on hand are unable to find solutions that are comparably good"
         " or better than the constructed solution (or unable to do so in feasible time).\" (He et al. 2015, Sec. 1)")


def errors(model, data):
    """``{"train_error", "test_error"}`` (%) of ``model`` in inference mode on the fixed training subset and the
    test images, by direct calls: the same arithmetic for every model measured."""
    result = {}
    for key, split in (("train_error", data.train_eval), ("test_error", data.test)):
        wrong = 0
        for start in range(0, len(split), EVAL_BATCH):
            probabilities = model(split.images[start:start + EVAL_BATCH].astype(np.float32), training=False)
            wrong += int(np.sum(np.argmax(np.asarray(probabilities), -1) != split.labels[start:start + EVAL_BATCH]))
        result[key] = 100.0 * wrong / len(split)
    return result


def parse_families(families):
    """``"residual,plain"`` / a list / ``"all"`` -> known family names, in the given order."""
    return parse_variants(families, FAMILIES, "families")


def construction_models(shallow_depth, deep_depth, families):
    """``(shallow specs, {family: (grown spec, continued spec)})``; the latter two start from weights files."""
    if int(deep_depth) <= int(shallow_depth):
        raise KerasResnetError(f"deep depth {deep_depth} must exceed the shallow depth {shallow_depth}:"
                               " use e.g. --shallow-depth 20 --deep-depth 56")
    shallow, later = [], {}
    for family in parse_families(families):
        prefix, label, options = FAMILIES[family]
        source = ModelSpec(f"{prefix}{shallow_depth}", f"{label}-{shallow_depth}",
                           {"depth": int(shallow_depth), **options})
        shallow.append(source)
        later[family] = tuple(
            ModelSpec(f"{prefix}{depth}_{kind}", f"{label}-{depth} {kind} from {source.label}",
                      {"depth": int(depth), **options}, start_from=f"{START_DIR}/{prefix}{depth}_{kind}.weights.h5")
            for depth, kind in ((int(deep_depth), "grown"), (int(shallow_depth), "continued")))
    return shallow, later


def continuation_recipe(recipe, budget, epochs=None, rate=0.1):
    """The recipe the grown and continued nets train on with: ``rate`` x the learning rate, for ``epochs``
    (default: half the first run's, rounded up)."""
    if not 0 < float(rate) <= 1:
        raise KerasResnetError(f"continue rate {rate} must be in (0, 1]: a factor of the recipe's learning rate")
    options = {key: value for key, value in recipe.options.items() if key != "total_steps"}
    options.update(epochs=int(epochs) if epochs else max(1, math.ceil(budget.epochs / 2)),
                   learning_rate=options["learning_rate"] * float(rate))
    return dataclasses.replace(recipe, name=f"{recipe.name}, continued", options=options)


def _load(path):
    import keras

    return keras.saving.load_model(path, compile=False)


def prepare_start(session, shallow_spec, spec):
    """Grows (or copies) the trained shallow net into ``spec``'s net, saves its start weights and measures both.

    Returns the record of how it started (kept in the experiment's JSON)."""
    data = session.data
    shallow = _load(session.state.run_directory(shallow_spec.name).model_path)
    grown = spec.build(data.image_shape, len(data.class_names))
    added = grow_into(shallow, grown)
    with atomic_path(os.path.join(session.folder, spec.start_from)) as temporary:
        grown.save_weights(temporary)
    probe = data.probe_batch()
    return {"from": shallow_spec.name, "weights": spec.start_from, "added_units": len(added),
            "added_units_initialised_as": sorted(set(added.values())),
            "max_output_difference": {"inference": output_difference(shallow, grown, probe),
                                      "training": output_difference(shallow, grown, probe, training=True)},
            "shallow_errors": errors(shallow, data), "start_errors": errors(grown, data)}


def construction_findings(records, starts, later, margin=report.MARGIN):
    """Per family: did the grown net start at the shallow net's errors, and where did training take it?"""
    label = lambda name: records[name]["spec"]["label"]  # noqa: E731
    families, sentences = {}, []
    for family, (grown, continued) in later.items():
        start, shallow_name = starts[grown.name], starts[grown.name]["from"]
        shallow = start["shallow_errors"]
        first = records[grown.name]["measurements"][0]  # measured in the training run, before its first step
        exact = {key: first[key] for key in shallow} == shallow
        end = {name: records[name]["measurements"][-1] for name in (grown.name, continued.name)}
        versus_shallow = report.compare(end[grown.name]["train_error"], shallow["train_error"], margin)
        versus_continued = report.compare(end[grown.name]["train_error"], end[continued.name]["train_error"], margin)
        worst = max(m["train_error"] for m in records[grown.name]["measurements"])
        families[family] = {"started_exactly_at_shallow": exact, "first_measured": first, "shallow": shallow,
                            "grown_final": end[grown.name], "continued_final": end[continued.name],
                            "grown_vs_shallow": versus_shallow, "grown_vs_continued": versus_continued,
                            "worst_train_error": worst, **start}
        if exact:
            opening = (f"{label(grown.name)} started at exactly {label(shallow_name)}'s errors"
                       f" ({report.percent(shallow['train_error'])} training, {report.percent(shallow['test_error'])}"
                       f" test; largest output difference {start['max_output_difference']['inference']:.2g} in"
                       " inference mode")
        else:
            opening = (f"{label(grown.name)} did not start at {label(shallow_name)}'s errors"
                       f" ({report.percent(first['train_error'])} against"
                       f" {report.percent(shallow['train_error'])} training error; largest output difference"
                       f" {start['max_output_difference']['inference']:.2g} in inference mode")
        sentences.append(f"{opening}, {start['max_output_difference']['training']:.2g} in training mode).")
        outcome = {"lower": "beat", "same": f"equalled (within {margin:g} points)", "higher": "degraded from"}
        against = {"lower": "ended better than", "same": "ended level with", "higher": "ended worse than"}
        sentences.append(
            f"Trained on, it {outcome[versus_shallow]} the shallow net:"
            f" {report.percent(end[grown.name]['train_error'])} training error after epoch {end[grown.name]['epoch']}"
            f" against {report.percent(shallow['train_error'])} at the growth point (worst on the way:"
            f" {report.percent(worst)}); the shallow net trained on the same way reached"
            f" {report.percent(end[continued.name]['train_error'])}, so the grown net {against[versus_continued]} it.")
    return {"margin_points": margin, "families": families, "sentences": sentences}


def construction_markdown(setup, continuation, records, findings, starts, later, figure):
    lines = report.opening(
        "The construction argument: a shallow net grown deeper with identity units",
        "A trained shallow net is grown into a deeper one: its layers are copied by name (each stage keeps its"
        " trained units first) and every added unit is made an identity. Residual units get a zero branch (the"
        " last BatchNorm of F with γ = β = 0, or a zero last conv in pre-activation units), an identity in"
        " training and inference mode alike. Plain units have no shortcut, so their own layers must pass the"
        " signal through: identity (Dirac) 3x3 kernels and BatchNorm with γ = 1, β = 0, moving mean 0, moving"
        " variance 1 - ε. That is an identity in inference mode only; in training mode BatchNorm normalises"
        " with the batch's statistics, so from the first step the added plain layers are no identities (the"
        " training-mode output difference below measures by how much). Then the grown net, and a copy of the"
        " shallow net as the baseline, train on under the same recipe.",
        f"{setup}; then {continuation}", findings, PAPER)
    lines += ["", "## Errors (inference mode, measured alike)", "",
              "| model | parameters | added units | output difference to the shallow net: inference / training"
              " mode | training error at start | training error at end | test error at start | test error at end |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for family, specs in later.items():
        result = findings["families"][family]
        shallow = result["shallow"]
        shallow_name = result["from"]
        lines.append(f"| {records[shallow_name]['spec']['label']} (trained) | {records[shallow_name]['parameters']:,} |"
                     f" — | — | — | {report.percent(shallow['train_error'])} | — |"
                     f" {report.percent(shallow['test_error'])} |")
        for spec in specs:
            record, start = records[spec.name], records[spec.name]["measurements"][0]
            end = record["measurements"][-1]
            start_record = starts[spec.name]
            difference = start_record["max_output_difference"]
            lines.append(
                f"| {record['spec']['label']} | {record['parameters']:,} | {start_record['added_units']} |"
                f" {difference['inference']:.2g} / {difference['training']:.2g} |"
                f" {report.percent(start['train_error'])} | {report.percent(end['train_error'])} |"
                f" {report.percent(start['test_error'])} | {report.percent(end['test_error'])} |")
    lines += ["", f"![errors from the growth point on]({figure})", ""]
    return "\n".join(lines)


def plot_construction(records, findings, later, path):
    """One panel per family: training (dashed) and test (solid) error of the grown and the continued net from
    the growth point (epoch 0), the shallow net's errors there as black lines."""
    figure, axes_list = plots.panels(len(later))
    for axes, (family, specs) in zip(axes_list, later.items()):
        shallow = findings["families"][family]["shallow"]
        for i, spec in enumerate(specs):
            colour, measurements = plots.COLOURS[i], records[spec.name]["measurements"]
            for key, style, what in (("train_error", "--", "train"), ("test_error", "-", "test")):
                axes.plot([m["epoch"] for m in measurements], [m[key] for m in measurements], style, color=colour,
                          marker="o", markersize=3, label=f"{records[spec.name]['spec']['label']} {what}")
        for key, what, style in (("train_error", "training", ":"), ("test_error", "test", "-.")):
            axes.axhline(shallow[key], color="black", linestyle=style, linewidth=1,
                         label=f"shallow net's {what} error at the growth point")
        plots.finish(axes, f"{family}: from the growth point (epoch 0)")
    plots.save(figure, path)


def run_construction(out=f"runs/experiments/{NAME}", *, shallow_depth=20, deep_depth=56, families=tuple(FAMILIES),
                     continue_epochs=None, continue_rate=0.1, data="bundled", recipe="tiny", epochs=None,
                     train_images=None, seed=0, verbose=None):
    """Trains the shallow nets, grows each to ``deep_depth`` with identity units, and trains the grown nets and
    copies of the shallow ones on (``continue_epochs`` at ``continue_rate`` x the learning rate); writes
    construction.json, .md and .png."""
    shallow_specs, later = construction_models(shallow_depth, deep_depth, families)
    settings = {"construction": {"shallow_depth": int(shallow_depth), "deep_depth": int(deep_depth),
                                 "families": list(later), "continue_epochs": continue_epochs,
                                 "continue_rate": float(continue_rate)}}
    session = Session(NAME, out, data=data, recipe=recipe, epochs=epochs, train_images=train_images, seed=seed,
                      verbose=verbose, settings=settings)
    continuation = continuation_recipe(session.recipe, session.budget, continue_epochs, continue_rate)
    records = session.train(shallow_specs)
    starts = session.state.data.setdefault("starts", {})
    specs = []
    for shallow_spec, family_specs in zip(shallow_specs, later.values()):
        for spec in family_specs:
            finished = session.state.models.get(spec.name, {}).get("status") == "finished"
            needed = not finished and not os.path.exists(os.path.join(session.folder, spec.start_from))
            if spec.name not in starts or needed:  # grown once; again only if its weights file went missing
                starts[spec.name] = prepare_start(session, shallow_spec, spec)
                session.state.save()
            specs.append(spec)
    data = session.data
    records.update(run_models(session.state, specs, data, continuation, seed=session.seed,
                              measure=lambda model, _: errors(model, data), verbose=session.verbose))
    findings = construction_findings(records, starts, later)
    continued = continuation.describe(resolve_budget(continuation, len(data.train)))
    markdown = construction_markdown(session.describe(), continued, records, findings, starts, later,
                                     f"{NAME}.png")
    figures = {f"{NAME}.png": lambda path: plot_construction(records, findings, later, path)}
    return session.finish(records, findings, markdown, figures)
