"""split_fingerprint: the same held-out members give the same fingerprint anywhere; any change shows."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_resnet.data import check_fingerprint, load_dataset, split_fingerprint
from keras_resnet.errors import KerasResnetError


def _arrays(path, count=40, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, 6, 6, 1), dtype=np.uint8)
    labels = np.arange(count) % 4
    np.savez(path, x=images, y=labels)
    return images, labels


def _folder(root, classes=("cat", "dog"), count=6, size=(10, 8)):
    for name in classes:
        os.makedirs(root / name, exist_ok=True)
        for index in range(count):
            pixels = np.random.default_rng([index, len(name)]).integers(0, 256, (size[1], size[0], 3), np.uint8)
            Image.fromarray(pixels).save(root / name / f"{index}.png")
    return root


def _records(path, labels):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for index, label in enumerate(labels):
            pixels = np.full((6, 6, 3), index * 9, np.uint8)
            encoded = tf.io.encode_png(pixels).numpy()
            feature = {
                "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded])),
                "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
            }
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


def _validation(source, **options):
    return split_fingerprint(load_dataset(source, **options), "validation")


def test_arrays_same_data_same_fingerprint_and_any_change_shows(tmp_path):
    images, labels = _arrays(tmp_path / "a.npz")
    first = _validation(tmp_path / "a.npz", seed=1)
    assert first == _validation(tmp_path / "a.npz", seed=1)
    assert first["count"] == 4 and len(first["sha256"]) == 64
    assert _validation(tmp_path / "a.npz", seed=2) != first
    assert _validation(tmp_path / "a.npz", seed=1, validation_split=0.2)["count"] == 8
    held_out = load_dataset(tmp_path / "a.npz", seed=1).validation
    member = int(np.flatnonzero((images == held_out.images[0]).all(axis=(1, 2, 3)))[0])
    changed = images.copy()
    changed[member, 0, 0, 0] ^= 1  # one pixel of one held-out image
    np.savez(tmp_path / "a.npz", x=changed, y=labels)
    assert _validation(tmp_path / "a.npz", seed=1) != first
    relabelled = labels.copy()
    relabelled[member] = (relabelled[member] + 1) % 4  # the same images, one label changed
    np.savez(tmp_path / "b.npz", x=images, y=relabelled)
    np.savez(tmp_path / "c.npz", x=images, y=labels)
    train = {name: split_fingerprint(load_dataset(tmp_path / name, validation_split=0), "train")
             for name in ("b.npz", "c.npz")}
    assert train["b.npz"] != train["c.npz"] and train["b.npz"]["count"] == 40

def test_folders_are_fingerprinted_by_members_in_memory_or_streamed_at_any_size(tmp_path):
    root = _folder(tmp_path / "photos")
    first = _validation(root, seed=3, validation_split=0.34)
    assert first["count"] == 4
    assert _validation(root, seed=3, validation_split=0.34, stream=True) == first
    assert _validation(root, seed=3, validation_split=0.34, image_size=4, channels=1) == first
    assert _validation(root, seed=4, validation_split=0.34) != first
    assert _validation(root, seed=3, validation_split=0.5) != first


def test_a_file_added_or_moved_to_another_class_changes_the_fingerprint(tmp_path):
    root = tmp_path / "data"
    _folder(root / "train")
    _folder(root / "test", count=2)
    first = split_fingerprint(load_dataset(root), "test")
    assert first == split_fingerprint(load_dataset(root), "test") and first["count"] == 4
    os.replace(root / "test" / "cat" / "1.png", root / "test" / "dog" / "9.png")
    moved = split_fingerprint(load_dataset(root), "test")
    assert moved != first and moved["count"] == 4
    Image.new("RGB", (10, 8)).save(root / "test" / "cat" / "5.png")
    added = split_fingerprint(load_dataset(root), "test")
    assert added["count"] == 5 and added not in (first, moved)


def test_tfrecords_are_fingerprinted_by_record_in_memory_or_streamed(tmp_path):
    _records(tmp_path / "train-00000-of-00002", [0, 1] * 4)
    _records(tmp_path / "train-00001-of-00002", [1, 0] * 3)
    options = {"image_size": 6, "validation_split": 0.3, "seed": 5}
    memory, streamed = load_dataset(tmp_path, **options), load_dataset(tmp_path, stream=True, **options)
    for name in ("train", "validation"):
        assert split_fingerprint(memory, name) == split_fingerprint(streamed, name)
    assert split_fingerprint(memory, "validation")["count"] == 4
    assert _validation(tmp_path, **{**options, "seed": 6}) != split_fingerprint(memory, "validation")


def test_the_fingerprint_is_the_same_in_another_process_and_working_directory(tmp_path, monkeypatch):
    root = _folder(tmp_path / "photos")
    monkeypatch.chdir(tmp_path)
    relative = _validation("photos", seed=1)
    script = ("import json, sys; from keras_resnet.data import load_dataset, split_fingerprint; "
              "print(json.dumps(split_fingerprint(load_dataset(sys.argv[1], seed=1), 'validation')))")
    result = subprocess.run([sys.executable, "-c", script, str(root)], cwd=os.path.dirname(tmp_path),
                            capture_output=True, text=True, timeout=300, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == relative


def test_check_fingerprint_refuses_another_split_in_one_line(tmp_path):
    _arrays(tmp_path / "a.npz")
    recorded = _validation(tmp_path / "a.npz", seed=1)
    check_fingerprint(load_dataset(tmp_path / "a.npz", seed=1), "validation", recorded)
    with pytest.raises(KerasResnetError, match=r"the validation split of '.*a\.npz' is not the one the run held "
                                               r"out \(4 images, .*; now 8, .*\): the data or its recipe changed"):
        check_fingerprint(load_dataset(tmp_path / "a.npz", seed=1, validation_split=0.2), "validation", recorded)
    with pytest.raises(KerasResnetError, match=r"has no test split \(it has train, validation\)"):
        split_fingerprint(load_dataset(tmp_path / "a.npz"), "test")
