"""Export and evaluate grade on the split the run held out (rebuilt from its recipe, fingerprint checked), read
data from disk (folders, ImageNet-layout TFRecords), own their folder, and refuse gates they cannot check."""

import io
import json
import os

import numpy as np
import pytest

import keras
import tensorflow as tf
from click.testing import CliRunner
from PIL import Image

import keras_resnet
from keras_resnet.cli import main
from keras_resnet.data import ImageFiles, ImageRecords, LabeledImages, load_dataset, split_fingerprint
from keras_resnet.errors import KerasResnetError
from keras_resnet.export import export_all, load_export_data
from keras_resnet.export.reader import read_examples
from keras_resnet.run_directory import RunDirectory

CLASSES = ["ant", "bee", "cat"]
SHAPE = (16, 16, 3)
QUICK = {"formats": "tflite", "verify_images": 8, "latency_runs": 2, "progress": False}


def _picture(label, index):
    """A 20x20 RGB picture whose colour says its class (so a split is never all one class by accident)."""
    rng = np.random.default_rng([label, index])
    pixels = rng.integers(0, 60, (20, 20, 3)) + np.eye(3, dtype=int)[label] * 180
    return Image.fromarray(pixels.astype(np.uint8))


def _folder(root, count=10, classes=CLASSES):
    for label, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for index in range(count):
            _picture(label, index).save(root / name / f"{index:02d}.png")
    return root


def _records(path, labels):
    """ImageNet-layout TFRecords: JPEG bytes, labels counted from 1, class texts."""
    with tf.io.TFRecordWriter(str(path)) as writer:
        for index, label in enumerate(labels):
            stream = io.BytesIO()
            _picture(label - 1, index).save(stream, "JPEG")
            feature = {
                "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[stream.getvalue()])),
                "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
                "image/class/text": tf.train.Feature(bytes_list=tf.train.BytesList(
                    value=[CLASSES[label - 1].encode()])),
            }
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return keras_resnet.CifarResNet(depth=8, input_shape=SHAPE, classes=len(CLASSES))


def _run(folder, model, recipe, heldout_split):
    """A run folder as training leaves it: the model, labels and data.json (recipe + held-out fingerprint)."""
    folder.mkdir()
    model.save(folder / "model.keras")
    run = RunDirectory(str(folder))
    run.write_labels(CLASSES)
    splits = load_dataset(recipe["data"], **{key: value for key, value in recipe.items() if key != "data"})
    run.write_data(recipe, {"split": heldout_split, **split_fingerprint(splits, heldout_split)})
    return folder


def _error_line(result):
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert len(lines) == 1, result.output
    return lines[0]


