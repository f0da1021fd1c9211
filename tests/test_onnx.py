"""ONNX through the format registry: model.onnx matches Keras, model_int8.onnx passes the int8 gate, both load,
predict and show in the report card like every other artifact."""

import json
import os
import shutil

import numpy as np
import onnx
import onnxruntime
import pytest
from click.testing import CliRunner

from keras_resnet.cli import main
from keras_resnet.errors import KerasResnetError
from keras_resnet.export import ExportOptions, export_all, formats, load_artifact
from keras_resnet.export.formats.onnx import METADATA_KEY
from helpers import DIGIT_NAMES as NAMES
from test_export_cli import images  # noqa: F401 (a fixture: image files)


def test_float32_onnx_runs_in_onnxruntime_and_matches_keras(digits_export, digits_model, digits):
    held_out = digits[2][:64]
    session = onnxruntime.InferenceSession(digits_export.paths["onnx"], providers=["CPUExecutionProvider"])
    (image_input,), (output,) = session.get_inputs(), session.get_outputs()
    channels = image_input.shape[-1]
    assert image_input.type == "tensor(float)" and image_input.shape[1:3] == [28, 28] and channels in (1, 3)
    assert output.name == "probabilities"
    pixels = np.repeat(held_out, channels, axis=-1)  # gray digits as the camera frames an RGB-input model takes
    probabilities = session.run(None, {image_input.name: pixels.astype(np.float32)})[0]  # raw 0-255 pixels
    expected = digits_model.predict(held_out.astype(np.float32), verbose=0)
    np.testing.assert_allclose(probabilities, expected, atol=1e-4)
    assert np.mean(expected.argmax(-1) == digits[3][:64]) > 0.5  # a digits_model model: real answers to match
    check = digits_export.manifest["artifacts"]["onnx"]["verification"]
    assert check["passed"] and check["tolerance"] == 1e-4 and check["max_abs_diff"] <= 1e-4


def test_int8_onnx_passes_the_tflite_int8_gate_and_runs_in_integer(digits_export):
    checks = digits_export.manifest["artifacts"]
    onnx_int8, tflite_int8 = checks["onnx_int8"]["verification"], checks["int8"]["verification"]
    assert onnx_int8["passed"] and onnx_int8["min_agreement"] == tflite_int8["min_agreement"] == 0.8
    assert onnx_int8["top1_agreement"] >= 0.8 and onnx_int8["images"] == 64
    rows = {row["name"]: row for row in digits_export.report["artifacts"]}
    onnx_row, tflite_row = rows["model_int8.onnx"], rows["model_int8.tflite"]
    print(f"\nint8 top-1 agreement with float / top-1 on 200 held-out digits: ONNX {onnx_row['agreement']:.1%} / "
          f"{onnx_row['top1']:.1%}, TFLite {tflite_row['agreement']:.1%} / {tflite_row['top1']:.1%}")
    assert onnx_row["agreement"] >= 0.8 and onnx_row["mode"] == "int8" and onnx_row["kind"] == "onnx"
    assert abs(onnx_row["top1"] - tflite_row["top1"]) <= 0.05  # both calibrated on the same 64 images
    ops = onnx_row["ops"]
    # every convolution (7 in a ResNet-8, + 1 turning RGB frames gray with rgb_input) runs in int8
    assert ops["op_types"]["QLinearConv"] >= 7 and "Conv" not in ops["op_types"] and ops["integer_share"] > 0.8
    assert onnx_row["size_bytes"] < rows["model.onnx"]["size_bytes"] / 2
    assert rows["model.onnx"]["top1_drop_points"] == 0 and rows["model.onnx"]["ops"]["integer_share"] == 0
    for row in (onnx_row, rows["model.onnx"]):
        assert row["latency_ms"]["1"]["p50_ms"] > 0 and row["input"]["dtype"] == "float32"
    fallbacks = [note for note in digits_export.report["warnings"]
                 if note.startswith("model_int8.onnx: ops left in float32")]
    assert len(fallbacks) == bool(ops["float_ops"])
    markdown = open(digits_export.report_paths["md"]).read()
    assert "| model.onnx | onnx float32 |" in markdown and "| model_int8.onnx | onnx int8 |" in markdown


