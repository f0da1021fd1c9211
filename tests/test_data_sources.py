"""Every source of load_dataset, and the one-line errors for what users get wrong."""

import functools
import gzip
import io
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_resnet.data import SOURCES, DataSource, DatasetSplits, LabeledImages, load_bundled, load_dataset
from keras_resnet.data import registry, source_kind, sources_help
from keras_resnet.errors import KerasResnetError


def _image(mode="RGB", size=(8, 8), value=0):
    """A small image: a gradient offset by ``value`` (width, height = ``size``)."""
    pixels = (np.arange(size[0] * size[1]).reshape(size[1], size[0]) * 3 + value) % 256
    gray = Image.fromarray(pixels.astype(np.uint8), "L")
    return gray if mode == "L" else gray.convert(mode)


def _folder(root, classes, mode="RGB", size=(8, 8), suffix="png"):
    """``root/<class>/<i>.<suffix>`` for ``classes`` = {name: count}."""
    for name, count in classes.items():
        os.makedirs(root / name, exist_ok=True)
        for index in range(count):
            _image(mode, size, index * 10).save(root / name / f"{index}.{suffix}")
    return root


# ---- folders -------------------------------------------------------------------------------------

def test_folder_mixed_formats_and_modes_become_rgb(tmp_path):
    _image("L").save(_folder(tmp_path, {"cat": 0})/ "cat" / "gray.png")
    _image("RGBA").save(tmp_path / "cat" / "alpha.png")
    _image("RGB").save(tmp_path / "cat" / "photo.jpg")
    _folder(tmp_path, {"dog": 0})
    _image("RGB").save(tmp_path / "dog" / "a.bmp")
    _image("P").save(tmp_path / "dog" / "b.gif")
    (tmp_path / "dog" / "README.txt").write_text("ignored")
    (tmp_path / "dog" / ".DS_Store").write_text("hidden")
    splits = load_dataset(tmp_path, validation_split=0)
    assert splits.class_names == ["cat", "dog"]
    assert splits.train.images.shape == (5, 8, 8, 3) and splits.train.images.dtype == np.uint8
    assert splits.train.labels.dtype == np.int32 and splits.train.labels.tolist() == [0, 0, 0, 1, 1]
    assert splits.ignored_files == 1 and splits.skipped == 0 and splits.test is None
    gray = splits.train.images[1]  # 'gray.png' sorts after 'alpha.png'
    assert np.array_equal(gray[..., 0], gray[..., 2])


def test_folder_of_grayscale_stays_one_channel_and_channels_option_converts(tmp_path):
    _folder(tmp_path, {"a": 2, "b": 2}, mode="L")
    assert load_dataset(tmp_path, validation_split=0).image_shape == (8, 8, 1)
    assert load_dataset(tmp_path, validation_split=0, channels=3).image_shape == (8, 8, 3)


def test_folder_sizes_must_match_unless_image_size_given(tmp_path):
    _folder(tmp_path, {"a": 2, "b": 1})
    _image(size=(12, 10)).save(tmp_path / "b" / "big.png")
    expected = r"'.*a/0\.png' is 8x8 but '.*b/big\.png' is 12x10.*--image-size"
    with pytest.raises(KerasResnetError, match=expected):
        load_dataset(tmp_path)
    assert load_dataset(tmp_path, image_size=(6, 5), validation_split=0).image_shape == (6, 5, 3)


