"""Training recipes as data: the tiny default that fits 2 CPU cores, and the papers' full CIFAR-10 recipe.

He et al. 2015, Sec. 4.2: SGD, momentum 0.9, weight decay 1e-4, batch 128,
learning rate 0.1 divided by 10 at 32k and 48k iterations, stop at 64k;
4-pixel padding + random 32x32 crop + horizontal flip; ResNet-110 warms up at
0.01 for about 400 iterations (until training error < 80 %) first. The
Identity Mappings paper trains its CIFAR nets the same way.
"""

from __future__ import annotations

import dataclasses
import math

from keras_resnet.errors import KerasResnetError


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How every model of an experiment is trained; each model gets exactly the same recipe."""

    name: str
    batch_size: int
    learning_rate: float
    momentum: float
    weight_decay: float  # L2 on conv/dense kernels, through momentum as in the papers
    milestones: tuple  # learning rate x factor at these fractions of training
    factor: float
    epochs: int | None  # None: derived from ``iterations``
    iterations: int | None  # total SGD steps (the papers count iterations)
    train_images: int | None  # a fixed stratified subset of the training split; None: all
    train_eval_images: int  # training error is measured on a fixed subset of this many training images
    warmup_iterations: int  # at warmup_learning_rate first, for nets of warmup_min_depth layers or more
    warmup_learning_rate: float
    warmup_min_depth: int
    augment: str  # "auto": pad-4 crop + flip for colour images, crop only for grey ones (digits)

    def to_dict(self):
        return dataclasses.asdict(self)


RECIPES = {
    # About 10 minutes for the default degradation run on 2 CPU cores with the bundled digits. The rate is
    # the papers' 0.1 per 128 images scaled to batch 64 (at 0.1, ResNet-56 blew up in its first steps here).
    "tiny": Recipe(
        name="tiny", batch_size=64, learning_rate=0.05, momentum=0.9, weight_decay=1e-4,
        milestones=(0.5, 0.75), factor=0.1, epochs=5, iterations=None, train_images=2000,
        train_eval_images=1000, warmup_iterations=0, warmup_learning_rate=0.01, warmup_min_depth=110,
        augment="auto"),
    # He et al. 2015 / 2016 on CIFAR-10, for a GPU machine.
    "paper": Recipe(
        name="paper", batch_size=128, learning_rate=0.1, momentum=0.9, weight_decay=1e-4,
        milestones=(0.5, 0.75), factor=0.1, epochs=None, iterations=64_000, train_images=None,
        train_eval_images=10_000, warmup_iterations=400, warmup_learning_rate=0.01, warmup_min_depth=110,
        augment="auto"),
}


def get_recipe(name, *, epochs=None, train_images=None) -> Recipe:
    """The named recipe with the user's overrides (``epochs`` replaces ``iterations``)."""
    if isinstance(name, Recipe):
        recipe = name
    elif name not in RECIPES:
        raise KerasResnetError(f"unknown recipe {name!r}: choose one of {', '.join(RECIPES)}")
    else:
        recipe = RECIPES[name]
    if epochs is not None:
        if int(epochs) < 1:
            raise KerasResnetError(f"epochs={epochs} must be at least 1: use e.g. --epochs 5")
        recipe = dataclasses.replace(recipe, epochs=int(epochs), iterations=None)
    if train_images is not None:
        if int(train_images) < 10:
            raise KerasResnetError(f"train_images={train_images} is too few: use at least 10 (e.g. 2000)")
        recipe = dataclasses.replace(recipe, train_images=int(train_images))
    return recipe


@dataclasses.dataclass(frozen=True)
class Budget:
    """A recipe resolved against the data: epochs, steps and the learning-rate steps in iterations."""

    epochs: int
    steps_per_epoch: int
    total_iterations: int
    boundaries: tuple  # iterations where the learning rate drops (without warm-up)

    def to_dict(self):
        return dataclasses.asdict(self)


def resolve_budget(recipe: Recipe, train_size: int) -> Budget:
    """Epochs and step boundaries for ``train_size`` training images (the last batch may be smaller)."""
    steps = math.ceil(train_size / recipe.batch_size)
    if recipe.epochs is not None:
        epochs = recipe.epochs
        planned = epochs * steps
    else:
        planned = recipe.iterations
        epochs = math.ceil(planned / steps)
    boundaries = []
    for fraction in recipe.milestones:  # strictly increasing, even when a short run rounds two together
        boundaries.append(max(int(round(fraction * planned)), boundaries[-1] + 1 if boundaries else 0))
    boundaries = tuple(boundaries)
    return Budget(epochs=epochs, steps_per_epoch=steps, total_iterations=epochs * steps, boundaries=boundaries)


def learning_rate_steps(recipe: Recipe, budget: Budget, depth: int):
    """``(boundaries, values)`` of the piecewise-constant rate of one model (warm-up for deep nets)."""
    rate = recipe.learning_rate
    boundaries = list(budget.boundaries)
    # 12 significant digits: 0.001, not 0.0010000000000000002
    values = [float(f"{rate * recipe.factor ** k:.12g}") for k in range(len(boundaries) + 1)]
    warmup = recipe.warmup_iterations if depth >= recipe.warmup_min_depth else 0
    if boundaries:
        warmup = min(warmup, boundaries[0] - 1)  # very short runs: warm-up ends before the first drop
    if warmup > 0:
        boundaries = [warmup, *boundaries]
        values = [recipe.warmup_learning_rate, *values]
    return boundaries, values


def learning_rate_at(boundaries, values, iteration: int) -> float:
    """The rate of a piecewise-constant schedule at ``iteration`` (as keras' PiecewiseConstantDecay)."""
    for boundary, value in zip(boundaries, values):
        if iteration <= boundary:
            return value
    return values[-1]


def make_schedule(boundaries, values):
    """The Keras schedule for ``learning_rate_steps``."""
    import keras

    if not boundaries:
        return values[0]
    return keras.optimizers.schedules.PiecewiseConstantDecay(list(boundaries), list(values))
