"""keras-resnet export / evaluate / predict / benchmark, and every bad value they must refuse in one line."""

import json
import os

import numpy as np
import pytest

import keras
from click.testing import CliRunner
from PIL import Image

import keras_resnet
from keras_resnet.cli import main
from keras_resnet.data import load_dataset, split_fingerprint
from keras_resnet.export.calibration import stratified_sample
from keras_resnet.run_directory import RunDirectory

NAMES = [f"digit{i}" for i in range(10)]
RECIPE = {"data": "bundled", "validation_split": 0.1, "seed": 0, "on_bad_image": "error", "label_offset": 0}


@pytest.fixture(scope="module")
def trained():
    """A depth-8 ResNet trained for two short epochs: about 85 % on the bundled test digits."""
    splits = load_dataset("bundled")
    picks = stratified_sample(splits.train.labels, 1000, seed=1)
    keras.utils.set_random_seed(1)
    model = keras_resnet.CifarResNet(depth=8, input_shape=(28, 28, 1), classes=10)
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(splits.train.images[picks], splits.train.labels[picks], epochs=2, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="module")
def run_dir(trained, tmp_path_factory):
    """A training run folder as training leaves it: model, labels, config, and the data recipe with the
    fingerprint of the split it held out."""
    folder = tmp_path_factory.mktemp("run")
    trained.save(folder / "model.keras")
    run = RunDirectory(str(folder))
    run.write_labels(NAMES)
    run.write_config({"model": "resnet8", "epochs": 2, **RECIPE})
    run.write_data(RECIPE, {"split": "test", **split_fingerprint(load_dataset("bundled"), "test")})
    run.write_metrics({"test_accuracy": None})
    return folder


@pytest.fixture(scope="module")
def model_file(trained, tmp_path_factory):
    """The trained model as a bare .keras file: no labels, no recorded data."""
    path = tmp_path_factory.mktemp("bare") / "model.keras"
    trained.save(path)
    return path


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    result = CliRunner().invoke(main, ["export", str(run_dir), "--out", str(out), "--quantize", "float32,int8",
                                       "--calibration-size", "32", "--verify-images", "32", "--no-report"])
    assert result.exit_code == 0, result.output
    return out, result.output


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    test = load_dataset("bundled").test
    Image.fromarray(test.images[0, :, :, 0]).save(folder / "gray.png")
    Image.fromarray(np.repeat(test.images[-1], 3, axis=-1)).resize((56, 56)).save(folder / "color.jpg")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    Image.new("1", (9500, 9500)).save(folder / "bomb.png")  # 90 M pixels in an 11 KB file
    return folder


def _error_line(result):
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert result.exit_code != 0 and len(lines) == 1, result.output
    return lines[0]


def test_export_writes_verified_artifacts(exported):
    out, output = exported
    assert sorted(os.listdir(out)) == ["export.json", "labels.txt", "model.json", "model.onnx", "model_float32.json",
                                       "model_float32.tflite", "model_int8.json", "model_int8.onnx",
                                       "model_int8.tflite", "saved_model"]
    assert "verified on 32 images" in output and "top-1 agreement" in output
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["class_names"] == NAMES and manifest["data"]["source"] == "bundled"


