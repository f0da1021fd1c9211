"""Transfer learning in train(): pretrained backbone, new head, frozen epochs, then fine-tuning.

"Pretrained" weights are made here (no internet): a depth-8 ResNet for 10 classes with random
weights and BatchNorm statistics, saved as .keras; runs fine-tune it on 3 bundled MNIST digits.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import h5py
import keras
import numpy as np
import pytest
from click.testing import CliRunner

import keras_resnet.zoo as zoo
from keras_resnet import weights as weights_module
from keras_resnet.data import load_dataset
from keras_resnet.errors import KerasResnetError
from keras_resnet.training import build_network, resolve_config, train, transfer
from keras_resnet.training import callbacks as run_callbacks
from keras_resnet.training.precision import dtype_policy
from helpers import randomize

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

PRETRAINED_OPTIONS = {"preprocessing": "symmetric"}  # not our default: the run must adopt it from the file
FAST = dict(model="resnet8", batch_size=16, steps_per_epoch=2, precision="float32", schedule="constant",
            tensorboard=False, verbose=0, validation_split=0.2, learning_rate=0.1)
BATCHNORM_STATISTICS = ("moving_mean", "moving_variance")


def by_layer(model):
    return {layer.name: [np.array(w) for w in layer.get_weights()] for layer in model.layers if layer.weights}


def load_checkpoint(path, input_shape=(28, 28, 3), classes=3, options=PRETRAINED_OPTIONS):
    with dtype_policy("float32"):
        model = build_network("resnet8", input_shape, classes, options)
    model.load_weights(path)  # weights + optimizer file; the optimizer part is ignored here
    return by_layer(model)


def checkpoint_file(run_dir, epochs_done):
    names = [name for name in os.listdir(os.path.join(run_dir, "checkpoints"))
             if name.startswith(f"ckpt-{epochs_done:04d}-")]
    assert len(names) == 1, names
    return os.path.join(run_dir, "checkpoints", names[0])


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """Three bundled MNIST digits (0, 1, 2): 40 train and 10 test images each, 28x28 gray."""
    splits = load_dataset("bundled", validation_split=0)

    def pick(split, count):
        index = np.concatenate([np.flatnonzero(split.labels == label)[:count] for label in range(3)])
        return split.images[index], split.labels[index]

    (x_train, y_train), (x_test, y_test) = pick(splits.train, 40), pick(splits.test, 10)
    path = tmp_path_factory.mktemp("data") / "digits3.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return str(path)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A 10-class RGB resnet8 with symmetric preprocessing, saved as .keras: our stand-in for ImageNet."""
    keras.utils.set_random_seed(1)
    with dtype_policy("float32"):
        model = build_network("resnet8", (28, 28, 3), 10, PRETRAINED_OPTIONS)
    randomize(model)
    path = str(tmp_path_factory.mktemp("pretrained") / "resnet8-10classes.keras")
    model.save(path)
    return path, by_layer(model)


def spy_on_loading(patch):
    """Patches transfer.load_into to record every layer's weights as loaded; returns that record."""
    loaded = {}
    original = transfer.load_into

    def spy(model, weights, name):
        count = original(model, weights, name)
        loaded.update(by_layer(model))
        return count

    patch.setattr(transfer, "load_into", spy)
    return loaded


@pytest.fixture(scope="module")
def finetuned(digits, pretrained, tmp_path_factory):
    """One two-phase run in mixed bfloat16: 1 frozen epoch, 1 fine-tuning epoch. Spies on the weights as loaded."""
    run_dir = str(tmp_path_factory.mktemp("runs") / "finetune")
    with pytest.MonkeyPatch.context() as patch:
        loaded = spy_on_loading(patch)
        result = train(data=digits, weights=pretrained[0], freeze_epochs=1, epochs=2, run_dir=run_dir,
                       **{**FAST, "precision": "mixed_bfloat16", "augment": "auto"})
    return result, loaded


# ---- the weights go in, the head is new ------------------------------------------------------------------

