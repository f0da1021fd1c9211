"""Shared by the shortcut and activation experiments: one depth, several unit variants, one table."""

from __future__ import annotations

import dataclasses

from keras_resnet.errors import KerasResnetError
from keras_resnet.experiments import plots, report
from keras_resnet.experiments.runner import ModelSpec
from keras_resnet.experiments.session import Session

TINY_DEPTH, PAPER_DEPTH = 20, 110


@dataclasses.dataclass(frozen=True)
class Variant:
    """A row of one of the papers' tables: the model options and how the paper describes it."""

    label: str
    options: dict  # CifarResNet keyword arguments, depth excluded
    columns: dict = dataclasses.field(default_factory=dict)  # descriptive cells, by header


def parse_variants(chosen, registry, what):
    """``"a,b"`` / ``["a", "b"]`` / ``"all"`` -> names in the given order, each known."""
    if isinstance(chosen, str):
        chosen = list(registry) if chosen.strip() == "all" else [p for p in chosen.replace(" ", "").split(",") if p]
    chosen = list(dict.fromkeys(chosen))
    unknown = [name for name in chosen if name not in registry]
    if unknown or not chosen:
        raise KerasResnetError(f"unknown {what} {', '.join(map(repr, unknown)) or '(none given)'}:"
                               f" choose from {', '.join(registry)} (or all)")
    return chosen


def variant_models(registry, chosen, depth):
    return [ModelSpec(name, registry[name].label, {"depth": int(depth), **registry[name].options}) for name in chosen]


def run_variants(name, *, title, intro, registry, chosen, baseline, depth, paper_columns, paper_note, out, data,
                 recipe, epochs, train_images, seed, verbose):
    """Trains each chosen variant at ``depth``; writes ``{name}.json``, ``.md`` and ``.png`` to ``out``."""
    chosen = parse_variants(chosen, registry, name.rstrip("s") + " variant(s)")
    if depth is None:  # the papers' tables use ResNet-110; the tiny budget a net that trains in minutes
        depth = PAPER_DEPTH if getattr(recipe, "name", recipe) == "paper" else TINY_DEPTH
    specs = variant_models(registry, chosen, depth)
    session = Session(name, out, data=data, recipe=recipe, epochs=epochs, train_images=train_images, seed=seed,
                      verbose=verbose)
    records = session.train(specs)
    findings = report.variant_findings(records, baseline if baseline in records else chosen[0])
    headers = list(dict.fromkeys(header for variant in registry.values() for header in variant.columns))
    columns = [(header, {key: registry[key].columns.get(header, "") for key in chosen}) for header in headers]
    markdown = report.variants_markdown(title, intro, session.describe(), records, findings, columns,
                                        paper_columns, f"{name}.png", paper_note)
    figures = {f"{name}.png": lambda path: plots.plot_variants(records, path, f"{title} (depth {depth})")}
    return session.finish(records, findings, markdown, figures)
