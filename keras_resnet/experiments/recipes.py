"""Training recipes as ``TrainConfig`` options: the tiny default that fits 2 CPU cores, and the papers' recipe.

He et al. 2015, Sec. 4.2: SGD, momentum 0.9, weight decay 1e-4, batch 128,
learning rate 0.1 divided by 10 at 32k and 48k iterations, stop at 64k;
4-pixel padding + random 32x32 crop + horizontal flip; ResNet-110 warms up at
0.01 for about 400 iterations (until training error < 80 %) first. The
Identity Mappings paper trains its CIFAR nets the same way. Every option is one
of ``keras_resnet.training``'s: the experiments train through ``train``.
"""

from __future__ import annotations

import dataclasses

from keras_resnet.errors import KerasResnetError
from keras_resnet.training import (TrainConfig, epoch_steps, resolve_config, run_length, scaled_learning_rate,
                                   schedule_for)

# The papers' optimizer and schedule; the learning rate is for a global batch of 128 (TrainConfig's
# reference_batch_size) and scaled linearly to the recipe's batch.
PAPERS_SGD = {"optimizer": "sgd", "learning_rate": 0.1, "momentum": 0.9, "weight_decay": 1e-4, "schedule": "step",
              "step_milestones": [0.5, 0.75], "step_factor": 0.1, "augment": "auto"}


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How every model of an experiment is trained; each model gets exactly the same recipe."""

    name: str
    options: dict  # TrainConfig options every model trains with
    train_images: int | None  # a fixed stratified subset of the training split; None: all
    train_eval_images: int  # training error is measured on a fixed subset of this many training images
    deep_net_options: dict = dataclasses.field(default_factory=dict)  # added for nets this deep or deeper:
    deep_net_depth: int = 0  # (the papers warm ResNet-110 up)

    def to_dict(self):
        return dataclasses.asdict(self)

    def train_config(self, depth: int, budget: Budget, **options) -> TrainConfig:
        """The validated ``TrainConfig`` of a net of ``depth`` layers: the recipe's options, the deep-net ones,
        then ``options``. A warm-up ends before the first drop of the rate (short runs reach it early)."""
        merged = dict(self.options)
        if self.deep_net_options and depth >= self.deep_net_depth:
            merged.update(self.deep_net_options)
            if merged.get("warmup_steps") and budget.boundaries:
                merged["warmup_steps"] = max(0, min(merged["warmup_steps"], budget.boundaries[0] - 1))
        return resolve_config(merged, **options)

    def describe(self, budget: Budget) -> str:
        """The recipe in one line, with the numbers the budget resolved."""
        config = resolve_config(self.options)
        rate = scaled_learning_rate(config.learning_rate, config.batch_size, config.reference_batch_size)
        text = (f"recipe `{self.name}`: {budget.epochs} epochs x {budget.steps_per_epoch} steps ="
                f" {budget.total_iterations} iterations, batch {config.batch_size}, {config.optimizer.upper()} lr"
                f" {rate:g} (x{config.step_factor:g} at iterations {', '.join(map(str, budget.boundaries))}),"
                f" momentum {config.momentum:g}, weight decay {config.weight_decay:g}")
        deep = self.deep_net_options
        if deep.get("warmup_steps"):
            warm_rate = scaled_learning_rate(deep.get("warmup_learning_rate", rate), config.batch_size,
                                             config.reference_batch_size)
            text += (f"; {deep['warmup_steps']} warm-up iterations at {warm_rate:g} for depth >="
                     f" {self.deep_net_depth}")
        return text


RECIPES = {
    # About 10 minutes for the default degradation run on 2 CPU cores with the bundled digits. The rate is
    # the papers' 0.1 per 128 images scaled to batch 64 (at 0.1, ResNet-56 blew up in its first steps here).
    "tiny": Recipe("tiny", {**PAPERS_SGD, "batch_size": 64, "epochs": 5}, train_images=2000,
                   train_eval_images=1000),
    # He et al. 2015 / 2016 on CIFAR-10, for a GPU machine.
    "paper": Recipe("paper", {**PAPERS_SGD, "batch_size": 128, "total_steps": 64_000}, train_images=None,
                    train_eval_images=10_000, deep_net_options={"warmup_steps": 400, "warmup_learning_rate": 0.01},
                    deep_net_depth=110),
}


def get_recipe(name, *, epochs=None, train_images=None) -> Recipe:
    """The named recipe with the user's overrides (``epochs`` replaces ``total_steps``)."""
    if isinstance(name, Recipe):
        recipe = name
    elif name not in RECIPES:
        raise KerasResnetError(f"unknown recipe {name!r}: choose one of {', '.join(RECIPES)}")
    else:
        recipe = RECIPES[name]
    if epochs is not None:
        if int(epochs) < 1:
            raise KerasResnetError(f"epochs={epochs} must be at least 1: use e.g. --epochs 5")
        options = {key: value for key, value in recipe.options.items() if key != "total_steps"}
        recipe = dataclasses.replace(recipe, options={**options, "epochs": int(epochs)})
    if train_images is not None:
        if int(train_images) < 10:
            raise KerasResnetError(f"train_images={train_images} is too few: use at least 10 (e.g. 2000)")
        recipe = dataclasses.replace(recipe, train_images=int(train_images))
    resolve_config(recipe.options)  # a recipe of options train would refuse fails here, before any data loads
    return recipe


@dataclasses.dataclass(frozen=True)
class Budget:
    """A recipe resolved against the data, as ``train`` resolves it on one device: epochs, steps and the
    iterations where the learning rate drops (without warm-up)."""

    epochs: int
    steps_per_epoch: int
    total_iterations: int
    boundaries: tuple

    def to_dict(self):
        return dataclasses.asdict(self)


def resolve_budget(recipe: Recipe, train_size: int) -> Budget:
    """Epochs and step boundaries for ``train_size`` training images (the last batch may be smaller)."""
    config = resolve_config(recipe.options)
    steps = epoch_steps(train_size, config.batch_size)
    epochs, _ = run_length(steps, config.epochs, config.total_steps)
    schedule = schedule_for(config, config.learning_rate, steps, epochs, config.batch_size)
    return Budget(epochs=epochs, steps_per_epoch=steps, total_iterations=epochs * steps,
                  boundaries=tuple(schedule.milestone_steps()))