def test_bad_images_raise_by_default_and_are_counted_when_skipped(tmp_path):
    _folder(tmp_path, {"a": 3, "b": 3}, suffix="jpg")
    data = (tmp_path / "a" / "0.jpg").read_bytes()
    (tmp_path / "a" / "cut.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "b" / "text.png").write_text("hello")
    with pytest.raises(KerasResnetError, match=r"cannot read image '.*a/cut\.jpg'"):
        load_dataset(tmp_path)
    with pytest.warns(UserWarning, match="skipped 2 unreadable"):
        splits = load_dataset(tmp_path, on_bad_image="skip", validation_split=0)
    assert splits.skipped == 2 and len(splits.train) == 6
    assert any("text.png" in name for name in splits.skipped_files)


@pytest.mark.parametrize(
    "layout, message",
    [
        ({}, r"is empty: put one sub-folder of images per class"),
        ({"a": 2, "b": 0}, r"no images found in class folder '.*b': put jpg/jpeg/png/bmp/gif files there"),
        ({"a": 3}, r"only one class \('a'\): a classifier needs at least 2"),
    ],
)
def test_folder_layout_errors(tmp_path, layout, message):
    _folder(tmp_path, layout)
    with pytest.raises(KerasResnetError, match=message):
        load_dataset(tmp_path)


def test_images_without_class_folders(tmp_path):
    _image().save(tmp_path / "loose.png")
    with pytest.raises(KerasResnetError, match="no class sub-folders: put each class's images"):
        load_dataset(tmp_path)


def test_class_whose_images_are_all_bad(tmp_path):
    _folder(tmp_path, {"a": 2, "b": 0})
    (tmp_path / "b" / "x.png").write_text("nope")
    with pytest.raises(KerasResnetError, match=r"class folder '.*b' has no readable images"):
        load_dataset(tmp_path, on_bad_image="skip")


def test_train_validation_test_folders(tmp_path):
    _folder(tmp_path / "train", {"a": 4, "b": 4})
    _folder(tmp_path / "val", {"a": 1, "b": 1})
    _folder(tmp_path / "test", {"b": 2})
    splits = load_dataset(tmp_path, validation_split=0.5)  # the val/ folder wins over carving
    assert splits.class_names == ["a", "b"]
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (8, 2, 2)
    assert splits.test.labels.tolist() == [1, 1]
    _folder(tmp_path / "test", {"c": 1})
    with pytest.raises(KerasResnetError, match=r"'.*test/c' is not a class of the training set"):
        load_dataset(tmp_path)


# ---- npz -----------------------------------------------------------------------------------------

def test_npz_layouts(tmp_path):
    x = np.arange(6 * 4 * 4).reshape(6, 4, 4) % 256
    np.savez(tmp_path / "plain.npz", x=x, y=[0, 1, 2, 0, 1, 2])
    splits = load_dataset(tmp_path / "plain.npz", validation_split=0)
    assert splits.class_names == ["0", "1", "2"] and splits.train.images.shape == (6, 4, 4, 1)
    assert splits.train.images.dtype == np.uint8 and splits.train.labels.dtype == np.int32
    np.savez(tmp_path / "named.npz", images=np.zeros((4, 4, 4, 3), np.float32), labels=[[0], [1], [1], [0]],
             class_names=np.array(["no", "yes"]))
    assert load_dataset(tmp_path / "named.npz", validation_split=0).class_names == ["no", "yes"]
    np.savez(tmp_path / "keras.npz", x_train=np.zeros((4, 5, 5, 4), np.uint8), y_train=[0, 1, 0, 1],
             x_test=np.zeros((2, 5, 5, 4), np.uint8), y_test=[1, 0])
    splits = load_dataset(tmp_path / "keras.npz", validation_split=0)
    assert splits.image_shape == (5, 5, 3) and len(splits.test) == 2  # RGBA arrays drop alpha


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x": np.zeros((3, 4, 4)), "y": [0, 1]}, r"3 images but 2 labels"),
        ({"x": np.zeros((2, 4, 4)), "y": [0, -1]}, r"include -1: class ids must be 0..K-1"),
        ({"x": np.zeros((2, 4, 4)), "y": [0, 2], "class_names": np.array(["a", "b"])},
         r"go up to 2 but there are only 2 class names"),
        ({"x": np.zeros((2, 4)), "y": [0, 1]}, r"shape \(2, 4\): expected \[N, H, W\]"),
        ({"x": np.full((2, 4, 4), 0.5), "y": [0, 1]}, r"looks scaled to 0-1: multiply by 255"),
        ({"x": np.zeros((2, 4, 4)), "y": np.eye(2)}, r"looks one-hot"),
        ({"pixels": np.zeros((2, 4, 4)), "y": [0, 1]}, r"no 'x' or 'images'"),
        ({"x": np.zeros((2, 4, 4)), "y": [0, 1], "class_names": np.array([1, 2])}, r"1-D array of strings"),
    ],
)
def test_npz_errors(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(KerasResnetError, match=message):
        load_dataset(tmp_path / "bad.npz", validation_split=0)


def test_npz_that_is_not_an_archive(tmp_path):
    (tmp_path / "fake.npz").write_text("x,y\n1,2\n")
    with pytest.raises(KerasResnetError, match=r"cannot read '.*fake\.npz' as a \.npz archive"):
        load_dataset(tmp_path / "fake.npz")
    np.savez(tmp_path / "objects.npz", x=np.zeros((2, 4, 4)), y=[0, 1], class_names=np.array(["a", None]))
    with pytest.raises(KerasResnetError, match="object array: save it as strings"):
        load_dataset(tmp_path / "objects.npz")


# ---- TFRecords -----------------------------------------------------------------------------------

def _encoded(value, suffix="PNG"):
    stream = io.BytesIO()
    _image("RGB", value=value).save(stream, suffix)
    return stream.getvalue()


def _write_records(path, labels, texts=None, encoded=None, gzip_compressed=False):
    options = tf.io.TFRecordOptions(compression_type="GZIP" if gzip_compressed else "")
    with tf.io.TFRecordWriter(str(path), options) as writer:
        for index, label in enumerate(labels):
            feature = {
                "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(
                    value=[encoded[index] if encoded else _encoded(index * 20)])),
                "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
            }
            if texts:
                feature["image/class/text"] = tf.train.Feature(
                    bytes_list=tf.train.BytesList(value=[texts[label].encode()]))
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