def test_backbone_gets_the_pretrained_weights_and_a_new_head(finetuned, pretrained):
    _, loaded = finetuned
    _, source = pretrained
    assert set(loaded) == set(source)
    for name, arrays in source.items():
        if name == "predictions":
            assert [a.shape for a in loaded[name]] == [(64, 3), (3,)]  # new head for the 3 classes
        else:
            for got, want in zip(loaded[name], arrays):
                np.testing.assert_array_equal(got, want, err_msg=name)


# ---- freezing really freezes; unfreezing really trains --------------------------------------------------

def test_frozen_epoch_changes_only_the_head(finetuned, pretrained):
    result, loaded = finetuned
    after_frozen = load_checkpoint(checkpoint_file(result.run_dir, 1))
    assert not any(np.array_equal(a, b) for a, b in zip(after_frozen["predictions"], loaded["predictions"]))
    for name, arrays in pretrained[1].items():
        if name != "predictions":  # kernels, BN gamma/beta AND moving mean/variance: bit for bit
            for got, want in zip(after_frozen[name], arrays):
                np.testing.assert_array_equal(got, want, err_msg=name)


def changed_weights(before, after):
    """{layer name: [whether each weight array changed]}."""
    return {name: [not np.array_equal(a, b) for a, b in zip(after[name], before[name])] for name in before}


