"""The data every model of an experiment sees: one fixed training subset, one held-out set, one probe batch.

It stays in memory: ``splits()`` hands it to ``train`` as it is.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_resnet.data import DatasetSplits, LabeledImages, load_dataset, make_pipeline, stratified_split
from keras_resnet.errors import KerasResnetError
from keras_resnet.training import resolve_augment

EVAL_BATCH = 256
PROBE_IMAGES = 128  # the fixed batch on which identity ratios are measured
HELD_OUT_FRACTION = 0.2  # sources without a test or validation split lose this much of train to testing


@dataclasses.dataclass(frozen=True, eq=False)
class ExperimentData:
    """Training images, the subset the training error is measured on, and the test images."""

    source: str
    class_names: list
    train: LabeledImages
    train_eval: LabeledImages
    test: LabeledImages
    augment: str  # as train resolves the recipe's: crop, cifar, imagenet or none

    @property
    def image_shape(self):
        return self.train.image_shape

    def describe(self):
        return {"source": self.source, "image_shape": list(self.image_shape), "classes": len(self.class_names),
                "train_images": len(self.train), "train_eval_images": len(self.train_eval),
                "test_images": len(self.test), "augment": self.augment}

    def splits(self) -> DatasetSplits:
        """What ``train`` trains on: the training subset, and the held-out images as its test split."""
        return DatasetSplits(list(self.class_names), train=self.train, test=self.test, source=self.source)

    def eval_pipeline(self, split):
        """``split`` in batches, unaugmented, for evaluation in inference mode."""
        return make_pipeline(split, batch_size=EVAL_BATCH, training=False)

    def probe_batch(self, count=PROBE_IMAGES):
        """A fixed batch of training images (float32 raw pixels), the same for every model and epoch."""
        return self.train_eval.images[:count].astype(np.float32)


def _stratified_subset(split: LabeledImages, count: int, seed: int) -> LabeledImages:
    """About ``count`` images with the class balance of ``split``, fixed by ``seed``."""
    if count is None or count >= len(split):
        return split
    _, chosen = stratified_split(split.labels, count / len(split), seed)
    return split.take(chosen)


def _must_be_in_memory(split, source):
    if not isinstance(split, LabeledImages):
        raise KerasResnetError(f"dataset '{source}' was streamed from disk: experiments need it in memory;"
                               " load it without stream=True")
    return split


def load_experiment_data(source, recipe, seed=0) -> ExperimentData:
    """Loads ``source`` (anything ``load_dataset`` takes) and cuts the recipe's fixed subsets from it."""
    splits = load_dataset(source, validation_split=0.0)
    train = _must_be_in_memory(splits.train, source)
    held_out = splits.test if splits.test is not None else splits.validation
    if held_out is None:
        kept, test_indices = stratified_split(train.labels, HELD_OUT_FRACTION, seed)
        train, held_out = train.take(kept), train.take(test_indices)
    held_out = _must_be_in_memory(held_out, source)
    train = _stratified_subset(train, recipe.train_images, seed)
    if len(train) < 2:
        raise KerasResnetError(f"dataset '{source}' leaves {len(train)} training image(s): use more images")
    # Shuffled once, so the first images (the probe batch) span the classes.
    order = np.random.default_rng([seed, 1]).permutation(len(train))
    train_eval = train.take(order[:min(recipe.train_eval_images, len(train))])
    augment = resolve_augment(recipe.options.get("augment", "auto"), train.image_shape)  # never mirrors digits
    return ExperimentData(source=str(source if source is not None else "bundled"),
                          class_names=list(splits.class_names), train=train, train_eval=train_eval,
                          test=held_out, augment=augment)
