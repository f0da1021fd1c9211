"""stream=True: folders and TFRecords stay on disk and decode in the pipeline, to the same pixels."""

import io
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_resnet.data import ImageFiles, ImageRecords, load_dataset, make_pipeline
from keras_resnet.errors import KerasResnetError


def _photo(index, size=(12, 10)):
    rng = np.random.default_rng(index)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _folder(root, classes=("a", "b"), count=5):
    for name in classes:
        os.makedirs(root / name)
        for index in range(count):
            _photo(index + 10 * len(name) + ord(name[0])).save(root / name / f"{index}.jpg")
    return root


def _encoded(image):
    stream = io.BytesIO()
    image.save(stream, "JPEG")
    return stream.getvalue()


def _records(path, labels, encoded=None):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for index, label in enumerate(labels):
            data = encoded[index] if encoded else _encoded(_photo(index))
            feature = {
                "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[data])),
                "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
            }
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


def _epoch(dataset):
    images, labels = zip(*((x.numpy(), y.numpy()) for x, y in dataset))
    return np.concatenate(images), np.concatenate(labels)


@pytest.mark.parametrize("cache", [True, False, "file"])
def test_streamed_folder_gives_the_in_memory_pixels(tmp_path, cache):
    root = _folder(tmp_path / "photos")
    memory = load_dataset(root, image_size=8, validation_split=0.2)
    streamed = load_dataset(root, image_size=8, validation_split=0.2, stream=True)
    assert isinstance(streamed.validation, ImageFiles) and streamed.image_shape == (8, 8, 3)
    cache = str(tmp_path / "cache") if cache == "file" else cache
    for name in ("train", "validation"):
        expected = _epoch(make_pipeline(getattr(memory, name), batch_size=4, training=False))
        dataset = make_pipeline(getattr(streamed, name), batch_size=4, training=False, cache=cache)
        for _ in range(2):  # the second epoch reads the cache, if any
            got = _epoch(dataset)
            np.testing.assert_array_equal(got[0], expected[0])
            np.testing.assert_array_equal(got[1], expected[1])


@pytest.mark.parametrize("cache", [True, False])
def test_streamed_training_sees_every_example_once_per_epoch(tmp_path, cache):
    streamed = load_dataset(_folder(tmp_path, count=8), image_size=8, validation_split=0, stream=True)
    dataset = make_pipeline(streamed.train, batch_size=5, training=True, augment="cifar", seed=1, cache=cache)
    first, second = _epoch(dataset), _epoch(dataset)
    assert first[0].shape == (16, 8, 8, 3) and first[0].dtype == np.float32
    assert sorted(first[1].tolist()) == sorted(second[1].tolist()) == [0] * 8 + [1] * 8


def test_streamed_folder_checks_images_at_load(tmp_path):
    root = _folder(tmp_path)
    data = (root / "a" / "0.jpg").read_bytes()
    (root / "a" / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(KerasResnetError, match=r"cut\.jpg"):
        load_dataset(root, stream=True)
    with pytest.warns(UserWarning, match="skipped 1"):
        streamed = load_dataset(root, stream=True, on_bad_image="skip", validation_split=0)
    assert len(streamed.train) == 10
    assert len(_epoch(make_pipeline(streamed.train, batch_size=4, training=False))[1]) == 10


def test_streamed_tfrecords_match_in_memory_and_carve_validation(tmp_path):
    _records(tmp_path / "train.tfrecord", [0, 1] * 6)
    memory = load_dataset(tmp_path / "train.tfrecord", image_size=8, seed=2, validation_split=0.25)
    streamed = load_dataset(tmp_path / "train.tfrecord", image_size=8, seed=2, validation_split=0.25,
                            stream=True)
    assert isinstance(streamed.train, ImageRecords)
    assert (len(streamed.train), len(streamed.validation)) == (8, 4)
    for name in ("train", "validation"):
        expected = _epoch(make_pipeline(getattr(memory, name), batch_size=4, training=False))
        got = _epoch(make_pipeline(getattr(streamed, name), batch_size=4, training=False, cache=False))
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
    training = _epoch(make_pipeline(streamed.train, batch_size=4, training=True, augment="imagenet", seed=0))
    assert training[0].shape == (8, 8, 8, 3)
    assert sorted(training[1].tolist()) == sorted(streamed.train.labels.tolist())


def test_streamed_tfrecords_meet_bad_images_in_the_pipeline(tmp_path):
    encoded = [_encoded(_photo(0)), b"not an image", _encoded(_photo(2))]
    _records(tmp_path / "r.tfrecord", [0, 1, 1], encoded=encoded)
    with pytest.raises(KerasResnetError, match="needs image_size"):
        load_dataset(tmp_path / "r.tfrecord", stream=True)
    raising = load_dataset(tmp_path / "r.tfrecord", stream=True, image_size=8, validation_split=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="cannot read image"):
        _epoch(make_pipeline(raising.train, batch_size=3, training=False, cache=False))
    skipping = load_dataset(tmp_path / "r.tfrecord", stream=True, image_size=8, validation_split=0,
                            on_bad_image="skip")
    assert _epoch(make_pipeline(skipping.train, batch_size=3, training=False))[1].tolist() == [0, 1]


def test_stream_is_for_folders_and_tfrecords_only():
    with pytest.raises(KerasResnetError, match="stream=True applies only to TFRecords and FOLDER sources"):
        load_dataset("bundled", stream=True)


def test_memory_estimate_of_tfrecords_counts_records_without_decoding_them(tmp_path):
    """Records counted in the first file, scaled by the files' sizes; the image size read from one record."""
    from keras_resnet.data import memory

    folder = tmp_path / "shards"
    folder.mkdir()
    _records(folder / "train-00000-of-00002.tfrecord", [0, 1] * 5)
    _records(folder / "train-00001-of-00002.tfrecord", [0, 1] * 5)  # the same ten photos: the same size
    assert memory.estimate(str(folder)).decoded_bytes == 20 * 10 * 12 * 3  # photos are 12 wide, 10 high
    assert memory.estimate(str(folder), image_size=4, channels=1).decoded_bytes == 20 * 4 * 4 * 1