def batchnorm_layers(model):
    names = [layer.name for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert names
    return names


def convolutions(model):
    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def test_fine_tune_batchnorm_train_the_default_trains_the_backbone_and_its_batchnorm(finetuned):
    result, _ = finetuned
    after_frozen = load_checkpoint(checkpoint_file(result.run_dir, 1))
    changed = changed_weights(after_frozen, by_layer(result.model))
    assert all(changed[name] == [True] for name in convolutions(result.model)) and all(changed["predictions"])
    assert all(all(changed[name]) for name in batchnorm_layers(result.model))  # gamma, beta, mean, variance


@pytest.mark.parametrize("freeze_epochs", [1, 0], ids=["after-a-frozen-epoch", "no-frozen-phase"])
def test_fine_tune_batchnorm_frozen_keeps_every_batchnorm_as_loaded(digits, pretrained, tmp_path, freeze_epochs):
    """Moving mean/variance (and gamma/beta) stay bit for bit through a fine-tuning epoch, while the convolutions
    train."""
    result = train(data=digits, weights=pretrained[0], freeze_epochs=freeze_epochs, epochs=freeze_epochs + 1,
                   fine_tune_batchnorm="frozen", run_dir=str(tmp_path / "run"), **FAST)
    before = load_checkpoint(checkpoint_file(result.run_dir, 1)) if freeze_epochs else pretrained[1]
    changed = changed_weights({name: arrays for name, arrays in before.items() if name != "predictions"},
                              by_layer(result.model))
    assert all(changed[name] == [True] for name in convolutions(result.model))
    assert not any(any(changed[name]) for name in batchnorm_layers(result.model))
    assert [phase["batchnorm_frozen"] for phase in result.metrics["phases"]] == [True] * (freeze_epochs + 1)


def test_frozen_batchnorm_runs_in_inference_mode():
    """Keras 3: BatchNormalization with trainable=False normalises with its moving statistics."""
    layer = keras.layers.BatchNormalization()
    layer.build((None, 2))
    layer.set_weights([np.ones(2), np.zeros(2), np.full(2, 5.0), np.full(2, 4.0)])
    layer.trainable = False
    x = np.array([[0.0, 10.0], [2.0, 12.0]], "float32")
    out = np.asarray(layer(x, training=True))
    np.testing.assert_allclose(out, (x - 5.0) / np.sqrt(4.0 + layer.epsilon), rtol=1e-5)
    np.testing.assert_array_equal(layer.get_weights()[2], np.full(2, 5.0))


# ---- the run directory records it all -------------------------------------------------------------------

def test_config_history_and_checkpoints_record_the_two_phases(finetuned, pretrained):
    result, _ = finetuned
    config = json.load(open(os.path.join(result.run_dir, "config.json")))
    assert (config["weights"], config["freeze_epochs"], config["fine_tune_learning_rate"]) == (
        pretrained[0], 1, pytest.approx(0.01))  # default: 0.1x the learning rate
    assert config["channels"] == 3 and config["augment"] == "crop"  # gray digits converted, still not mirrored
    resolved = config["resolved"]
    assert resolved["pretrained"]["kind"] == "keras" and resolved["model_options"] == PRETRAINED_OPTIONS
    assert [phase["backbone_frozen"] for phase in resolved["phases"]] == [True, False]
    assert [phase["batchnorm_frozen"] for phase in resolved["phases"]] == [True, False]
    assert config["fine_tune_batchnorm"] == "train"  # the default
    assert resolved["fine_tune_learning_rate_used"] == pytest.approx(0.01 * 16 / 128)
    assert resolved["image_shape"] == [28, 28, 3]
    history = json.load(open(os.path.join(result.run_dir, "history.json")))
    assert history == result.history and len(history["loss"]) == 2 and len(history["val_loss"]) == 2
    assert history["learning_rate"] == pytest.approx([0.1 * 16 / 128, 0.01 * 16 / 128])
    state = json.load(open(os.path.join(result.run_dir, "checkpoints", "checkpoint.json")))
    assert state["phase"] == 2 and state["epochs_done"] == 2
    assert result.metrics["completed"] and result.metrics["phases"] == resolved["phases"]


# ---- the fine-tuned model is a model like any other ------------------------------------------------------

def test_finetuned_model_reloads_safely_with_the_pretrained_preprocessing(finetuned):
    result, _ = finetuned
    model = keras.saving.load_model(result.model_path, safe_mode=True, compile=False)
    assert model.get_layer("preprocessing").get_config()["scale"] == pytest.approx(1 / 127.5)
    assert [layer.name for layer in model.layers][-2:] == ["avg_pool", "predictions"]
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
    pixels = np.random.default_rng(0).integers(0, 256, (4, 28, 28, 3)).astype("float32")
    probabilities = model.predict(pixels, verbose=0)
    assert probabilities.shape == (4, 3)
    np.testing.assert_allclose(probabilities, result.model.predict(pixels, verbose=0), atol=1e-6)


def test_finetuned_run_exports_and_verifies(finetuned, tmp_path):
    from keras_resnet import export
    result, _ = finetuned
    exported = export.export_all(result.run_dir, tmp_path / "export", formats="tflite", modes="float32,int8",
                                 calibration_size=24, verify_images=16, evaluate=False, progress=False)
    assert set(exported.manifest["artifacts"]) == {"float32", "int8"}
    assert exported.manifest["input_shape"] == [28, 28, 3]
    artifact = export.load_artifact(exported.paths["int8"])
    digits = np.random.default_rng(0).integers(0, 256, (2, 28, 28, 3)).astype(np.uint8)
    assert artifact.predict(digits).shape == (2, 3) and artifact.class_names == ["0", "1", "2"]


# ---- resume: a run killed in phase 2 does not redo phase 1 ------------------------------------------------

class Killed(Exception):
    """Stands in for SIGKILL: raised right after a checkpoint is complete."""


def kill_after(patch, epochs):
    original = run_callbacks.RunCheckpoint._save

    def save(self, epochs_done, steps_in_epoch):
        original(self, epochs_done=epochs_done, steps_in_epoch=steps_in_epoch)
        if epochs_done == epochs and not steps_in_epoch:
            raise Killed

    patch.setattr(run_callbacks.RunCheckpoint, "_save", save)


def record_fits(patch):
    calls = []
    original = keras.Model.fit

    def fit(self, *args, **kwargs):
        calls.append((kwargs["initial_epoch"], kwargs["epochs"]))
        return original(self, *args, **kwargs)

    patch.setattr(keras.Model, "fit", fit)
    return calls


def test_killed_runs_resume_in_the_phase_they_stopped_in(digits, pretrained, tmp_path):
    weights = tmp_path / "pretrained.keras"
    shutil.copy(pretrained[0], weights)
    options = dict(data=digits, weights=str(weights), freeze_epochs=1, epochs=3, run_dir=str(tmp_path / "run"),
                   **FAST)
    with pytest.MonkeyPatch.context() as patch:  # killed right after the last frozen epoch's checkpoint
        kill_after(patch, 1)
        with pytest.raises(Killed):
            train(**options)
    frozen_history = json.load(open(tmp_path / "run" / "history.json"))
    os.remove(weights)  # a resume needs only the checkpoint and what config.json recorded about the weights
    with pytest.MonkeyPatch.context() as patch:  # resumed: phase 1 is done (an empty fit), killed in phase 2
        kill_after(patch, 2)
        calls = record_fits(patch)
        with pytest.raises(Killed):
            train(**options)
    assert calls == [(1, 1), (1, 3)]
    state = run_callbacks.read_checkpoint_state(str(tmp_path / "run" / "checkpoints"))
    assert state["phase"] == 2 and state["epochs_done"] == 2
    with pytest.MonkeyPatch.context() as patch:  # resumed in phase 2: no frozen epoch again
        calls = record_fits(patch)
        result = train(**options)
    assert calls == [(2, 3)]
    assert result.metrics["resumed_from"] == {"epochs_done": 2, "step": 2, "phase": 2}
    history = result.history
    assert len(history["loss"]) == 3 and all(value is not None for value in history["loss"])
    assert history["loss"][:1] == frozen_history["loss"]  # continuous: the frozen epoch's entry kept
    assert history["learning_rate"] == pytest.approx([0.0125, 0.00125, 0.00125])
    with pytest.raises(KerasResnetError, match="other options.*freeze_epochs"):
        os.remove(os.path.join(result.run_dir, "metrics.json"))
        train(**{**options, "freeze_epochs": 2})


MIRRORED = """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]  # before TensorFlow initialises: 2 logical CPUs
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from keras_resnet.training import train
    result = train(model="resnet8", data=sys.argv[1], weights=sys.argv[2], run_dir=sys.argv[3], strategy="mirrored",
                   freeze_epochs=1, epochs=2, batch_size=8, steps_per_epoch=2, precision="float32",
                   schedule="constant", validation_split=0.2, tensorboard=False, verbose=0)
    print(json.dumps({"replicas": result.metrics["replicas"], "loss": result.history["loss"]}))
"""


def test_both_phases_under_mirrored_strategy(digits, pretrained, tmp_path):
    """Two replicas (logical CPUs, a child process): the frozen epoch leaves the backbone and its BN statistics
    exactly as loaded, averaged over replicas or not; fine-tuning then moves them."""
    env = {key: value for key, value in os.environ.items() if key != "TF_CONFIG"}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", PYTHONUNBUFFERED="1")
    run_dir = tmp_path / "run"
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(MIRRORED), digits, pretrained[0], str(run_dir)],
                           capture_output=True, text=True, timeout=240, env=env)
    assert child.returncode == 0, child.stdout[-3000:] + child.stderr[-3000:]
    summary = json.loads(child.stdout.strip().splitlines()[-1])
    assert summary["replicas"] == 2 and len(summary["loss"]) == 2
    after_frozen = load_checkpoint(checkpoint_file(run_dir, 1))
    final = load_checkpoint(checkpoint_file(run_dir, 2))
    for name, arrays in pretrained[1].items():
        if name != "predictions":
            for got, want in zip(after_frozen[name], arrays):
                np.testing.assert_array_equal(got, want, err_msg=name)
    assert not np.array_equal(final["conv1_bn"][2], after_frozen["conv1_bn"][2])  # moving mean, unfrozen