def test_export_rebuilds_the_runs_own_split_checks_it_and_says_when_the_data_changed(model, tmp_path):
    photos = _folder(tmp_path / "photos")
    (photos / "ant" / "99.png").write_bytes(b"not a picture")  # the run skipped it: so must export
    recipe = {"data": str(photos), "image_size": 16, "validation_split": 0.3, "seed": 5, "on_bad_image": "skip"}
    run = _run(tmp_path / "run", model, recipe, "validation")
    expected = RunDirectory(str(run)).heldout_fingerprint()
    default = split_fingerprint(load_dataset(photos, image_size=16, on_bad_image="skip"), "validation")
    assert expected["count"] == 9 and default["count"] == 3  # the defaults (0.1, seed 0) would grade other images

    result = export_all(run, tmp_path / "out", modes="float32", **QUICK)
    data = result.manifest["data"]
    assert data["heldout"] == expected and data["fingerprint_check"] == "matches the run's"
    assert (data["recipe"]["validation_split"], data["recipe"]["seed"], data["recipe"]["on_bad_image"]) == (0.3, 5,
                                                                                                           "skip")
    assert result.report["data"]["images"] == 9 and not data["may_overlap_training"]
    assert "Held-out split fingerprint: matches the run's" in open(result.report_paths["md"]).read()

    # evaluate finds the same split from what the export recorded, without the run folder
    evaluated = CliRunner().invoke(main, ["evaluate", result.paths["float32"], "--latency-runs", "2", "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.stdout)
    assert report["data"]["heldout"] == expected and report["data"]["fingerprint_check"] == "matches the export's"

    held_out = load_dataset(photos, image_size=16, validation_split=0.3, seed=5, on_bad_image="skip").validation
    os.remove(held_out.names[0])  # an image the run held out is gone
    changed = CliRunner().invoke(main, ["export", str(run), "--out", str(tmp_path / "again"), "--quantize", "float32"])
    line = _error_line(changed)
    assert "is not the one the run held out" in line and "restore the data or retrain" in line
    assert not (tmp_path / "again").exists()  # the folder export made for it is gone again


def test_a_run_trained_with_its_own_split_exports_and_evaluates_on_exactly_that_split(tmp_path):
    """The issue's case: a folder without test/, trained with validation_split 0.3 and seed 5 (by train itself)."""
    from keras_resnet.training import train

    photos = _folder(tmp_path / "photos")
    run = tmp_path / "run"
    train(model="resnet8", data=str(photos), image_size=16, validation_split=0.3, seed=5, epochs=1,
          steps_per_epoch=1, batch_size=8, run_dir=str(run), verbose=0)
    recorded = RunDirectory(str(run)).heldout_fingerprint()
    assert recorded["split"] == "validation" and recorded["count"] == 9
    result = CliRunner().invoke(main, ["export", str(run), "--out", str(tmp_path / "out"), "--quantize", "float32",
                                       "--formats", "tflite", "--verify-images", "8"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "export.json").read_text())
    assert manifest["data"]["heldout"] == recorded and manifest["data"]["fingerprint_check"] == "matches the run's"
    assert "Held-out data: " in result.output and ", validation split, 9 images" in result.output
    evaluated = CliRunner().invoke(main, ["evaluate", str(run), str(tmp_path / "out" / "model_float32.tflite"),
                                          "--latency-runs", "2", "--max-drop", "0", "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.stdout)
    assert report["data"]["heldout"] == recorded and report["gate"]["passed"]
    assert [row["images"] for row in report["artifacts"]] == [9, 9]


def test_named_data_without_a_test_split_is_flagged_on_the_report_card(model, tmp_path):
    model.save(tmp_path / "model.keras")
    photos = _folder(tmp_path / "photos")
    with pytest.warns(UserWarning, match="held-out images may overlap training"):
        result = export_all(tmp_path / "model.keras", tmp_path / "out", modes="float32", data=str(photos), **QUICK)
    data = result.manifest["data"]
    assert data["may_overlap_training"] and data["split"] == "validation"
    assert data["fingerprint_check"] == "no recipe recorded for this data"
    card = open(result.report_paths["md"]).read()
    assert "**Warning: held-out images may overlap training: '" in card and "has no test split" in card
    assert result.report["warnings"][0].startswith("held-out images may overlap training")
    # evaluate from the export alone keeps the warning: the export recorded it
    evaluated = CliRunner().invoke(main, ["evaluate", result.paths["float32"], "--latency-runs", "2"])
    assert evaluated.exit_code == 0 and "Warning: held-out images may overlap training" in evaluated.output

    split = tmp_path / "split"
    _folder(split / "train")
    _folder(split / "test", count=3)
    clean = export_all(tmp_path / "model.keras", tmp_path / "clean", modes="float32", data=str(split), **QUICK)
    assert clean.manifest["data"]["split"] == "test" and not clean.manifest["data"]["may_overlap_training"]
    assert "overlap" not in open(clean.report_paths["md"]).read()


def test_imagenet_tfrecords_stream_with_a_label_offset_from_every_command(model, tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    _records(shards / "train-00000-of-00001", [1, 2, 3] * 12)
    _records(shards / "validation-00000-of-00001", [1, 2, 3] * 3)
    model.save(tmp_path / "model.keras")
    common = ["--quantize", "float32,int8", "--calibration-size", "21", "--verify-images", "6", "--no-report"]
    streamed = CliRunner().invoke(main, ["export", str(tmp_path / "model.keras"), "--data", str(shards),
                                         "--label-offset", "1", "--stream", "--out", str(tmp_path / "a"), *common])
    assert streamed.exit_code == 0, streamed.output
    in_memory = CliRunner().invoke(main, ["export", str(tmp_path / "model.keras"), "--data", str(shards),
                                          "--label-offset", "1", "--no-stream", "--out", str(tmp_path / "b"), *common])
    assert in_memory.exit_code == 0, in_memory.output
    first, second = (json.loads((tmp_path / name / "export.json").read_text()) for name in "ab")
    assert first["calibration"]["images"] == 21 and first["calibration"]["sha256"] == second["calibration"]["sha256"]
    assert first["data"]["recipe"]["label_offset"] == 1 and first["data"]["heldout"]["count"] == 9
    assert first["data"]["heldout"] == second["data"]["heldout"] and first["class_names"] == CLASSES

    artifact = str(tmp_path / "a" / "model_int8.tflite")
    recorded = CliRunner().invoke(main, ["evaluate", artifact, "--latency-runs", "2", "--json"])  # offset recorded
    assert recorded.exit_code == 0, recorded.output
    assert json.loads(recorded.stdout)["data"]["images"] == 9
    named = CliRunner().invoke(main, ["evaluate", artifact, "--data", str(shards), "--label-offset", "1", "--stream",
                                      "--latency-runs", "2", "--out", str(tmp_path / "report")])
    assert named.exit_code == 0, named.output
    unshifted = CliRunner().invoke(main, ["evaluate", artifact, "--label-offset", "0", "--out", str(tmp_path / "r2")])
    assert "is not the one the run held out" in _error_line(unshifted)  # other labels: another split
    model.save(tmp_path / "bare.keras")  # nothing recorded: the labels do not fit the model without the offset
    bare = CliRunner().invoke(main, ["evaluate", str(tmp_path / "bare.keras"), "--data", str(shards)])
    assert "predicts 3 classes but the data has labels up to 3" in _error_line(bare)


def test_splits_stay_on_disk_and_picks_decode_to_the_in_memory_pixels(tmp_path):
    photos = _folder(tmp_path / "photos")
    shards = tmp_path / "shards"
    shards.mkdir()
    _records(shards / "train-00000-of-00001", [1, 2, 3] * 4)
    _records(shards / "test-00000-of-00001", [3, 2, 1])
    for source, kind, options in ((photos, ImageFiles, {}), (shards, ImageRecords, {"label_offset": 1})):
        on_disk = load_export_data(str(source), SHAPE, **options)
        in_memory = load_export_data(str(source), SHAPE, stream=False, **options)
        assert isinstance(on_disk.train, kind) and isinstance(on_disk.heldout, kind)
        assert isinstance(in_memory.heldout, LabeledImages) and on_disk.fingerprint == in_memory.fingerprint
        picks = np.array([0, 2, 5])
        images, labels = read_examples(on_disk.train, SHAPE, picks)
        np.testing.assert_array_equal(images, in_memory.train.images[picks])
        np.testing.assert_array_equal(labels, in_memory.train.labels[picks])
        small, _ = read_examples(on_disk.heldout, (8, 8, 1))  # converted and resized for another model
        assert small.shape == (len(on_disk.heldout), 8, 8, 1)


def test_an_export_folder_holds_only_what_its_manifest_lists(model, tmp_path):
    photos = _folder(tmp_path / "photos")
    out = tmp_path / "out"
    first = export_all(model, out, modes="float32,float16", data=str(photos), class_names=CLASSES, **QUICK)
    assert set(first.manifest["files"]) == {"export.json", "labels.txt", "model_float16.json", "model_float16.tflite",
                                            "model_float32.json", "model_float32.tflite", "report.json", "report.md",
                                            "report.png"}
    (out / "notes.txt").write_text("mine")
    (out / ".model_int8.tflite.x1y2.partial.tflite").write_bytes(b"half")  # what a SIGKILL leaves
    second = export_all(model, out, modes="float16", data=str(photos), class_names=CLASSES, evaluate=False, **QUICK)
    manifest = second.manifest
    assert manifest["files"] == ["export.json", "labels.txt", "model_float16.json", "model_float16.tflite"]
    assert manifest["removed"] == ["model_float32.json", "model_float32.tflite", "report.json", "report.md",
                                   "report.png"]
    assert manifest["unowned"] == ["notes.txt"] and manifest["complete"]
    assert sorted(os.listdir(out)) == sorted(manifest["files"] + ["notes.txt"])

    # an export killed after landing an artifact still owns it through its unfinished manifest
    from keras_resnet.export import ownership

    ownership.claim(str(out), ["model_dynamic.tflite", "model_dynamic.json"])
    (out / "model_dynamic.tflite").write_bytes(b"from the killed export")
    assert json.loads((out / "export.json").read_text())["complete"] is False
    third = export_all(model, out, modes="float16", data=str(photos), class_names=CLASSES, evaluate=False, **QUICK)
    assert "model_dynamic.tflite" in third.manifest["removed"] and not (out / "model_dynamic.tflite").exists()
    assert (out / "notes.txt").read_text() == "mine"


def test_gates_that_cannot_check_refuse_before_writing(model, tmp_path):
    with pytest.raises(KerasResnetError, match="--no-report turns off"):
        export_all(model, tmp_path / "a", modes="float32", max_drop=1, evaluate=False, class_names=CLASSES)
    with pytest.raises(KerasResnetError, match="needs labelled held-out images"):
        export_all(model, tmp_path / "b", modes="float32", max_drop=1, class_names=CLASSES,
                   heldout_images=np.zeros((4, *SHAPE), np.uint8), progress=False)
    with pytest.raises(KerasResnetError, match="needs labelled held-out images"):
        export_all(model, tmp_path / "c", modes="float32", max_drop=1, class_names=CLASSES, progress=False)
    assert not [folder for folder in "abc" if (tmp_path / folder).exists()]
