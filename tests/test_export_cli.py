"""keras-resnet export / evaluate / predict / benchmark, and every bad input they must refuse cleanly."""

import json
import os

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from click.testing import CliRunner  # noqa: E402
from PIL import Image  # noqa: E402

import keras_resnet  # noqa: E402
from keras_resnet.cli import main  # noqa: E402
from keras_resnet.data import load_dataset  # noqa: E402
from keras_resnet.export.calibration import stratified_sample  # noqa: E402

NAMES = [f"digit{i}" for i in range(10)]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A training run folder as the training engineer's code leaves it."""
    splits = load_dataset("bundled")
    picks = stratified_sample(splits.train.labels, 1000, seed=1)
    keras.utils.set_random_seed(1)
    model = keras_resnet.CifarResNet(depth=8, input_shape=(28, 28, 1), classes=10)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(splits.train.images[picks], splits.train.labels[picks], epochs=1, batch_size=64, verbose=0)
    folder = tmp_path_factory.mktemp("run")
    model.save(folder / "model.keras")
    (folder / "labels.txt").write_text("\n".join(NAMES) + "\n")
    (folder / "config.json").write_text(json.dumps({"model": "resnet8", "data": "bundled", "epochs": 1}))
    (folder / "metrics.json").write_text(json.dumps({"test_accuracy": None}))
    return folder


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
    assert sorted(os.listdir(out)) == ["export.json", "labels.txt", "model_float32.json", "model_float32.tflite",
                                       "model_int8.json", "model_int8.tflite", "saved_model"]
    assert "verified on 32 images" in output and "top-1 agreement" in output
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["class_names"] == NAMES and manifest["data"]["source"] == "bundled"


def test_evaluate_writes_the_report_card_and_gates(exported, run_dir, tmp_path):
    out, _ = exported
    arguments = ["evaluate", str(run_dir), str(out / "saved_model"), str(out / "model_float32.tflite"),
                 str(out / "model_int8.tflite"), "--max-images", "100", "--latency-runs", "5",
                 "--out", str(tmp_path)]
    result = CliRunner().invoke(main, arguments + ["--max-drop", "100"])
    assert result.exit_code == 0, result.output
    assert "| model_int8.tflite | tflite int8 |" in result.output and "Gate (max top-1 drop 100.0 points): passed" \
        in result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["data"] == {"source": "bundled", "split": "test", "images": 100, "classes": 10}
    assert report["reference"] == "run/model.keras" or report["reference"].endswith("model.keras")
    int8 = report["artifacts"][-1]
    assert int8["input"]["quantization"] == {"scale": 1.0, "zero_point": 0} and int8["ops"]["int8_share"] == 1.0
    assert int8["calibration"]["images"] == 32 and (tmp_path / "report.png").stat().st_size > 1000
    failed = CliRunner().invoke(main, arguments + ["--max-drop", "-1"])
    assert "release gate failed" in _error_line(failed)


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
    (["--formats", "onnx"], "unknown export format 'onnx'"),
    (["--quantize", "int4"], "unknown quantization mode 'int4'"),
    (["--quantize", "int8", "--calibration-size", "4"], "calibration size 4 is too small"),
])
def test_export_refuses_bad_options(run_dir, tmp_path, arguments, message):
    result = CliRunner().invoke(main, ["export", str(run_dir), "--out", str(tmp_path / "out"), *arguments])
    assert message in _error_line(result)
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


def test_export_refuses_too_few_calibration_images(run_dir, tmp_path):
    test = load_dataset("bundled").test
    few = tmp_path / "few.npz"
    np.savez(few, x_train=test.images[:12], y_train=np.arange(12) % 10, x_test=test.images[12:32],
             y_test=np.arange(20) % 10)
    result = CliRunner().invoke(main, ["export", str(run_dir), "--out", str(tmp_path / "out"), "--data", str(few),
                                       "--quantize", "int8"])
    assert "calibration image(s)" in _error_line(result) and "at least 20" in result.output
    assert not os.listdir(tmp_path / "out")


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
    assert not (tmp_path / "o").exists() or not os.listdir(tmp_path / "o")


def test_predict_refuses_undecodable_images_and_decompression_bombs(exported, images):
    out, _ = exported
    model = str(out / "model_int8.tflite")
    broken = _error_line(CliRunner().invoke(main, ["predict", model, str(images / "broken.png")]))
    assert "cannot read image" in broken and "broken.png" in broken
    bomb = _error_line(CliRunner().invoke(main, ["predict", model, str(images / "bomb.png")]))
    assert "decompression bomb" in bomb and "bomb.png" in bomb
