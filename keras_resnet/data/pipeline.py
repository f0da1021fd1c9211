"""``make_pipeline``: one split -> batched, prefetched ``tf.data.Dataset`` for ``model.fit``.

Elements are ``(float32 images [B, H, W, C] with raw 0-255 values, int32 labels [B])``;
the models rescale inside, so exported models take raw pixels too.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import tensorflow as tf

from keras_resnet.data import augment as transforms
from keras_resnet.data.containers import DatasetSplits, ImageFiles, ImageRecords, LabeledImages
from keras_resnet.data.images import convert_channels, decode_image, normalize_image_size, resize_uint8
from keras_resnet.errors import KerasResnetError

# augment name -> whether it flips by default
AUGMENTATIONS = {None: False, "crop": False, "cifar": True, "imagenet": True}
DEFAULT_SHUFFLE_BUFFER = 10_000  # examples, for streamed splits (in-memory ones shuffle fully)
CACHE_MEMORY_FRACTION = 0.25  # cache=True caches a streamed split in memory if it fits in this much RAM


def _as_split(data):
    if isinstance(data, DatasetSplits):
        raise KerasResnetError(
            "make_pipeline takes one split, not all of them: pass splits.train (or .validation)"
        )
    if isinstance(data, (LabeledImages, ImageFiles, ImageRecords)):
        return data
    if isinstance(data, tuple) and len(data) == 2:
        return LabeledImages.from_arrays(*data, name="the arrays given to make_pipeline")
    raise KerasResnetError(
        f"make_pipeline got {type(data).__name__}: pass a split of load_dataset or an (images, labels) tuple"
    )


def _decoder(shape, from_path: bool):
    """A graph function: path or encoded bytes (string tensor) -> uint8 image of ``shape``.

    Pillow decodes (as ``read_image`` does) and the graph resizes, with the same
    ops as at load time, so streamed pixels equal in-memory ones.
    """
    size, channels = tuple(shape[:2]), shape[2]

    def decode(value):
        image = decode_image(os.fsdecode(value) if from_path else value, min_side=max(size))
        return convert_channels(image, channels)

    def graph_decode(value):
        image = tf.numpy_function(decode, [value], tf.uint8, stateful=False)
        image.set_shape((None, None, channels))
        same_size = tf.reduce_all(tf.equal(tf.shape(image)[:2], size))
        image = tf.cond(same_size, lambda: image, lambda: resize_uint8(image, size))
        image.set_shape(shape)
        return image

    return graph_decode


def _record_examples(split: ImageRecords, shuffle: bool, seed, shuffle_buffer):
    """The selected records, in file order or through a shuffle buffer of encoded records, decoded."""
    selected = tf.constant(split.selected)
    records = tf.data.TFRecordDataset(list(split.files), compression_type=split.compression)
    records = records.enumerate().filter(lambda index, _: tf.gather(selected, index))
    records = records.map(lambda _, record: record)
    if shuffle:
        buffer = shuffle_buffer or min(len(split), DEFAULT_SHUFFLE_BUFFER)
        records = records.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    features = {
        "image/encoded": tf.io.FixedLenFeature([], tf.string),
        "image/class/label": tf.io.FixedLenFeature([], tf.int64),
    }
    decode = _decoder(split.image_shape, from_path=False)

    def parse(record):
        example = tf.io.parse_single_example(record, features)
        label = tf.cast(example["image/class/label"] - split.label_offset, tf.int32)
        return decode(example["image/encoded"]), label

    examples = records.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    return examples.ignore_errors(log_warning=True) if split.skip_bad_images else examples


def _examples(split, shuffle: bool, seed, shuffle_buffer):
    """Unbatched ``(uint8 image, int32 label)`` of a split, shuffled if asked."""
    if isinstance(split, ImageRecords):
        return _record_examples(split, shuffle, seed, shuffle_buffer)
    # In memory or one file per example: shuffle indices, a perfect shuffle with nothing copied.
    indices = tf.data.Dataset.range(len(split))
    if shuffle:
        indices = indices.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    labels = tf.constant(split.labels)
    if isinstance(split, ImageFiles):
        paths, decode = tf.constant(split.paths), _decoder(split.image_shape, from_path=True)
        pick = lambda index: (decode(tf.gather(paths, index)), tf.gather(labels, index))  # noqa: E731
    else:
        images = tf.constant(split.images)
        pick = lambda index: (tf.gather(images, index), tf.gather(labels, index))  # noqa: E731
    return indices.map(pick, num_parallel_calls=tf.data.AUTOTUNE)


def read_split(data, batch_size: int = 32) -> tf.data.Dataset:
    """Batches of ``(uint8 images [B, H, W, C], int32 labels [B])`` of one split, in its order: no shuffling,
    augmentation or cache, so a split on disk is read (decoded a batch at a time) without being held in memory.

    For reading a split once (evaluation, or the few examples ``split.take(indices)`` picks), not for training.
    """
    split = _as_split(data)
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise KerasResnetError(f"batch_size={batch_size!r} must be a positive integer: use e.g. 32")
    return _examples(split, False, None, None).batch(int(batch_size)).prefetch(tf.data.AUTOTUNE)


def _cache_file(folder: str, split) -> str:
    """A cache file in ``folder`` named by what the split holds, so splits never share one."""
    digest = hashlib.sha256(repr(split.image_shape).encode())
    if isinstance(split, ImageRecords):
        parts = [*split.files, split.selected.tobytes(), str(split.label_offset)]
    else:
        parts = [*split.paths]
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, f"split-{digest.hexdigest()[:16]}")


def _fits_in_memory(split) -> bool:
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return False
    return len(split) * int(np.prod(split.image_shape)) <= CACHE_MEMORY_FRACTION * memory


def _transform(training, augment, flip, size, center_crop):
    """The per-image function ``(float32 image, seed [2]) -> float32 image of size``."""

    def apply(image, seed):
        crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        if not training:
            if center_crop:
                image = transforms.center_crop(image, center_crop)
            return transforms.resize(image, size)
        if augment == "imagenet":
            image = transforms.random_resized_crop(image, size, crop_seed)
        else:
            image = transforms.resize(image, size)
            if augment in ("crop", "cifar"):
                image = transforms.pad_and_crop(image, crop_seed)
        return transforms.random_flip(image, flip_seed) if flip else image

    return apply


def training_epochs(data, *, batch_size: int, steps_per_epoch: int, epochs: int, augment: str | None = None,
                    flip: bool | None = None, image_size=None, drop_remainder: bool = False, seed: int = 0,
                    first_epoch: int = 0, first_step: int = 0, cache=True,
                    shuffle_buffer: int | None = None) -> tf.data.Dataset:
    """Training batches of epochs ``first_epoch`` .. ``epochs - 1``: every epoch is exactly ``steps_per_epoch``
    batches whose order and augmentation depend only on ``(seed, epoch)``.

    So a run resumed at epoch ``first_epoch``, step ``first_step`` (the batches before it are skipped)
    sees the very batches an uninterrupted run of the same seed would: exact resume. Arguments as
    :func:`make_pipeline`; pass ``steps_per_epoch`` to ``model.fit`` too.
    """
    split, transform, size = _checked(data, batch_size, augment, flip, image_size, None, drop_remainder,
                                      shuffle_buffer, training=True)
    if not isinstance(steps_per_epoch, (int, np.integer)) or steps_per_epoch < 1:
        raise KerasResnetError(f"steps_per_epoch={steps_per_epoch!r} must be a positive integer")
    if not 0 <= first_step < steps_per_epoch or not 0 <= first_epoch < epochs:
        raise KerasResnetError(f"first_epoch={first_epoch}, first_step={first_step} must lie within {epochs} "
                               f"epochs of {steps_per_epoch} steps")
    cached = _cached_examples(split, cache, shuffle_buffer)

    def one_epoch(epoch: int):
        epoch_seed = int(seed) * 1_000_003 + epoch
        if cached is not None:
            examples = cached.shuffle(shuffle_buffer or min(len(split), DEFAULT_SHUFFLE_BUFFER), seed=epoch_seed)
        else:
            examples = _examples(split, True, epoch_seed, shuffle_buffer)
        key = tf.constant([int(seed), epoch], tf.int64)
        seeds = tf.data.Dataset.counter().map(lambda position: tf.random.experimental.stateless_fold_in(key, position))
        batches = _batched(tf.data.Dataset.zip(examples, seeds), transform, size, split, batch_size, drop_remainder)
        return batches.repeat().take(steps_per_epoch)

    dataset = one_epoch(first_epoch).skip(int(first_step))
    for epoch in range(first_epoch + 1, epochs):
        dataset = dataset.concatenate(one_epoch(epoch))
    return _with_sharding(dataset.prefetch(tf.data.AUTOTUNE))


def _checked(data, batch_size, augment, flip, image_size, center_crop, drop_remainder, shuffle_buffer, training):
    """The split, the per-image transform and the output size, after checking every argument."""
    split = _as_split(data)
    if augment not in AUGMENTATIONS:
        raise KerasResnetError(
            f"augment={augment!r} is not one of {list(AUGMENTATIONS)}: use 'crop' for digits, "
            "'cifar' for small photos, 'imagenet' for large photos"
        )
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise KerasResnetError(f"batch_size={batch_size!r} must be a positive integer: use e.g. 128")
    if center_crop is not None and not 0.0 < center_crop <= 1.0:
        raise KerasResnetError(f"center_crop={center_crop} must be in (0, 1]: use e.g. 0.875, or None")
    if shuffle_buffer is not None and shuffle_buffer < 1:
        raise KerasResnetError(f"shuffle_buffer={shuffle_buffer} must be positive: use e.g. 10000")
    if len(split) == 0:
        raise KerasResnetError("make_pipeline got an empty split: load a dataset with images in it")
    if drop_remainder and len(split) < batch_size:
        raise KerasResnetError(
            f"drop_remainder with batch_size={batch_size} but only {len(split)} images gives no batches: "
            "lower batch_size"
        )
    flip = AUGMENTATIONS[augment] if flip is None else bool(flip)
    size = normalize_image_size(image_size) or split.image_shape[:2]
    return split, _transform(training, augment, flip, size, center_crop), size


def _cached_examples(split, cache, shuffle_buffer):
    """A streamed split's examples, unshuffled and cached (in memory or in a file), or None when not cached."""
    streamed = not isinstance(split, LabeledImages)
    if streamed and (isinstance(cache, str) or (cache and _fits_in_memory(split))):
        cache_file = _cache_file(cache, split) if isinstance(cache, str) else ""
        return _examples(split, False, None, shuffle_buffer).cache(cache_file)
    return None


