"""tf.data pipelines, augmentation, stratified splits and labels.txt."""

import os

import numpy as np
import pytest
import tensorflow as tf

from keras_resnet.data import (
    DatasetSplits, LabeledImages, load_dataset, make_pipeline, read_labels, stratified_split, write_labels,
)
from keras_resnet.errors import KerasResnetError


def _split(count=10, size=(8, 8), channels=3):
    """Image i is filled with the value i * 10, so a batch tells which examples it holds."""
    images = np.broadcast_to((np.arange(count) * 10 % 256).astype(np.uint8)[:, None, None, None],
                             (count, *size, channels)).copy()
    return LabeledImages.from_arrays(images, np.arange(count) % 2)


def _epoch(dataset):
    images, labels = zip(*((x.numpy(), y.numpy()) for x, y in dataset))
    return np.concatenate(images), np.concatenate(labels)


# ---- pipeline ------------------------------------------------------------------------------------

def test_eval_pipeline_keeps_order_dtype_and_raw_values():
    dataset = make_pipeline(_split(), batch_size=4, training=False)
    assert dataset.element_spec[0] == tf.TensorSpec((None, 8, 8, 3), tf.float32)
    assert dataset.element_spec[1] == tf.TensorSpec((None,), tf.int32)
    images, labels = _epoch(dataset)
    assert images.shape == (10, 8, 8, 3) and images[:, 0, 0, 0].tolist() == list(range(0, 100, 10))
    assert labels.tolist() == [0, 1] * 5


def test_eval_pipeline_resizes_and_center_crops():
    dataset = make_pipeline(_split(size=(16, 12)), batch_size=3, training=False, image_size=6)
    assert next(iter(dataset))[0].shape == (3, 6, 6, 3)
    framed = np.zeros((2, 16, 16, 1), np.uint8)
    framed[:, 4:12, 4:12] = 200  # a bright centre in a dark frame
    cropped = make_pipeline((framed, [0, 1]), batch_size=2, training=False, center_crop=0.5, image_size=4)
    images = next(iter(cropped))[0].numpy()
    assert images.shape == (2, 4, 4, 1) and np.allclose(images, 200)  # only the centre is left