# ---- other weight sources ----------------------------------------------------------------------------------

def test_imagenet_weights_path_with_gray_data(digits, tmp_path, monkeypatch):
    """weights='imagenet' through the zoo's keras.applications loader (file faked, model small): 3 channels
    from gray digits, caffe preprocessing, first-conv channels reversed from the file's BGR."""
    from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

    with dtype_policy("float32"):
        source = build_network("resnet20", (None, None, 3), 10, {"include_top": False})
    randomize(source, seed=3)
    path = tmp_path / "resnet20_notop.h5"
    with h5py.File(path, "w") as file:
        save_weights_to_hdf5_group(file, source)
    monkeypatch.setitem(weights_module.KERAS_APPLICATIONS_HASHES, "resnet20", ("", ""))
    monkeypatch.setattr(zoo, "fetch_imagenet_weights", lambda name, include_top: str(path))
    loaded = spy_on_loading(monkeypatch)
    with pytest.raises(KerasResnetError, match="--channels 1 gives 1-channel images but the ImageNet weights take "
                                               "3: pass --channels 3"):
        train(data=digits, weights="imagenet", channels=1, run_dir=str(tmp_path / "bad"),
              **{**FAST, "model": "resnet20"})
    result = train(data=digits, weights="imagenet", freeze_epochs=1, epochs=2, fine_tune_learning_rate="0.5x",
                   run_dir=str(tmp_path / "run"), **{**FAST, "model": "resnet20", "validation_split": 0})
    kernel = source.get_layer("conv1_conv").get_weights()[0]
    np.testing.assert_array_equal(loaded["conv1_conv"][0], kernel[:, :, ::-1, :])
    assert result.config.fine_tune_learning_rate == pytest.approx(0.05)
    resolved = result.metrics
    assert resolved["pretrained"]["kind"] == "imagenet" and resolved["model_options"] == {"preprocessing": "caffe"}
    assert resolved["image_shape"] == [28, 28, 3]
    offsets = result.model.get_layer("preprocessing").get_config()["offset"]
    np.testing.assert_allclose(offsets, [-123.68, -116.779, -103.939])
    by_path = transfer.load_pretrained(resolve_config(model="resnet20", weights=str(path)))  # the file as a PATH
    assert (by_path.kind, by_path.model_options) == ("keras_applications_h5", {"preprocessing": "caffe"})
    built = zoo.build_model("resnet20", include_top=False, weights=str(path))  # the builder reads it alike
    np.testing.assert_allclose(built.get_layer("preprocessing").get_config()["offset"], offsets)
    np.testing.assert_array_equal(built.get_layer("conv1_conv").get_weights()[0],
                                  by_path.layer_weights["conv1_conv"][0])


