"""Export API: SavedModel and five TFLite modes, each verified, the report card, calibration, runtime."""

import json
import os
import re

import numpy as np
import pytest

import keras
import tensorflow as tf

import keras_resnet
from helpers import DIGIT_NAMES
from keras_resnet.errors import KerasResnetError
from keras_resnet.export import (MODES, ExportOptions, artifact_kind, export_all, load_artifact,
                                 read_metadata, representative_set)
from keras_resnet.export.calibration import stratified_sample
from keras_resnet.export.report import reference_kernels_warning
from keras_resnet.export.source import float32_model

CLASS_NAMES = DIGIT_NAMES
MAX_DROP = 3.0  # the gate digits_export was made with (conftest): 6 of the 200 held-out images


def test_every_artifact_is_written_with_its_labels(digits_export):
    out = digits_export.out_dir
    assert set(digits_export.paths) == {"labels", "saved_model", *MODES, "onnx", "onnx_int8", "manifest"}
    for mode in MODES:
        path = os.path.join(out, f"model_{mode}.tflite")
        assert os.path.getsize(path) > 1000
        sidecar = json.load(open(os.path.join(out, f"model_{mode}.json")))
        assert sidecar["class_names"] == CLASS_NAMES and sidecar["mode"] == mode
        assert sidecar["verification"]["passed"] and sidecar["verification"]["images"] == 64
        assert read_metadata(path)["class_names"] == CLASS_NAMES  # embedded in the flatbuffer too
    assert open(os.path.join(out, "labels.txt")).read().split() == CLASS_NAMES
    assert not [name for name in os.listdir(out) if name.endswith(".partial")]
    manifest = json.load(open(digits_export.paths["manifest"]))
    assert manifest["calibration"]["images"] == 64 and len(manifest["calibration"]["sha256"]) == 64
    assert oct(os.stat(os.path.join(out, "model_int8.tflite")).st_mode)[-3:] != "600"


def test_float_artifacts_match_keras_and_quantized_agree(digits_export):
    checks = {name: entry["verification"] for name, entry in digits_export.manifest["artifacts"].items()}
    assert checks["saved_model"]["max_abs_diff"] <= 1e-4
    assert checks["float32"]["max_abs_diff"] <= 1e-4
    assert checks["float16"]["max_abs_diff"] <= 5e-3
    for mode in ("dynamic", "int8", "int16x8"):
        assert checks[mode]["top1_agreement"] >= 0.8


def test_saved_model_serves_uint8_and_names_classes(digits_export, digits_model, digits):
    folder = digits_export.paths["saved_model"]
    images = digits[2][:5]
    frames = np.repeat(images, 3, axis=-1)  # a grayscale model's artifacts take RGB frames (rgb_input)
    loaded = tf.saved_model.load(folder)
    outputs = loaded.signatures["serving_default"](images=tf.constant(frames))
    expected = digits_model.predict(images.astype("float32"), verbose=0)
    np.testing.assert_allclose(outputs["probabilities"].numpy(), expected, atol=1e-4)
    np.testing.assert_array_equal(outputs["top_class"].numpy(), expected.argmax(-1))
    assert [n.decode() for n in outputs["top_class_name"].numpy()] == [CLASS_NAMES[i] for i in expected.argmax(-1)]
    names = loaded.signatures["class_names"]()["class_names"].numpy()
    assert [n.decode() for n in names] == CLASS_NAMES
    assert open(os.path.join(folder, "assets", "labels.txt")).read().split() == CLASS_NAMES
    layer = keras.layers.TFSMLayer(folder, call_endpoint="serving_default")
    np.testing.assert_allclose(layer(frames)["probabilities"], expected, atol=1e-4)


def test_int8_takes_raw_uint8_pixels(digits_export):
    artifact = load_artifact(digits_export.paths["int8"])
    io = artifact.io()
    assert io["input"]["dtype"] == "uint8" and io["input"]["quantization"] == {"scale": 1.0, "zero_point": 0}
    assert io["output"]["dtype"] == "uint8"
    assert artifact.mode == "int8" and artifact.ops()["int8_share"] == 1.0 and not artifact.ops()["float_ops"]
    assert load_artifact(digits_export.paths["int16x8"]).ops()["by_kind"].get("int16")
    assert load_artifact(digits_export.paths["dynamic"]).mode == "dynamic"
    assert load_artifact(digits_export.paths["float16"]).mode == "float16"