def test_evaluate_writes_the_report_card_on_the_runs_checked_split(exported, run_dir, tmp_path):
    out, _ = exported
    result = CliRunner().invoke(main, ["evaluate", str(run_dir), str(out / "saved_model"),
                                       str(out / "model_float32.tflite"), str(out / "model_int8.tflite"),
                                       "--max-images", "100", "--latency-runs", "5", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "| model_int8.tflite | tflite int8 |" in result.output and "fingerprint: matches the run's" in result.output
    report = json.loads((tmp_path / "report.json").read_text())
    data = report["data"]
    assert (data["source"], data["split"], data["images"], data["classes"]) == ("bundled", "test", 100, 10)
    assert data["heldout"]["count"] == 1000 and data["fingerprint_check"] == "matches the run's"
    assert data["subset"] == "100 of 1000 images (stratified, seed 0)" and not data["may_overlap_training"]
    assert report["reference"].endswith("model.keras") and report["gate"] is None
    int8 = report["artifacts"][-1]
    assert int8["input"]["quantization"] == {"scale": 1.0, "zero_point": 0} and int8["ops"]["int8_share"] == 1.0
    assert int8["calibration"]["images"] == 32 and (tmp_path / "report.png").stat().st_size > 1000


def test_the_release_gate_fails_exactly_the_artifacts_that_lose_accuracy(exported, trained, run_dir, tmp_path):
    """A float32 .tflite of the model loses nothing; one whose classifier names the next class loses almost all."""
    from keras_resnet.export import export_all

    shifted = keras.models.clone_model(trained)
    shifted.set_weights(trained.get_weights())
    dense = shifted.layers[-1]
    kernel, bias = dense.get_weights()
    dense.set_weights([np.roll(kernel, 1, axis=1), np.roll(bias, 1)])  # class j now scores as j - 1 did
    test = load_dataset("bundled").test
    export_all(shifted, tmp_path / "wrong", formats="tflite", modes="float32", stem="wrong", class_names=NAMES,
               heldout_images=test.images[:32], verify_images=32, evaluate=False, progress=False)
    out, _ = exported
    arguments = ["evaluate", str(run_dir), str(out / "model_float32.tflite"), "--latency-runs", "2",
                 "--out", str(tmp_path / "report")]
    passed = CliRunner().invoke(main, arguments + ["--max-drop", "0"])
    assert passed.exit_code == 0, passed.output
    assert "Gate (max top-1 drop 0.0 points): passed" in passed.output
    failed = CliRunner().invoke(main, arguments + [str(tmp_path / "wrong" / "wrong_float32.tflite"), "--max-drop", "1"])
    line = _error_line(failed)
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    keras_row, float_row, wrong_row = report["artifacts"]
    assert keras_row["top1"] > 0.7 and float_row["top1_drop_points"] == 0 and wrong_row["top1_drop_points"] > 50
    assert report["gate"]["failures"] == [{"name": "wrong_float32.tflite",
                                           "top1_drop_points": wrong_row["top1_drop_points"]}]
    assert "release gate failed" in line and "wrong_float32.tflite" in line and "model_float32" not in line


def test_predict_names_classes_for_every_kind(exported, run_dir, images):
    out, _ = exported
    files = [str(images / "gray.png"), str(images / "color.jpg")]
    answers = []
    for artifact in (run_dir, out / "saved_model", out / "model_float32.tflite", out / "model_int8.tflite"):
        result = CliRunner().invoke(main, ["predict", str(artifact), *files, "--top-k", "3", "--json"])
        assert result.exit_code == 0, result.output
        parsed = json.loads(result.stdout)
        assert [len(item["predictions"]) for item in parsed] == [3, 3]
        assert all(item["predictions"][0]["class"] in NAMES for item in parsed)
        answers.append([item["predictions"][0]["class"] for item in parsed])
    assert answers[0] == answers[1] == answers[2]
    text = CliRunner().invoke(main, ["predict", str(out / "model_int8.tflite"), files[0]])
    assert text.exit_code == 0 and text.output.count("digit") == 5


def test_predict_takes_folders_and_says_what_it_changed_to_fit(exported, images, tmp_path):
    out, _ = exported
    folder = tmp_path / "photos"
    (folder / "more").mkdir(parents=True)
    (folder / "gray.png").write_bytes((images / "gray.png").read_bytes())
    (folder / "more" / "color.jpg").write_bytes((images / "color.jpg").read_bytes())
    (folder / "notes.txt").write_text("not an image")
    (folder / ".hidden.png").write_bytes(b"skipped")
    result = CliRunner().invoke(main, ["predict", str(out / "model_int8.tflite"), str(folder), "--json"])
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.stdout)
    assert [item["image"] for item in parsed] == [str(folder / "gray.png"), str(folder / "more" / "color.jpg")]
    # The artifacts of this grayscale model take RGB frames (rgb_input): colour needs only resizing.
    assert parsed[0]["adjustments"] == [] and parsed[1]["adjustments"] == ["resized 56x56 to 28x28"]
    single = CliRunner().invoke(main, ["predict", str(out / "model_int8.tflite"), str(folder / "gray.png")])
    text = CliRunner().invoke(main, ["predict", str(out / "model_int8.tflite"), str(folder)])
    assert text.exit_code == 0
    assert "(resized 56x56 to 28x28 to fit the model)" in text.output
    assert text.output.splitlines()[0] == single.output.splitlines()[0]  # the same answer, alone or in a folder


def test_benchmark_reports_latency_and_throughput(exported):
    out, _ = exported
    result = CliRunner().invoke(main, ["benchmark", str(out / "model_int8.tflite"), "--runs", "5", "--threads", "1",
                                       "--threads", "all", "--batch-size", "8", "--json"])
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.stdout)
    assert set(parsed["latency_ms"]) == {"1", "all"} and parsed["throughput"]["images_per_second"] > 0
    bad = CliRunner().invoke(main, ["benchmark", str(out / "model_int8.tflite"), "--threads", "zero"])
    assert "--threads 'zero'" in _error_line(bad)