def _batched(examples_and_seeds, transform, size, split, batch_size, drop_remainder):
    """``(example, seed pair)`` pairs transformed and batched."""

    def prepare(example, seed_pair):
        image = transform(tf.cast(example[0], tf.float32), seed_pair)
        image.set_shape((*size, split.image_shape[2]))
        return image, example[1]

    dataset = examples_and_seeds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size, drop_remainder=drop_remainder)


def _with_sharding(dataset):
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def make_pipeline(data, *, batch_size: int, training: bool, augment: str | None = None,
                  flip: bool | None = None, image_size=None, center_crop: float | None = None,
                  drop_remainder: bool = False, seed: int | None = None, cache=True,
                  shuffle_buffer: int | None = None) -> tf.data.Dataset:
    """Batches of ``(float32 images 0-255, int32 labels)`` from one split.

    ``training`` shuffles (reshuffled every epoch) and augments: ``augment=None``
    nothing; ``"crop"`` pad 4 + random crop back to size (for digits and text,
    which must not be mirrored); ``"cifar"`` the same plus a random horizontal
    flip; ``"imagenet"`` a random-resized crop (8-100 % of the area, aspect
    3/4-4/3) to ``image_size``, plus flip. ``flip`` overrides the augment's
    default. Without ``training`` images are only resized to ``image_size``
    (after keeping the central ``center_crop`` fraction, e.g. 0.875, if given).
    ``batch_size`` is the global batch under ``tf.distribute``. ``seed`` fixes
    shuffle order and augmentation (each epoch still differs); under
    ``MultiWorkerMirroredStrategy`` give every worker the same seed, so that
    sharding by data splits one common order.

    In-memory splits shuffle fully and need no cache. Streamed splits
    (``stream=True``) decode on the fly; ``cache=True`` keeps decoded uint8
    images in memory after the first epoch when they fit in a quarter of RAM,
    a string names a folder to cache them in (one file per split, named by its
    contents), ``False`` never; shuffling then uses a ``shuffle_buffer``
    (default 10,000) of examples.
    """
    split, transform, size = _checked(data, batch_size, augment, flip, image_size, center_crop, drop_remainder,
                                      shuffle_buffer, training)
    cached = _cached_examples(split, cache, shuffle_buffer)
    if cached is not None and training:
        buffer = shuffle_buffer or min(len(split), DEFAULT_SHUFFLE_BUFFER)
        examples = cached.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    else:
        examples = cached if cached is not None else _examples(split, training, seed, shuffle_buffer)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    dataset = _batched(tf.data.Dataset.zip(examples, seeds), transform, size, split, batch_size, drop_remainder)
    return _with_sharding(dataset.prefetch(tf.data.AUTOTUNE))