def test_report_card_has_every_row_and_file(digits_export, digits_model, digits):
    report = digits_export.report
    names = [row["name"] for row in report["artifacts"]]
    assert names[0].endswith("(in memory)") and len(names) == 9  # Keras, SavedModel, 5 TFLite, 2 ONNX
    test_x, test_y = digits[2], digits[3]
    expected = digits_model.predict(test_x.astype("float32"), verbose=0)
    keras_top1 = float(np.mean(expected.argmax(-1) == test_y))
    assert report["artifacts"][0]["top1"] == pytest.approx(keras_top1) and keras_top1 > 0.3  # chance is 0.1
    by_mode = {row["mode"]: row for row in report["artifacts"][1:] if row["kind"] == "tflite"}
    for row in (report["artifacts"][1], by_mode["float32"]):  # SavedModel and float32 .tflite: the same answers
        assert row["top1"] == pytest.approx(keras_top1) and row["agreement"] == 1.0 and row["top1_drop_points"] == 0
    assert report["reference"] == names[0] and report["data"]["images"] == 200
    gate = report["gate"]
    over = [row["name"] for row in report["artifacts"] if row["top1_drop_points"] > MAX_DROP]
    assert gate["max_drop_points"] == MAX_DROP and gate["passed"] == (not over) and gate["failures"] == [] == over
    for row in report["artifacts"]:
        assert row["images"] == 200 and row["top1"] <= row["top5"]
        assert row["latency_ms"]["all"]["p50_ms"] > 0
        if row["kind"] == "tflite":
            assert row["latency_ms"]["1"]["p90_ms"] >= row["latency_ms"]["1"]["p50_ms"]
            assert row["size_bytes"] > 0 and row["agreement"] >= 0.8
    slowdown = by_mode["int16x8"]["latency_ms"]["1"]["p50_ms"] / by_mode["int8"]["latency_ms"]["1"]["p50_ms"]
    note = next(note for note in report["warnings"] if "reference kernels" in note)
    assert float(re.search(r", ([\d.]+)x slower than int8 at 1 thread", note)[1]) == pytest.approx(slowdown, rel=0.05)
    for path in digits_export.report_paths.values():
        assert os.path.getsize(path) > 100
    assert open(digits_export.report_paths["png"], "rb").read(4) == b"\x89PNG"


def test_report_int16x8_warning_quotes_the_slowdown_it_measured_or_no_figure():
    def row(mode, p50_ms):
        return {"name": f"model_{mode}.tflite", "latency_ms": {"1": {"p50_ms": p50_ms} if p50_ms else None}}

    assert ", 40x slower than int8 at 1 thread" in reference_kernels_warning(row("int16x8", 20.0), row("int8", 0.5))
    assert ", 2.5x slower than int8" in reference_kernels_warning(row("int16x8", 1.25), row("int8", 0.5))
    for int8 in (None, row("int8", None)):
        note = reference_kernels_warning(row("int16x8", 20.0), int8)
        assert note.startswith("model_int16x8.tflite: int16x8 runs on TFLite's reference kernels")
        assert "x slower" not in note