@pytest.mark.parametrize("arguments, message", [
    (["--formats", "openvino"], "unknown export format 'openvino'"),
    (["--quantize", "int4"], "unknown quantization mode 'int4'"),
    (["--quantize", "int8", "--calibration-size", "4"], "calibration size 4 is too small"),
])
def test_export_refuses_bad_options(run_dir, tmp_path, arguments, message):
    result = CliRunner().invoke(main, ["export", str(run_dir), "--out", str(tmp_path / "out"), *arguments])
    assert message in _error_line(result)
    assert not (tmp_path / "out").exists()


def test_export_command_defaults_are_the_apis():
    """Every ``keras-resnet export`` option that is an ``ExportOptions`` field defaults to the API's default
    (the CLI states its defaults as literals, for a fast start)."""
    import dataclasses

    from keras_resnet.export import ExportOptions

    fields = {field.name for field in dataclasses.fields(ExportOptions)}
    defaults = {param.name: param.default for param in main.commands["export"].params if param.name in fields}
    assert {"qat_learning_rate", "qat_epochs", "calibration_size", "min_agreement"} <= set(defaults)
    assert ExportOptions(**defaults) == ExportOptions()


def test_export_refuses_too_few_calibration_images(run_dir, tmp_path):
    test = load_dataset("bundled").test
    few = tmp_path / "few.npz"
    np.savez(few, x_train=test.images[:12], y_train=np.arange(12) % 10, x_test=test.images[12:32],
             y_test=np.arange(20) % 10)
    result = CliRunner().invoke(main, ["export", str(run_dir), "--out", str(tmp_path / "out"), "--data", str(few),
                                       "--quantize", "int8"])
    assert "calibration image(s)" in _error_line(result) and "at least 20" in result.output
    assert not (tmp_path / "out").exists()