def test_training_shuffles_every_epoch_and_sees_every_example_once():
    dataset = make_pipeline(_split(40), batch_size=8, training=True, seed=1)
    (first, labels), (second, _) = _epoch(dataset), _epoch(dataset)
    assert sorted(first[:, 0, 0, 0].tolist()) == sorted(np.arange(40) * 10 % 256)
    assert first[:, 0, 0, 0].tolist() != second[:, 0, 0, 0].tolist()
    assert np.array_equal(labels, first[:, 0, 0, 0].astype(int) // 10 % 2)  # labels follow their images


@pytest.mark.parametrize(
    "augment, image_size", [(None, None), ("crop", None), ("cifar", 10), ("imagenet", 6)]
)
def test_augmentations_keep_shape_dtype_and_range(augment, image_size):
    data = load_dataset(validation_split=0).test.take(np.arange(64))
    dataset = make_pipeline(data, batch_size=32, training=True, augment=augment, image_size=image_size, seed=0)
    size = image_size or 28
    for images, labels in dataset:
        assert images.shape == (32, size, size, 1) and images.dtype == tf.float32
        assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 255.0
        assert labels.dtype == tf.int32


def test_same_seed_same_batches_and_crop_shifts_content():
    data = load_dataset(validation_split=0).test.take(np.arange(16))
    one, two = (_epoch(make_pipeline(data, batch_size=16, training=True, augment="crop", seed=5))
                for _ in range(2))
    assert np.array_equal(one[0], two[0]) and np.array_equal(one[1], two[1])
    plain = _epoch(make_pipeline(data, batch_size=16, training=True, seed=5))
    assert np.array_equal(plain[1], one[1])  # same shuffle order, only the crops differ
    assert not np.array_equal(plain[0], one[0])


def test_flip_is_explicit():
    asymmetric = np.zeros((64, 4, 4, 1), np.uint8)
    asymmetric[:, :, 0] = 255  # left column white
    data = LabeledImages.from_arrays(asymmetric, np.arange(64) % 2)
    left_white = lambda images: images[:, 0, 0, 0] == 255  # noqa: E731
    unflipped = _epoch(make_pipeline(data, batch_size=64, training=True, augment="crop", seed=0))[0]
    assert np.all(left_white(unflipped) | (unflipped[:, 0, 0, 0] == 0))  # a crop may pad, never mirror
    flipped = _epoch(make_pipeline(data, batch_size=64, training=True, flip=True, seed=0))[0]
    assert 0 < left_white(flipped).sum() < 64


def test_pipeline_accepts_arrays_and_drops_remainder():
    dataset = make_pipeline((np.zeros((10, 4, 4)), np.arange(10) % 3), batch_size=4, training=False,
                            drop_remainder=True)
    assert [int(x.shape[0]) for x, _ in dataset] == [4, 4]
    assert dataset.element_spec[0].shape == (4, 4, 4, 1)


@pytest.mark.parametrize(
    "data, options, message",
    [
        (_split(), {"augment": "autoaugment"}, r"augment='autoaugment' is not one of"),
        (_split(), {"batch_size": 0}, r"batch_size=0 must be a positive integer"),
        (_split(), {"center_crop": 1.5}, r"center_crop=1.5 must be in \(0, 1\]"),
        (_split(), {"drop_remainder": True, "batch_size": 64}, r"gives no batches"),
        (DatasetSplits(["a", "b"], _split()), {}, r"pass splits.train"),
        ([1, 2], {}, r"pass a split of load_dataset"),
    ],
)
def test_pipeline_errors(data, options, message):
    with pytest.raises(KerasResnetError, match=message):
        make_pipeline(data, **{"batch_size": 4, "training": True, **options})


def test_fits_a_keras_model():
    import keras

    data = load_dataset(validation_split=0).test.take(np.arange(64))
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Rescaling(1 / 255),
                              keras.layers.Flatten(), keras.layers.Dense(10)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(make_pipeline(data, batch_size=32, training=True, augment="crop"), epochs=1, verbose=0,
                        shuffle=False)
    assert np.isfinite(history.history["loss"][0])


# ---- stratified splits ---------------------------------------------------------------------------

def test_split_is_stratified_disjoint_and_deterministic():
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    kept, held_out = stratified_split(labels, 0.1, seed=7)
    assert np.bincount(labels[held_out]).tolist() == [5, 3, 2]
    assert sorted(np.concatenate([kept, held_out]).tolist()) == list(range(100))
    again = stratified_split(labels, 0.1, seed=7)
    assert np.array_equal(kept, again[0]) and np.array_equal(held_out, again[1])
    assert not np.array_equal(held_out, stratified_split(labels, 0.1, seed=8)[1])


def test_split_of_one_class_ignores_the_others():
    labels = np.repeat([0, 1], [40, 40])
    more = np.concatenate([labels, [1] * 20])  # more images of class 1 only
    held = stratified_split(labels, 0.25, seed=0)[1]
    held_more = stratified_split(more, 0.25, seed=0)[1]
    assert np.array_equal(held[held < 40], held_more[held_more < 40])


def test_small_classes_keep_one_training_example():
    labels = np.array([0, 0, 1, 2, 2, 2])
    kept, held_out = stratified_split(labels, 0.5, seed=0)
    assert set(labels[kept]) == {0, 1, 2} and np.bincount(labels[held_out], minlength=3).tolist() == [1, 0, 2]
    assert len(stratified_split(labels, 0.0)[1]) == 0
    with pytest.raises(KerasResnetError, match="outside"):
        stratified_split(labels, 1.0)


def test_validation_split_needs_two_images_in_some_class(tmp_path):
    np.savez(tmp_path / "tiny.npz", x=np.zeros((2, 4, 4)), y=[0, 1])
    with pytest.raises(KerasResnetError, match="leaves no validation images.*validation_split=0"):
        load_dataset(tmp_path / "tiny.npz")


# ---- labels.txt ----------------------------------------------------------------------------------

def test_labels_round_trip_atomically(tmp_path):
    names = ["T-shirt/top", "ankle boot", "zürich"]
    write_labels(tmp_path / "run" / "labels.txt", names)
    assert read_labels(tmp_path / "run" / "labels.txt") == names
    text = (tmp_path / "run" / "labels.txt").read_text(encoding="utf-8")
    assert text == "T-shirt/top\nankle boot\nzürich\n"
    write_labels(tmp_path / "run" / "labels.txt", ["a", "b"])  # replaces
    assert read_labels(tmp_path / "run" / "labels.txt") == ["a", "b"]
    assert os.listdir(tmp_path / "run") == ["labels.txt"]  # no temporary file left behind


@pytest.mark.parametrize(
    "names, message",
    [(["a", "a"], r"repeats class name 'a'"), (["a", "b\nc"], r"on one line"), ([], r"no class names"),
     (["a", " "], r"non-empty")],
)
def test_bad_labels_are_refused_and_nothing_is_written(tmp_path, names, message):
    with pytest.raises(KerasResnetError, match=message):
        write_labels(tmp_path / "labels.txt", names)
    assert os.listdir(tmp_path) == []


def test_read_labels_errors(tmp_path):
    with pytest.raises(KerasResnetError, match="no labels file at"):
        read_labels(tmp_path / "missing.txt")
    (tmp_path / "labels.txt").write_text("a\n\nb\n")
    with pytest.raises(KerasResnetError, match="non-empty"):
        read_labels(tmp_path / "labels.txt")
