"""Artifacts in the runtime app developers call: MediaPipe Tasks' ImageClassifier, and RGB camera input.

MediaPipe (the same task API as Android, iOS and the web) runs in its own virtual
environment: it needs absl-py ~=2.3, tensorflow-model-optimization pins ~=1.2, so
pip cannot install both in one. The fixture makes that environment from the package
registry, as an app developer's machine would have it, and removes it afterwards.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import keras
import tensorflow as tf
from click.testing import CliRunner
from PIL import Image

import keras_resnet
from helpers import DIGIT_NAMES
from keras_resnet.cli import main
from keras_resnet.data import load_dataset
from keras_resnet.data.images import LUMA_WEIGHTS, convert_channels
from keras_resnet.export import MODES, export_all, load_artifact

MEDIAPIPE = "mediapipe==1.2.3"  # the version the README's Deploy section names
RUNNER = Path(__file__).parent / "runtimes" / "mediapipe_classify.py"
RGB, GRAYSCALE, TENSOR_AXIS_LABELS = 1, 2, 2  # metadata_schema.fbs enum values


@pytest.fixture(scope="session")
def mediapipe_python(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mediapipe_venv")
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    python = folder / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "--quiet", MEDIAPIPE],
                               capture_output=True, text=True)
    assert installed.returncode == 0, f"could not install {MEDIAPIPE}: {installed.stderr[-2000:]}"
    yield python
    shutil.rmtree(folder, ignore_errors=True)


def in_mediapipe(python, frames, paths, tmp_path) -> dict:
    """Each .tflite of ``paths`` run by MediaPipe's ImageClassifier on RGB ``frames``, and its metadata."""
    np.savez(tmp_path / "frames.npz", images=frames)
    done = subprocess.run([str(python), str(RUNNER), str(tmp_path / "frames.npz"), *map(str, paths)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def colourised(gray, seed):
    """Digits drawn in a random light colour on a random dark background: RGB frames a camera could deliver."""
    rng = np.random.default_rng(seed)
    ink, paper = rng.integers(160, 256, (len(gray), 1, 1, 3)), rng.integers(0, 96, (len(gray), 1, 1, 3))
    share = gray.astype(np.float32) / 255.0
    return np.round(paper + share * (ink - paper)).astype(np.uint8)


def trained_on(images, labels):
    keras.utils.set_random_seed(0)
    model = keras_resnet.CifarResNet(depth=8, input_shape=images.shape[1:], classes=10)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(images, labels, epochs=2, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="module")
def gray_export(digits_export, digits):
    """The quickstart's kind of model: grayscale digits, every mode (RGB input by default; conftest)."""
    return digits_export, convert_channels(digits[2], 3)


@pytest.fixture(scope="module")
def rgb_export(digits, tmp_path_factory):
    """A model trained on RGB frames, every TFLite mode."""
    train_x, train_y, test_x, test_y = digits
    train_x, test_x = colourised(train_x, 1), colourised(test_x, 2)
    result = export_all(trained_on(train_x, train_y), tmp_path_factory.mktemp("export_rgb"), formats="tflite",
                        class_names=DIGIT_NAMES, calibration_images=train_x, calibration_labels=train_y,
                        heldout_images=test_x, heldout_labels=test_y, calibration_size=64, verify_images=64,
                        latency_runs=2, progress=False)
    return result, test_x


@pytest.fixture(params=["gray_export", "rgb_export"])
def exported(request):
    return request.getfixturevalue(request.param)


def test_mediapipe_classifies_every_mode_with_our_class_names(exported, mediapipe_python, tmp_path):
    result, frames = exported
    paths = [result.paths[mode] for mode in MODES]
    report = in_mediapipe(mediapipe_python, frames, paths, tmp_path)
    for mode, path in zip(MODES, paths):
        entry = report[str(path)]
        assert "classified" in entry, f"MediaPipe refused {mode}: {entry}"
        ours = load_artifact(path).predict(frames).argmax(-1)
        agreement = np.mean([DIGIT_NAMES[index] == name for index, name in zip(ours, entry["classified"]["names"])])
        assert agreement >= 0.99, f"{mode}: MediaPipe agrees with LiteRT on {agreement:.1%} of held-out images"


def test_standard_metadata_reads_back_with_mediapipes_schema(exported, mediapipe_python, tmp_path):
    result, frames = exported
    paths = [result.paths[mode] for mode in MODES]
    report = in_mediapipe(mediapipe_python, frames[:1], paths, tmp_path)
    for mode, path in zip(MODES, paths):
        metadata = report[str(path)]["metadata"]
        assert metadata["name"] == "resnet8" and mode in metadata["description"]
        assert metadata["min_parser_version"] == "1.0.0"
        assert metadata["input"]["color_space"] == RGB
        assert (metadata["input"]["width"], metadata["input"]["height"]) == (28, 28)
        if mode == "int8":  # uint8 pixels as they are: no normalization to describe
            assert metadata["input"]["mean"] is None
        else:  # float pixels 0-255 into a graph that rescales inside: identity normalization
            assert metadata["input"]["mean"] == [0.0] * 3 and metadata["input"]["std"] == [1.0] * 3
        assert metadata["output"]["type"] == TENSOR_AXIS_LABELS and metadata["output"]["labels"] == DIGIT_NAMES
        assert metadata["packed"] == {"labels.txt": 0}  # stored, not deflated: runtimes map it in place


def test_grayscale_model_takes_rgb_frames_and_predicts_as_on_their_gray(gray_export, digits_model):
    result, _ = gray_export
    assert result.manifest["input_shape"] == [28, 28, 3] and result.manifest["rgb_input"] is True
    frames = colourised(load_dataset("bundled").test.images[:100], 3)
    weights = np.array(LUMA_WEIGHTS, np.float32) / np.float32(sum(LUMA_WEIGHTS))  # scaled: gray stays gray
    luma = frames.astype(np.float32) @ weights[:, np.newaxis]  # the gray the graph computes, not rounded
    expected = digits_model.predict(luma, verbose=0)
    for mode, tolerance in (("float32", 1e-4), ("float16", 1e-2)):  # the float graphs' verification tolerances
        artifact = load_artifact(result.paths[mode])
        assert artifact.input_shape == (28, 28, 3)
        np.testing.assert_allclose(artifact.predict(frames), expected, atol=tolerance, err_msg=mode)
    # A gray frame (R = G = B) reaches the model unchanged: float32 matches the model to float precision.
    gray = load_dataset("bundled").test.images[:16]
    np.testing.assert_allclose(load_artifact(result.paths["float32"]).predict(convert_channels(gray, 3)),
                               digits_model.predict(gray.astype(np.float32), verbose=0), atol=1e-4)


def test_saved_model_and_cli_choose_the_input_channels(digits_model, tmp_path):
    digits_model.save(tmp_path / "model.keras")
    frames = colourised(load_dataset("bundled").test.images[:8], 4)
    expected = digits_model.predict(convert_channels(frames, 1).astype(np.float32), verbose=0)
    runner, top_class = CliRunner(), {}
    for flag, channels in (("--rgb-input", 3), ("--model-input", 1)):
        out = tmp_path / flag.strip("-")
        done = runner.invoke(main, ["export", str(tmp_path / "model.keras"), "--out", str(out), "--formats",
                                    "all", "--quantize", "float32", "--no-report", flag])
        assert done.exit_code == 0 and done.exception is None, done.output
        served = tf.saved_model.load(str(out / "saved_model")).signatures["serving_default"]
        assert served.structured_input_signature[1]["images"].shape[-1] == channels
        for artifact in ("model_float32.tflite", "model.onnx"):
            assert load_artifact(out / artifact).input_shape == (28, 28, channels)
        probabilities = served(images=tf.constant(convert_channels(frames, channels)))["probabilities"].numpy()
        assert np.mean(probabilities.argmax(-1) == expected.argmax(-1)) >= 7 / 8
        top_class[channels] = list(probabilities.argmax(-1))
        Image.fromarray(frames[0]).save(tmp_path / "photo.png")
        said = runner.invoke(main, ["predict", str(out / "model_float32.tflite"), str(tmp_path / "photo.png"),
                                    "--json"])
        assert said.exit_code == 0, said.output
        dropped_colour = ["converted RGB to grayscale"] if channels == 1 else []  # said only when colour is lost
        assert json.loads(said.stdout)[0]["adjustments"] == dropped_colour
    # TensorFlow Serving's own tool runs the SavedModel as it is (README "Deploy").
    np.save(tmp_path / "frames.npy", frames)
    served = subprocess.run([str(Path(sys.executable).parent / "saved_model_cli"), "run", "--dir",
                             str(tmp_path / "rgb-input" / "saved_model"), "--tag_set", "serve", "--signature_def",
                             "serving_default", "--inputs", f"images={tmp_path / 'frames.npy'}"],
                            capture_output=True, text=True)
    assert served.returncode == 0, served.stderr[-2000:]
    top_classes = served.stdout.split("Result for output key top_class:")[1].split("]")[0].strip(" \n[").split()
    assert [int(index) for index in top_classes] == top_class[3]