def test_load_artifact_reads_class_names_and_mode_from_the_file_itself(digits_export, tmp_path):
    for key, mode in (("onnx", "float32"), ("onnx_int8", "int8")):
        artifact = load_artifact(digits_export.paths[key])
        assert (artifact.kind, artifact.mode, artifact.class_names) == ("onnx", mode, NAMES)
        sidecar = json.loads(open(digits_export.paths[key][:-len(".onnx")] + ".json").read())
        assert sidecar["mode"] == mode and sidecar["class_names"] == NAMES and sidecar["verification"]["passed"]
        alone = tmp_path / os.path.basename(digits_export.paths[key])  # no sidecar, no labels.txt: the metadata says
        shutil.copy(digits_export.paths[key], alone)
        artifact = load_artifact(alone)
        assert (artifact.mode, artifact.class_names, artifact.info["format"]) == (mode, NAMES, "onnx")
        stripped = onnx.load(alone)  # no metadata either: the mode is read from its QuantizeLinear nodes
        assert json.loads({entry.key: entry.value for entry in stripped.metadata_props}[METADATA_KEY])["mode"] == mode
        del stripped.metadata_props[:]
        onnx.save(stripped, alone)
        assert load_artifact(alone).mode == mode and load_artifact(alone).class_names is None
    assert formats.artifact_kind(digits_export.paths["onnx"]) == "onnx"


def test_onnx_only_export_writes_exactly_the_planned_files(digits_model, digits, tmp_path):
    with pytest.raises(KerasResnetError, match="ONNX int8 need calibration images"):  # int8 is among "all" modes
        export_all(digits_model, tmp_path, formats="onnx", class_names=NAMES, progress=False)
    assert os.listdir(tmp_path) == []
    result = export_all(digits_model, tmp_path, formats="onnx", modes="float32", class_names=NAMES,
                        heldout_images=digits[2][:16], verify_images=16, evaluate=False, progress=False)
    expected = ["export.json", "labels.txt", "model.json", "model.onnx"]
    assert sorted(os.listdir(tmp_path)) == expected and result.manifest["files"] == expected
    assert set(result.manifest["artifacts"]) == {"onnx"} and result.manifest["complete"]
    planned = formats.planned_outputs(ExportOptions(formats="all", modes="float32,int8"))
    assert planned[-4:] == ["model.onnx", "model.json", "model_int8.onnx", "model_int8.json"]


def test_cli_predicts_and_benchmarks_onnx(digits_export, images):  # noqa: F811
    files = [str(images / "gray.png"), str(images / "color.jpg")]
    tflite = CliRunner().invoke(main, ["predict", digits_export.paths["float32"], *files, "--json"])
    for key in ("onnx", "onnx_int8"):
        result = CliRunner().invoke(main, ["predict", digits_export.paths[key], *files, "--top-k", "3", "--json"])
        assert result.exit_code == 0, result.output
        parsed = json.loads(result.stdout)
        assert [len(item["predictions"]) for item in parsed] == [3, 3]
        top = [item["predictions"][0]["class"] for item in parsed]
        assert top == [item["predictions"][0]["class"] for item in json.loads(tflite.stdout)]
    result = CliRunner().invoke(main, ["benchmark", digits_export.paths["onnx_int8"], "--runs", "5", "--threads", "1",
                                       "--json"])
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.stdout)
    assert parsed["kind"] == "onnx" and parsed["mode"] == "int8" and parsed["latency_ms"]["1"]["p50_ms"] > 0


@pytest.mark.parametrize("content", [b"this is not an onnx model", "half"])
def test_a_damaged_onnx_file_is_one_line_and_exit_1(digits_export, images, tmp_path, content):  # noqa: F811
    damaged = tmp_path / "model.onnx"
    whole = open(digits_export.paths["onnx"], "rb").read()
    damaged.write_bytes(whole[:len(whole) // 2] if content == "half" else content)
    result = CliRunner().invoke(main, ["predict", str(damaged), str(images / "gray.png")])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"Error: '{damaged}' is not a loadable ONNX model (") and "export it again" in line


def test_calibrating_a_batch_a_run_records_the_ranges_image_by_image_does(digits_export, digits, monkeypatch,
                                                                           tmp_path):
    """onnxruntime's MinMax calibration fed 8 images a run writes the very scales and zero points one a run does."""
    from onnx import numpy_helper

    from keras_resnet.export.calibration import calibration_set
    from keras_resnet.export.formats import onnx as onnx_format
    from keras_resnet.export.reader import from_arrays

    split = from_arrays(np.repeat(digits[0][:40], 3, axis=-1), digits[1][:40], (28, 28, 3), "calibration images")
    calibration = calibration_set(split, 20, 0, (28, 28, 3))

    def quantization_parameters(batch):
        monkeypatch.setattr(onnx_format, "CALIBRATION_BATCH", batch)
        scratch = tmp_path / str(batch)
        scratch.mkdir()
        model = onnx.load(onnx_format.quantize(digits_export.paths["onnx"], calibration, str(scratch)))
        return {item.name: numpy_helper.to_array(item) for item in model.graph.initializer
                if item.name.endswith(("_scale", "_zero_point"))}

    one, eight = quantization_parameters(1), quantization_parameters(8)
    assert len(one) > 20 and one.keys() == eight.keys()
    for name in one:
        np.testing.assert_array_equal(one[name], eight[name], err_msg=name)