def test_tfrecord_file_glob_and_imagenet_folder(tmp_path):
    _write_records(tmp_path / "a.tfrecord", [0, 1, 1, 0], texts={0: "cat", 1: "dog"})
    splits = load_dataset(tmp_path / "a.tfrecord", validation_split=0)
    assert splits.class_names == ["cat", "dog"] and splits.train.images.shape == (4, 8, 8, 3)
    assert splits.train.labels.tolist() == [0, 1, 1, 0]
    _write_records(tmp_path / "b.tfrecord", [1, 0], gzip_compressed=True)
    assert len(load_dataset(str(tmp_path / "*.tfrecord"), validation_split=0).train) == 6
    shards = tmp_path / "imagenet"
    shards.mkdir()
    _write_records(shards / "train-00000-of-00002", [1, 2, 1])
    _write_records(shards / "train-00001-of-00002", [2, 1, 2])
    _write_records(shards / "validation-00000-of-00001", [2, 1])
    with pytest.warns(UserWarning, match="label_offset=1"):
        load_dataset(shards, validation_split=0)
    splits = load_dataset(shards, label_offset=1, validation_split=0)
    assert (len(splits.train), len(splits.test), splits.num_classes) == (6, 2, 2)
    assert splits.test.labels.tolist() == [1, 0]


def test_tfrecord_errors(tmp_path):
    (tmp_path / "junk.tfrecord").write_bytes(b"not a record at all" * 3)
    with pytest.raises(KerasResnetError, match=r"cannot read record 0 of '.*junk\.tfrecord' as a TFRecord"):
        load_dataset(tmp_path / "junk.tfrecord")
    with tf.io.TFRecordWriter(str(tmp_path / "nolabel.tfrecord")) as writer:
        writer.write(tf.train.Example().SerializeToString())
    with pytest.raises(KerasResnetError, match=r"'image/encoded' \(bytes\) and 'image/class/label'"):
        load_dataset(tmp_path / "nolabel.tfrecord")
    _write_records(tmp_path / "zero.tfrecord", [0, 1])
    with pytest.raises(KerasResnetError, match=r"label 0, below label_offset=1"):
        load_dataset(tmp_path / "zero.tfrecord", label_offset=1)
    with pytest.raises(KerasResnetError, match=r"no files match"):
        load_dataset(str(tmp_path / "*.missing"))