def test_export_refuses_an_unwritable_output_folder(run_dir, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = CliRunner().invoke(main, ["export", str(run_dir), "--out", str(blocker / "out")])
    assert "is not writable" in _error_line(result)


def test_commands_refuse_a_file_that_is_not_a_model(tmp_path, images):
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    fake = tmp_path / "fake.tflite"
    fake.write_bytes(b"\0\0\0\0TFL3 but truncated")
    assert "not a Keras model file" in _error_line(CliRunner().invoke(main, ["export", str(junk), "--out",
                                                                             str(tmp_path / "o")]))
    assert "is not a model" in _error_line(CliRunner().invoke(main, ["predict", str(junk),
                                                                     str(images / "gray.png")]))
    assert "not a loadable TFLite model" in _error_line(CliRunner().invoke(main, ["benchmark", str(fake)]))
    assert "no model at" in _error_line(CliRunner().invoke(main, ["evaluate", str(tmp_path / "missing.tflite"),
                                                                  "--data", "bundled"]))
    assert not (tmp_path / "o").exists()


def test_predict_refuses_undecodable_images_and_decompression_bombs(exported, images):
    out, _ = exported
    model = str(out / "model_int8.tflite")
    broken = _error_line(CliRunner().invoke(main, ["predict", model, str(images / "broken.png")]))
    assert "cannot read image" in broken and "broken.png" in broken
    bomb = _error_line(CliRunner().invoke(main, ["predict", model, str(images / "bomb.png")]))
    assert "decompression bomb" in bomb and "bomb.png" in bomb


BAD_VALUES = [  # (command and arguments, words of the one error line); {...} are filled in by the test
    ("export {run} --out {out} --calibration-size 0", "calibration size 0"),
    ("export {run} --out {out} --calibration-size -5", "calibration size -5"),
    ("export {run} --out {out} --calibration-size 100000000", "use 20 to 5000 images"),
    ("export {run} --out {out} --calibration-size many", "'many' is not a valid integer"),
    ("export {run} --out {out} --verify-images 0", "verify on 1 to 5000 images"),
    ("export {run} --out {out} --verify-images 99999999", "verify on 1 to 5000 images"),
    ("export {run} --out {out} --min-agreement 1.5", "outside 0..1"),
    ("export {run} --out {out} --min-agreement nan", "outside 0..1"),
    ("export {run} --out {out} --max-drop -1", "0 to 100"),
    ("export {run} --out {out} --max-drop 1e9", "0 to 100"),
    ("export {run} --out {out} --max-drop nan", "0 to 100"),
    ("export {run} --out {out} --max-drop 1 --no-report", "drop --no-report"),
    ("export {model} --out {out} --max-drop 1 --quantize float32", "needs labelled held-out images"),
    ("export {run} --out {out} --eval-seconds 0", "positive number of seconds"),
    ("export {run} --out {out} --seed -1", "whole number from 0 to 4294967295"),
    ("export {run} --out {out} --seed 1099511627776", "whole number from 0 to 4294967295"),
    ("export {run} --out {out} --quantize qat --qat-epochs 0", "--qat-epochs 0"),
    ("export {run} --out {out} --quantize qat --qat-epochs 100000", "1 to 1000"),
    ("export {run} --out {out} --quantize qat --qat-learning-rate 2", "small positive learning rate"),
    ("export {run} --out {out} --prune 1.5", "in [0, 1)"),
    ("export {run} --out {out} --prune -0.1", "in [0, 1)"),
    ("export {run} --out {out} --cluster 1", "2 to 256"),
    ("export {run} --out {out} --cluster 100000", "2 to 256"),
    ("export {run} --out {out} --formats openvino", "unknown export format 'openvino'"),
    ("export {run} --out {out} --quantize int4", "unknown quantization mode 'int4'"),
    ("export {run} --out {out} --int8-io int16", "'int16' is not one of"),
    ("export {run} --out {out} --data {missing}", "no such file or folder"),
    ("export {run} --out {out} --labels {missing}", "no labels file at"),
    ("export {run} --out {out} --labels {folder}", "no labels file at"),
    ("export {run} --out {out} --label-offset -1", "label_offset=-1"),
    ("export {run} --out {out} --data bundled --label-offset 1", "applies only to TFRecords sources"),
    ("export {run} --out {out} --data bundled --stream", "applies only to TFRecords and FOLDER sources"),
    ("export {missing} --out {out}", "no model at"),
    ("export --out {out}", "Missing argument 'SOURCE'"),
    ("export {run} --out {out} --calibration-size", "requires an argument"),
    ("evaluate {model} --out {out}", "no held-out data named"),  # found after the report folder was made
    ("evaluate {tflite} --latency-runs 0", "latency_runs=0"),
    ("evaluate {tflite} --latency-runs -3", "latency_runs=-3"),
    ("evaluate {tflite} --latency-runs x", "'x' is not a valid integer"),
    ("evaluate {tflite} --max-images 0", "--max-images 0"),
    ("evaluate {tflite} --max-seconds -1", "0 or more seconds"),
    ("evaluate {tflite} --max-drop 101", "0 to 100"),
    ("evaluate {tflite} --max-drop 1", "needs a float reference to compare with"),
    ("evaluate {tflite} --split bogus", "choose train, validation, test"),
    ("evaluate {tflite} --reference other.tflite", "is not among the artifacts"),
    ("evaluate {tflite} --data {missing}", "no such file or folder"),
    ("evaluate {tflite} --seed -1", "whole number from 0"),
    ("evaluate {tflite} --label-offset -1", "--label-offset -1"),
    ("evaluate {tflite} {missing}", "no model at"),
    ("evaluate {tflite} {image}", "is not a model"),
    ("evaluate", "Missing argument 'ARTIFACTS...'"),
    ("predict {tflite} {image} --top-k 0", "0 is not in the range x>=1"),
    ("predict {tflite} {image} --top-k many", "'many' is not a valid integer"),
    ("predict {tflite} {missing}", "no image file at"),
    ("predict {tflite} {folder}", "holds no images"),
    ("predict {tflite} {image} --labels {missing}", "no labels file at"),
    ("predict {tflite} {image} --labels {folder}", "cannot read labels file"),
    ("predict {tflite}", "Missing argument 'IMAGES...'"),
    ("benchmark {tflite} --threads 0", "--threads '0'"),
    ("benchmark {tflite} --threads -2", "--threads '-2'"),
    ("benchmark {tflite} --threads 1000000", "1 to 1024 or 'all'"),
    ("benchmark {tflite} --threads x", "--threads 'x'"),
    ("benchmark {tflite} --runs 0", "0 is not in the range x>=1"),
    ("benchmark {tflite} --warmup -1", "-1 is not in the range x>=0"),
    ("benchmark {tflite} --batch-size 0", "0 is not in the range x>=1"),
    ("benchmark {tflite} --batch-size 100000", "batch_size=100000"),
    ("benchmark {missing}", "no model at"),
]


@pytest.mark.parametrize("command, message", BAD_VALUES, ids=[command for command, _ in BAD_VALUES])
def test_every_command_refuses_bad_values_in_one_line_without_a_traceback(exported, run_dir, model_file, images,
                                                                          tmp_path, command, message):
    out, _ = exported
    (tmp_path / "empty").mkdir()
    places = {"run": run_dir, "out": tmp_path / "out", "tflite": out / "model_int8.tflite", "model": model_file,
              "folder": tmp_path / "empty", "image": images / "gray.png", "missing": tmp_path / "missing.png"}
    arguments = [argument.format(**{key: str(value) for key, value in places.items()}) for argument in command.split()]
    before = sorted(os.listdir(out))
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert message in _error_line(result)
    assert not (tmp_path / "out").exists()  # refused before any work
    assert sorted(os.listdir(out)) == before  # evaluate wrote no report next to the artifact


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_files_are_refused_in_one_line(exported, images, tmp_path):
    out, _ = exported
    locked = tmp_path / "locked.tflite"
    locked.write_bytes((out / "model_int8.tflite").read_bytes())
    locked.chmod(0)
    picture = tmp_path / "locked.png"
    picture.write_bytes((images / "gray.png").read_bytes())
    picture.chmod(0)
    for arguments in (["benchmark", str(locked)], ["predict", str(out / "model_int8.tflite"), str(picture)]):
        result = CliRunner().invoke(main, arguments)
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
        assert "cannot read" in _error_line(result)