def test_int8_io_option_and_run_folder_source(digits_model, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    digits_model.save(run / "model.keras")
    (run / "labels.txt").write_text("\n".join(CLASS_NAMES) + "\n")
    (run / "config.json").write_text(json.dumps({"data": "bundled", "model": "resnet8"}))
    result = export_all(run, tmp_path / "out", formats="tflite", modes="int8", int8_io="int8",
                        calibration_size=32, verify_images=32, evaluate=False, progress=False)
    artifact = load_artifact(result.paths["int8"])
    assert artifact.io()["input"]["dtype"] == "int8" and artifact.class_names == CLASS_NAMES
    data = result.manifest["data"]
    assert (data["source"], data["split"], data["heldout"]["count"]) == ("bundled", "test", 1000)
    assert data["fingerprint_check"] == "not recorded by the run" and not data["may_overlap_training"]
    assert result.manifest["calibration"]["source"] == "bundled train split"


def test_mixed_precision_model_exports_as_float32(digits_model, digits, tmp_path):
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        mixed = keras_resnet.CifarResNet(depth=8, input_shape=(28, 28, 1), classes=10)
    finally:
        keras.config.set_dtype_policy("float32")
    mixed.set_weights(digits_model.get_weights())
    rebuilt = float32_model(mixed)
    assert {layer.dtype_policy.name for layer in rebuilt.layers} == {"float32"}
    result = export_all(mixed, tmp_path, formats="tflite", modes="float32", class_names=CLASS_NAMES,
                        heldout_images=digits[2][:16], verify_images=16, evaluate=False, progress=False)
    assert result.manifest["dtype_policy"] == "mixed_bfloat16" and result.manifest["rebuilt_in_float32"]
    io = load_artifact(result.paths["float32"]).io()
    assert io["input"]["dtype"] == "float32" and io["output"]["dtype"] == "float32"


def test_calibration_set_is_stratified_deterministic_and_hashed(digits):
    images, labels = digits[0], digits[1]
    first = representative_set(images, labels, size=50, seed=3, input_shape=(28, 28, 1))
    again = representative_set(images, labels, size=50, seed=3, input_shape=(28, 28, 1))
    other = representative_set(images, labels, size=50, seed=4, input_shape=(28, 28, 1))
    assert len(first) == 50 and first.sha256 == again.sha256 != other.sha256
    np.testing.assert_array_equal(np.bincount(labels[first.indices], minlength=10), [5] * 10)
    uneven = np.array([0] * 90 + [1] * 10)
    picks = stratified_sample(uneven, 20, seed=0)
    assert np.bincount(uneven[picks]).tolist() == [18, 2]
    assert first.summary()["images"] == 50


def test_runtime_gives_the_same_answer_for_every_kind(digits_export, digits_model, digits):
    images = digits[2][:8]
    expected = digits_model.predict(images.astype("float32"), verbose=0)
    for key in ("saved_model", "float32"):
        np.testing.assert_allclose(load_artifact(digits_export.paths[key]).predict(images), expected, atol=1e-4)
    keras_artifact = load_artifact(digits_model, class_names=CLASS_NAMES)
    np.testing.assert_allclose(keras_artifact.predict(images), expected, atol=1e-5)
    tflite = load_artifact(digits_export.paths["int8"])
    assert tflite.class_names == CLASS_NAMES
    assert tflite.predict(images, batch_size=3).shape == (8, 10)  # short last batch is padded


@pytest.mark.parametrize("images, problem", [
    (np.zeros((30, 32, 32, 1), np.uint8), "are 32x32 but the model takes 28x28"),
    (np.zeros((30, 28, 28, 3), np.uint8), "have 3 channel(s) but the model takes 1"),
    (np.full((30, 28, 28, 1), 0.5, np.float32), "raw uint8"),
    (np.zeros((5, 28, 28, 1), np.uint8), "only 5 calibration image(s)"),
])
def test_bad_calibration_data_is_refused_before_anything_is_written(digits_model, tmp_path, images, problem):
    with pytest.raises(KerasResnetError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        export_all(digits_model, tmp_path, modes="int8", calibration_images=images, class_names=CLASS_NAMES,
                   progress=False)
    assert not [name for name in os.listdir(tmp_path) if name.endswith((".tflite", ".partial"))]
    assert not os.path.exists(tmp_path / "saved_model")


def test_failed_verification_leaves_nothing_at_the_final_path(digits_model, digits, tmp_path, monkeypatch):
    from keras_resnet.export import verify

    (tmp_path / "model_float16.tflite").write_bytes(b"previous")  # an earlier artifact stays untouched
    monkeypatch.setattr(verify, "FLOAT16_TOLERANCE", 0.0)
    with pytest.raises(verify.VerificationError, match="nothing was written at .*model_float16.tflite"):
        export_all(digits_model, tmp_path, formats="tflite", modes="float16", class_names=CLASS_NAMES,
                   heldout_images=digits[2][:16], verify_images=16, evaluate=False, progress=False)
    assert (tmp_path / "model_float16.tflite").read_bytes() == b"previous"
    assert not (tmp_path / "model_float16.json").exists()
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]


@pytest.mark.parametrize("options, problem", [
    ({"formats": "openvino"}, "unknown export format 'openvino'"),
    ({"modes": "int4"}, "unknown quantization mode 'int4'"),
    ({"int8_io": "int16"}, "unknown int8 I/O type"),
    ({"calibration_size": 3}, "calibration size 3 is too small"),
    ({"modes": "int8"}, "need calibration images"),
])
def test_bad_options_are_one_line_errors(digits_model, tmp_path, options, problem):
    with pytest.raises(KerasResnetError, match=problem) as raised:
        export_all(digits_model, tmp_path, class_names=CLASS_NAMES, progress=False, **options)
    assert "\n" not in str(raised.value)


def test_wrong_labels_count_and_not_a_model(digits_model, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\n")
    with pytest.raises(KerasResnetError, match="has 2 class names but the model predicts 10"):
        export_all(digits_model, tmp_path / "out", labels_file=labels, progress=False)
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip")
    with pytest.raises(KerasResnetError, match="could not be loaded as a Keras model"):
        export_all(junk, tmp_path / "out", progress=False)
    with pytest.raises(KerasResnetError, match="is not a model"):
        load_artifact(labels)


def test_time_budget_scores_a_shuffled_subset_and_says_so(digits_export, digits):
    from keras_resnet.export import evaluate_artifacts

    test_x, test_y = digits[2], digits[3]
    report = evaluate_artifacts([digits_export.paths["float32"], digits_export.paths["int8"]], test_x, test_y,
                                batch_size=8, max_seconds=0.0, latency_runs=2, progress=False)
    # Under a budget, batches of BUDGETED_BATCH_SIZE (4): a budget of 0 s scores one such batch each.
    assert [row["images"] for row in report["artifacts"]] == [4, 4]
    assert report["reference"] == "model_float32.tflite" and report["artifacts"][1]["agreement"] is not None
    assert sum("scored on 4 of 200 images" in note for note in report["warnings"]) == 2


def test_export_options_are_checked_once_and_keywords_override_them(digits_model, digits, tmp_path):
    options = ExportOptions(formats="TFLite", modes="int8, float32", calibration_size=20.0, class_names=CLASS_NAMES)
    assert options.formats == ("tflite",) and options.modes == ("float32", "int8") and options.calibration_size == 20
    assert options.tflite_modes == ["float32", "int8"] and options.class_names == tuple(CLASS_NAMES)
    with pytest.raises(KerasResnetError, match="add tflite to --formats"):
        ExportOptions(formats="saved_model", modes="qat")
    with pytest.raises(KerasResnetError, match="repeats class name 'a'"):
        ExportOptions(class_names=["a", "a"])
    with pytest.raises(TypeError, match="unknown option.*quantise"):
        export_all(digits_model, tmp_path, options, quantise="int8")
    result = export_all(digits_model, tmp_path, options, modes="float32", heldout_images=digits[2][:16],
                        verify_images=16, evaluate=False, progress=False)  # keywords win over the object
    assert set(result.manifest["artifacts"]) == {"float32"} and options.modes == ("float32", "int8")
    assert result.manifest["verification_images"] == {"count": 16, "synthetic": False}


def test_registry_names_each_kind_and_picks_the_reference_in_its_order(digits_export, digits_model, digits, tmp_path):
    from keras_resnet.export import evaluate_artifacts, formats

    digits_model.save(tmp_path / "model.keras")
    paths = digits_export.paths
    kinds = [artifact_kind(path) for path in (tmp_path / "model.keras", paths["saved_model"], paths["int8"],
                                              paths["onnx"])]
    assert kinds == ["keras", "saved_model", "tflite", "onnx"] == list(formats.KINDS)
    assert artifact_kind(digits_model) == "keras" and formats.FORMATS == ("saved_model", "tflite", "onnx")
    (tmp_path / "empty").mkdir()
    with pytest.raises(KerasResnetError, match="is a folder with no model in it: give a .keras file"):
        artifact_kind(tmp_path / "empty")
    # Listed last, the SavedModel is still the reference: it comes before .tflite in the registry.
    report = evaluate_artifacts([paths["int8"], paths["float32"], paths["saved_model"]], digits[2][:16],
                                digits[3][:16], latency_runs=2, progress=False)
    assert report["reference"] == "saved_model" and report["artifacts"][2]["agreement"] == 1.0


def test_a_slow_artifact_is_cut_at_a_multiple_of_the_references_time(digits_export, digits, monkeypatch):
    """Without --eval-seconds, one artifact far slower than the reference (16x8 on reference kernels at
    224x224: seconds per image) is scored on a subset, and the report says why."""
    import time as clock

    from keras_resnet.export import evaluate_artifacts, report
    from keras_resnet.export.formats.tflite import TFLiteArtifact

    class Slow(TFLiteArtifact):  # the real LiteRT model, 20 ms more per image
        def _predict_batch(self, images):
            clock.sleep(0.02 * len(images))
            return super()._predict_batch(images)

    monkeypatch.setattr(report, "MIN_AUTOMATIC_BUDGET", 0.5)
    test_x, test_y = digits[2], digits[3]
    result = evaluate_artifacts([digits_export.paths["float32"], Slow(digits_export.paths["int8"])], test_x, test_y,
                                batch_size=8, latency_runs=2, progress=False)
    reference_seconds = result["artifacts"][0]["seconds"]["accuracy"]
    scored = [row["images"] for row in result["artifacts"]]
    assert scored[0] == 200 and 8 <= scored[1] < 200  # 200 images x 20 ms = 4 s > max(5 x reference, 0.5 s)
    assert result["artifacts"][1]["seconds"]["accuracy"] < max(5 * reference_seconds, 0.5) + 1.0
    assert any(f"scored on {scored[1]} of 200 images (stopped at" in note for note in result["warnings"])



def test_the_report_takes_known_answers_only_for_the_same_pixels_and_counts_their_seconds(digits_export, digits):
    """Answers an artifact gave at export (its verification) are taken, not run again, for exactly the images
    they were given on; their seconds count against the time budget."""
    from keras_resnet.export import evaluate_artifacts
    from keras_resnet.export.known_outputs import KnownOutputs, reading_order

    test_x, test_y = digits[2], digits[3]
    first = np.array([7, 3, 11, 0])
    order = reading_order(np.random.default_rng(0).permutation(len(test_x)), first)
    assert list(order[:4]) == list(first) and sorted(order) == list(range(len(test_x)))
    wrong = np.eye(10, dtype=np.float32)[(test_y[first] + 1) % 10]  # a confident wrong answer for each
    paths = [digits_export.paths["float32"], digits_export.paths["int8"]]

    def int8_row(images, seconds=0.0, **options):
        known = [None, KnownOutputs(images, wrong, seconds)]
        return evaluate_artifacts(paths, test_x, test_y, read_first=first, known=known, latency_runs=2,
                                  progress=False, **options)["artifacts"][1]

    honest = evaluate_artifacts(paths, test_x, test_y, latency_runs=2, progress=False)["artifacts"][1]
    right = load_artifact(paths[1]).predict(test_x[first]).argmax(-1) == test_y[first]
    taken = int8_row(test_x[first])
    assert taken["images"] == honest["images"] == 200
    assert round((honest["top1"] - taken["top1"]) * 200) == int(right.sum())  # the wrong answers were taken
    assert int8_row(test_x[first][::-1])["top1"] == honest["top1"]  # other pixels at those places: run again
    cut = int8_row(test_x[first], seconds=100.0, max_seconds=5.0, batch_size=4)  # 100 s spent: over budget
    assert cut["images"] == 4 and cut["top1"] == 0.0 and cut["answers_from_verification"] == 4


def test_the_export_report_grades_as_a_fresh_evaluation_of_its_files(digits_export, digits):
    """The report card took every artifact's verification answers (64 of the 200 images); graded afresh,
    without them, every file scores the same."""
    from keras_resnet.export import evaluate_artifacts

    rows = digits_export.report["artifacts"][1:]  # the first is the Keras model in memory
    fresh = evaluate_artifacts([row["path"] for row in rows], digits[2], digits[3], latency_runs=2,
                               progress=False)["artifacts"]
    assert [row["name"] for row in fresh] == [row["name"] for row in rows] and len(rows) >= 7
    for exported, again in zip(rows, fresh):
        assert exported["images"] == again["images"] == 200 and again["answers_from_verification"] == 0
        assert exported["top1"] == again["top1"], exported["name"]
        assert exported["answers_from_verification"] == 64, exported["name"]
    assert digits_export.report["artifacts"][0]["answers_from_verification"] == 64  # the Keras model too


def test_no_batch_starts_that_would_end_past_the_budget(digits_export, digits, monkeypatch):
    """At 0.2 s an image, in batches of 4 under a budget (0.8 s a batch), and a 2.8 s budget, a fourth batch
    would end at ~3.2 s: the run stops after the third, at ~2.4 s, inside the budget."""
    import time as clock

    from keras_resnet.export import evaluate_artifacts, report
    from keras_resnet.export.formats.tflite import TFLiteArtifact

    class Slow(TFLiteArtifact):
        def _predict_batch(self, images, worker=0):
            clock.sleep(0.2 * len(images))
            return super()._predict_batch(images, worker)

    monkeypatch.setattr(report, "MIN_AUTOMATIC_BUDGET", 2.8)
    result = evaluate_artifacts([digits_export.paths["float32"], Slow(digits_export.paths["int8"])], digits[2],
                                digits[3], batch_size=8, latency_runs=2, progress=False)["artifacts"]
    assert result[0]["images"] == 200 and result[0]["seconds"]["accuracy"] < 0.5  # the budget stays 2.8 s
    assert result[1]["images"] == 12 and result[1]["seconds"]["accuracy"] < 2.8