def test_tfrecord_bad_image_is_skipped(tmp_path):
    _write_records(tmp_path / "r.tfrecord", [0, 1, 1], encoded=[_encoded(0), b"garbage", _encoded(9, "JPEG")])
    with pytest.raises(KerasResnetError, match=r"r\.tfrecord#1"):
        load_dataset(tmp_path / "r.tfrecord")
    with pytest.warns(UserWarning, match="skipped 1"):
        splits = load_dataset(tmp_path / "r.tfrecord", on_bad_image="skip", validation_split=0)
    assert splits.skipped == 1 and splits.train.labels.tolist() == [0, 1]


# ---- keras.datasets, tfds, bundled ---------------------------------------------------------------

def _write_idx(path, array, header):
    with gzip.open(path, "wb") as file:
        file.write(header + array.astype(np.uint8).tobytes())


def test_keras_fashion_mnist_from_a_keras_cache(tmp_path):
    """fashion_mnist has no file hash, so a fake file in the real cache layout is loaded offline."""
    cache = tmp_path / "keras_home" / "datasets" / "fashion-mnist"
    cache.mkdir(parents=True)
    for split, count in (("train", 20), ("t10k", 6)):
        images = np.arange(count * 28 * 28).reshape(count, 28, 28) % 256
        _write_idx(cache / f"{split}-images-idx3-ubyte.gz", images, bytes(16))
        _write_idx(cache / f"{split}-labels-idx1-ubyte.gz", np.arange(count) % 10, bytes(8))
    code = (
        "from keras_resnet.data import load_dataset; s = load_dataset('fashion_mnist', seed=3); "
        "print(s.class_names[0], s.image_shape, len(s.train), len(s.validation), len(s.test))"
    )
    env = dict(os.environ, KERAS_HOME=str(tmp_path / "keras_home"), TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "T-shirt/top (28, 28, 1) 10 10 6"


def test_keras_datasets_reshape_labels_and_name_classes(monkeypatch):
    import keras

    x = np.zeros((20, 32, 32, 3), np.uint8)
    y = (np.arange(20) % 10).reshape(20, 1).astype(np.uint8)
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", lambda: ((x, y), (x[:4], y[:4])))
    splits = load_dataset("cifar10", validation_split=0)
    assert splits.class_names[:2] == ["airplane", "automobile"] and splits.train.labels.shape == (20,)
    assert splits.test.labels.dtype == np.int32


def test_keras_download_failure_says_which_file_to_place_where(monkeypatch, tmp_path):
    import keras

    def offline():
        raise Exception("URL fetch failure on https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
                        "mnist.npz: None -- [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    expected = (rf"URL fetch failure.*download https://.*/mnist\.npz "
                rf".*place it at {tmp_path}/datasets/mnist\.npz")
    with pytest.raises(KerasResnetError, match=expected):
        load_dataset("mnist")


TINY_TFDS_IMAGES = np.arange(7 * 4 * 4 * 3, dtype=np.uint8).reshape(7, 4, 4, 3)
TINY_TFDS_CLASSES = ["circle", "square", "star"]


@functools.cache
def _tiny_tfds_builder():
    """A real TFDS dataset, ``keras_resnet_tiny_shapes``, generated from the arrays above (registered once)."""
    import tensorflow_datasets as tfds

    class KerasResnetTinyShapes(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(
                builder=self, supervised_keys=("image", "label"),
                features=tfds.features.FeaturesDict({
                    "image": tfds.features.Image(shape=(4, 4, 3)),
                    "label": tfds.features.ClassLabel(names=TINY_TFDS_CLASSES),
                }),
            )

        def _split_generators(self, dl_manager):  # nothing to download
            return {"train": self._generate_examples(range(5)), "test": self._generate_examples(range(5, 7))}

        def _generate_examples(self, indices):
            for index in indices:
                yield index, {"image": TINY_TFDS_IMAGES[index], "label": index % 3}

    return KerasResnetTinyShapes.name


def _pairs(images, labels):
    return sorted((image.tobytes(), int(label)) for image, label in zip(images, labels))


def test_tfds_source_prepares_and_reads_a_dataset_offline(tmp_path):
    name = _tiny_tfds_builder()
    splits = load_dataset(f"tfds:{name}", validation_split=0, data_dir=tmp_path)  # prepares it into tmp_path
    assert (tmp_path / name / "1.0.0" / "dataset_info.json").is_file()
    assert splits.class_names == TINY_TFDS_CLASSES and splits.source == f"tfds:{name}"
    assert splits.image_shape == (4, 4, 3) and splits.train.images.dtype == np.uint8
    labels = np.arange(7) % 3
    assert _pairs(splits.train.images, splits.train.labels) == _pairs(TINY_TFDS_IMAGES[:5], labels[:5])
    assert _pairs(splits.test.images, splits.test.labels) == _pairs(TINY_TFDS_IMAGES[5:], labels[5:])
    carved = load_dataset(f"tfds:{name}", validation_split=0.4, data_dir=tmp_path)  # reuses the prepared copy
    assert (len(carved.train), len(carved.validation), len(carved.test)) == (3, 2, 2)
    with pytest.raises(KerasResnetError, match="cannot load tfds:no_such_dataset_xyz"):
        load_dataset("tfds:no_such_dataset_xyz", data_dir=tmp_path)


def test_tfds_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # makes the import fail
    with pytest.raises(KerasResnetError, match="pip install tensorflow-datasets"):
        load_dataset("tfds:mnist")


def test_bundled_mnist():
    raw = load_bundled()
    assert raw.class_names == [str(digit) for digit in range(10)]
    assert raw.train.images.shape == (4000, 28, 28, 1) and raw.test.images.shape == (1000, 28, 28, 1)
    assert raw.train.images.dtype == np.uint8 and raw.train.labels.dtype == np.int32
    assert np.bincount(raw.train.labels).tolist() == [400] * 10
    assert np.bincount(raw.test.labels).tolist() == [100] * 10
    train_images = {image.tobytes() for image in raw.train.images}
    assert len(train_images) == 4000 and not train_images & {image.tobytes() for image in raw.test.images}
    splits = load_dataset()  # the default source
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (3600, 400, 1000)
    assert np.bincount(splits.validation.labels).tolist() == [40] * 10
    resized = load_dataset("bundled", image_size=32, channels=3, validation_split=0)
    assert resized.image_shape == (32, 32, 3) and resized.test.images.shape == (1000, 32, 32, 3)


# ---- options and unknown sources -----------------------------------------------------------------

def test_source_kinds(tmp_path):
    assert [source_kind(name) for name in ("bundled", "tfds:mnist", "cifar100", "x/*.tfrec")] == [
        "bundled", "tfds", "keras", "tfrecords"]
    _folder(tmp_path / "mnist", {"a": 1})  # a local folder named like a keras dataset
    assert source_kind(str(tmp_path / "mnist")) == "folder"
    np.savez(tmp_path / "arrays.npz", x=np.zeros((2, 4, 4)), y=[0, 1])
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "train-00000-of-00001").write_bytes(b"")
    (tmp_path / "data.bin").write_bytes(b"")  # any other file is read as TFRecords
    kinds = [source_kind(str(tmp_path / name)) for name in ("arrays.npz", "shards", "data.bin")]
    assert kinds == ["npz", "tfrecords", "tfrecords"]
    assert sorted(source.name for source in SOURCES) == sorted(
        ["bundled", "tfds", "keras", "npz", "tfrecords", "folder"])


def test_sources_help_and_the_unknown_source_error_list_the_registry():
    help_text = sources_help()
    for source in SOURCES:
        assert f"{source.usage}: {source.help}" in help_text
    assert "mnist | fashion_mnist | cifar10 | cifar100" in help_text
    with pytest.raises(KerasResnetError) as error:
        load_dataset("imagenet")
    assert str(error.value) == (
        "no dataset 'imagenet': no such file or folder; give "
        + " | ".join(source.usage for source in SOURCES)
    )


def test_a_new_source_is_one_registry_line(monkeypatch):
    """A source added to SOURCES is recognised, loaded, listed in help and checked for options."""
    def load_toy(source, image_size=None, channels=None, on_bad_image="error", stream=False):
        images = np.full((6, 5, 5, 1), 7 if stream else 9, np.uint8)
        return DatasetSplits(["a", "b"], LabeledImages(images, np.array([0, 1] * 3, np.int32)), source=source)

    toy = DataSource("toy", "toy:NAME", "a toy source", lambda source: source.startswith("toy:"),
                     load_toy, (*registry.IMAGE_OPTIONS, "stream"))
    monkeypatch.setattr(registry, "SOURCES", (*SOURCES, toy))
    assert source_kind("toy:x") == "toy" and "toy:NAME: a toy source" in sources_help()
    splits = load_dataset("toy:x", image_size=8, channels=3, validation_split=0.34, stream=True)
    assert splits.image_shape == (8, 8, 3) and (len(splits.train), len(splits.validation)) == (4, 2)
    assert splits.train.images.max() == 7
    with pytest.raises(KerasResnetError, match=r"label_offset=1 applies only to TFRecords sources, not 'toy:x'"):
        load_dataset("toy:x", label_offset=1)
    with pytest.raises(KerasResnetError, match=r"stream=True applies only to TFRecords, FOLDER and toy:NAME sources"):
        load_dataset("bundled", stream=True)


@pytest.mark.parametrize(
    "source, options, message",
    [
        ("no/such/place", {}, r"no dataset 'no/such/place': no such file or folder; give bundled \| tfds:NAME"),
        ("imagenet", {}, r"no dataset 'imagenet'.* \| mnist \| fashion_mnist \| cifar10 \| cifar100 \| FILE\.npz"),
        ("bundled", {"on_bad_image": "ignore"}, r"use 'error' or 'skip'"),
        ("bundled", {"validation_split": 1.0}, r"validation_split=1.0 is outside \[0, 1\)"),
        ("bundled", {"channels": 4}, r"use 1 \(grayscale\) or 3 \(RGB\)"),
        ("bundled", {"image_size": -3}, r"image_size -3 is not a positive int"),
        ("bundled", {"data_dir": "/tmp"}, r"data_dir='/tmp' applies only to tfds:NAME sources, not 'bundled'"),
        ("bundled", {"label_offset": 1}, r"label_offset=1 applies only to TFRecords sources, not 'bundled'"),
        ("cifar10", {"stream": True}, r"stream=True applies only to TFRecords and FOLDER sources, not 'cifar10'"),
        ("tfds:mnist", {"label_offset": 2}, r"label_offset=2 applies only to TFRecords sources"),
        ("bundled", {"label_offset": -1}, r"label_offset=-1 must be a whole number >= 0"),
    ],
)
def test_option_and_source_errors(source, options, message):
    with pytest.raises(KerasResnetError, match=message):
        load_dataset(source, **options)


def test_single_image_as_source(tmp_path):
    _image().save(tmp_path / "one.jpg")
    with pytest.raises(KerasResnetError, match="is a single image: give a folder"):
        load_dataset(tmp_path / "one.jpg")


def test_no_warning_without_skips(tmp_path):
    _folder(tmp_path, {"a": 2, "b": 2})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_dataset(tmp_path)
