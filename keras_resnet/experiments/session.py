"""One experiment folder: recipe + data + JSON state in, a run directory per model, Markdown and PNGs out."""

from __future__ import annotations

import dataclasses
import os

from keras_resnet.experiments.data import load_experiment_data
from keras_resnet.experiments.recipes import get_recipe, resolve_budget
from keras_resnet.experiments.runner import ExperimentState, default_verbosity, run_models
from keras_resnet.files import atomic_path, write_text


@dataclasses.dataclass
class ExperimentResult:
    """What an experiment wrote: ``paths`` (json, md, png...), its ``summary`` (findings), the ``records``."""

    name: str
    folder: str
    paths: dict
    summary: dict
    markdown: str
    records: dict


class Session:
    """Opens (or resumes) the experiment ``name`` in ``folder`` under one recipe and dataset."""

    def __init__(self, name, folder, *, data="bundled", recipe="tiny", epochs=None, train_images=None, seed=0,
                 verbose=None, settings=None):
        self.name = name
        self.folder = os.fspath(folder)
        self.seed = int(seed)
        self.verbose = default_verbosity() if verbose is None else int(verbose)
        self.recipe = get_recipe(recipe, epochs=epochs, train_images=train_images)
        self.data = load_experiment_data(data, self.recipe, self.seed)
        self.budget = resolve_budget(self.recipe, len(self.data.train))
        self.config = {"data": self.data.describe(), "recipe": self.recipe.to_dict(),
                       "budget": self.budget.to_dict(), "seed": self.seed, **(settings or {})}
        self.state = ExperimentState(self.folder, name, self.config)
        self.state.save()  # claims the folder for these settings before the first model trains

    def describe(self):
        """One line for the report: the data and the recipe every model shared."""
        data = self.data
        return (f"data `{data.source}` ({len(data.train)} training images, training error measured on"
                f" {len(data.train_eval)} of them, {len(data.test)} test images, {data.image_shape[0]}x"
                f"{data.image_shape[1]}x{data.image_shape[2]}, augment {data.augment});"
                f" {self.recipe.describe(self.budget)}; seed {self.seed}")

    def train(self, specs, measure=None):
        return run_models(self.state, specs, self.data, self.recipe, seed=self.seed, measure=measure,
                          verbose=self.verbose)

    def finish(self, records, summary, markdown, figures):
        """Writes the Markdown and the PNGs (``{file name: draw(path)}``) and the summary into the JSON."""
        paths = {"json": self.state.path, "md": os.path.join(self.folder, f"{self.name}.md"), "png": []}
        for file_name, draw in figures.items():
            path = os.path.join(self.folder, file_name)
            with atomic_path(path) as temporary:
                draw(temporary)
            paths["png"].append(path)
        write_text(paths["md"], markdown)
        self.state.data["summary"] = summary
        self.state.data["files"] = {"markdown": os.path.basename(paths["md"]),
                                    "figures": [os.path.basename(path) for path in paths["png"]]}
        self.state.save()
        if self.verbose:
            print(f"Wrote {paths['md']}, {paths['json']} and {', '.join(paths['png'])}", flush=True)
        return ExperimentResult(self.name, self.folder, paths, summary, markdown, records)