def test_weights_h5_file_and_a_checkpoint_as_weights(digits, pretrained, finetuned, tmp_path):
    """model.save_weights files (no preprocessing inside: the model options must match) and run checkpoints."""
    checkpoint = checkpoint_file(finetuned[0].run_dir, 2)  # 3 classes, with optimizer state
    config = resolve_config(model="resnet8", weights=checkpoint, model_options=PRETRAINED_OPTIONS)
    weights = transfer.load_pretrained(config)
    assert weights.kind == "weights_h5" and weights.channels == 3
    for name, arrays in load_checkpoint(checkpoint).items():
        for got, want in zip(weights.layer_weights[name], arrays):
            np.testing.assert_array_equal(got, want)
    with dtype_policy("float32"):
        headless = build_network("resnet8", (None, None, 1), 10, {"include_top": False})
    headless.save_weights(tmp_path / "headless.weights.h5")
    weights = transfer.load_pretrained(resolve_config(model="resnet8", weights=str(tmp_path / "headless.weights.h5")))
    assert weights.channels == 1 and "predictions" not in weights.layer_weights
    with pytest.raises(KerasResnetError, match="does not fit model 'resnet14'.*--model"):
        transfer.load_pretrained(resolve_config(model="resnet14", weights=checkpoint))


def test_cli_options(digits, pretrained, tmp_path):
    from keras_resnet.cli import main

    common = ["train", "--model", "resnet8", "--data", digits, "--weights", pretrained[0], "--batch-size", "16",
              "--steps-per-epoch", "1", "--precision", "float32", "--verbose", "0", "--no-tensorboard"]
    result = CliRunner().invoke(main, [*common, "--epochs", "2", "--freeze-epochs", "1", "--fine-tune-lr", "0.5x",
                                       "--fine-tune-batchnorm", "frozen", "--learning-rate", "0.2",
                                       "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    saved = json.load(open(tmp_path / "run" / "config.json"))
    assert (saved["weights"], saved["freeze_epochs"], saved["fine_tune_learning_rate"]) == (pretrained[0], 1, 0.1)
    assert saved["fine_tune_batchnorm"] == "frozen" and saved["resolved"]["phases"][1]["batchnorm_frozen"] is True
    bad = CliRunner().invoke(main, [*common, "--epochs", "2", "--freeze-epochs", "2"])
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert "freeze_epochs=2 leaves none of the 2 epochs" in bad.output and "--epochs" in bad.output


# ---- bad combinations: one line, naming the fix -------------------------------------------------------------

@pytest.mark.parametrize("options, words", [
    ({"weights": "imagenet", "freeze_epochs": 3, "epochs": 3}, "raise --epochs above 3 or lower --freeze-epochs"),
    ({"weights": "imagenet", "freeze_epochs": -1}, "freeze_epochs=-1 is out of range"),
    ({"freeze_epochs": 1}, "no weights are given: add --weights imagenet"),
    ({"weights": "imagenet", "fine_tune_learning_rate": 0.01}, "applies only after freeze_epochs"),
    ({"weights": "imagenet", "freeze_epochs": 1, "fine_tune_learning_rate": "fast"}, "or a factor"),
    ({"weights": "imagenet", "freeze_epochs": 1, "fine_tune_learning_rate": "-0.1x"}, "positive rate"),
    ({"weights": "imagenet", "freeze_epochs": 1, "epochs": 3, "warmup_epochs": 1}, "shorter training phase"),
    ({"model_options": {"classes": 5}}, "model option 'classes' is not for train"),
    ({"model_options": {"weights": "imagenet"}}, "--weights"),
    ({"weights": ""}, "must be imagenet or the path"),
    ({"weights": "imagenet", "fine_tune_batchnorm": "sometimes"}, "fine_tune_batchnorm='sometimes' is not supported"),
])
def test_bad_combinations_are_one_line_errors(options, words):
    with pytest.raises(KerasResnetError, match=words) as error:
        resolve_config(**{"epochs": 10, **options})
    assert "\n" not in str(error.value)


def test_weights_that_do_not_fit_say_what_to_do(digits, pretrained, tmp_path):
    def attempt(**options):
        with pytest.raises(KerasResnetError) as error:
            train(data=digits, run_dir=str(tmp_path / "run"), **{**FAST, **options})
        assert "\n" not in str(error.value)
        return str(error.value)

    assert "no ImageNet weights for model 'resnet8'" in attempt(weights="imagenet")
    assert "does not exist" in attempt(weights=str(tmp_path / "missing.keras"))
    (tmp_path / "notes.txt").write_text("x")
    assert "not a weights file" in attempt(weights=str(tmp_path / "notes.txt"))
    message = attempt(weights=pretrained[0], model="resnet14")  # a shallower file: layers missing
    assert "no weights for layer 'conv2_block2_1_conv'" in message and "--model" in message
    with dtype_policy("float32"):
        deeper = build_network("resnet14", (28, 28, 3), 10, PRETRAINED_OPTIONS)
    deeper.save(tmp_path / "resnet14.keras")
    message = attempt(weights=str(tmp_path / "resnet14.keras"))  # a deeper file into resnet8: layers left over
    assert "hold layers model 'resnet8' lacks (conv2_block2" in message and "--model" in message
    dense = keras.Sequential([keras.Input((28, 28, 3)), keras.layers.Flatten(), keras.layers.Dense(3)])
    dense.save(tmp_path / "not_a_resnet.keras")
    assert "another architecture" in attempt(weights=str(tmp_path / "not_a_resnet.keras"))
    assert "--image-size 4 or larger" in attempt(weights=pretrained[0], image_size=2)


def test_a_preprocessing_model_option_wins_over_the_weights_with_a_warning(pretrained):
    config = resolve_config(model="resnet8", weights=pretrained[0], model_options={"preprocessing": "rescale"})
    with pytest.warns(UserWarning, match="preprocessing='rescale' overrides the preprocessing='symmetric' the weights "
                                         "in '.*' were trained with.*leave preprocessing out") as warned:
        weights = transfer.load_pretrained(config)
    assert weights.model_options == {"preprocessing": "rescale"} and "\n" not in str(warned[0].message)
