"""Training in one process: config, schedules, precision/strategy choice, weight decay, the run directory,
resume bookkeeping, the NaN guard and the CLI's error handling. Tiny: resnet8 on 16x16 toy images."""

import json
import math
import os

import keras
import numpy as np
from PIL import Image
import pytest
import yaml
from click.testing import CliRunner

from keras_resnet.data import DatasetSplits, load_dataset, make_pipeline
from keras_resnet.errors import KerasResnetError
from keras_resnet.training import (
    EpochEvaluation, TrainingDiverged, WarmupSchedule, build_network, choose_jit_compile, choose_precision,
    choose_strategy, resolve_config, run_length, scaled_learning_rate, schedule_for, train,
)
from keras_resnet.training import callbacks as run_callbacks
from keras_resnet.training import multiworker_fix, precision, strategy
from keras_resnet.files import atomic_path, write_json
from keras_resnet.training.optimizers import decayed_variables, excluded_variables, make_optimizer
from helpers import toy_npz

# Keras 3.15 + NumPy 2 warn on every variable read; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

FAST = dict(model="resnet8", epochs=2, batch_size=16, validation_split=0.25, augment="none",
            precision="float32", tensorboard=False, verbose=0)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return toy_npz(tmp_path_factory.mktemp("data") / "toy.npz")


@pytest.fixture(scope="module")
def finished_run(toy, tmp_path_factory):
    """One complete mixed-bfloat16 run, shared by the run-directory tests."""
    keras.config.set_dtype_policy("float32")
    run_dir = str(tmp_path_factory.mktemp("runs") / "run")
    result = train(data=toy, run_dir=run_dir, **{**FAST, "precision": "mixed_bfloat16", "epochs": 3,
                                                 "tensorboard": True, "learning_rate": 0.2})
    return result


# ---- config ----------------------------------------------------------------------------------------

def test_defaults_fill_per_optimizer_values():
    sgd, adamw = resolve_config(), resolve_config(optimizer="adamw")
    assert (sgd.learning_rate, sgd.weight_decay, sgd.momentum) == (0.1, 1e-4, 0.9)
    assert (adamw.learning_rate, adamw.weight_decay) == (1e-3, 0.05)
    assert sgd.schedule == "step" and sgd.step_milestones == [0.5, 0.75] and sgd.batch_size == 128


def test_config_file_yaml_and_json_with_overrides(tmp_path):
    (tmp_path / "c.yaml").write_text("model: resnet32\nbatch-size: 64\nlearning_rate: 0.05\nema: true\n")
    config = resolve_config(str(tmp_path / "c.yaml"), batch_size=32)
    assert (config.model, config.batch_size, config.learning_rate, config.ema) == ("resnet32", 32, 0.05, True)
    (tmp_path / "c.json").write_text(json.dumps({"optimizer": "adamw", "epochs": 3, "resolved": {"x": 1}}))
    config = resolve_config(str(tmp_path / "c.json"))
    assert (config.optimizer, config.epochs, config.weight_decay) == ("adamw", 3, 0.05)


@pytest.mark.parametrize("options, words", [
    ({"batch_sise": 3}, "did you mean 'batch_size'"),
    ({"epochs": 0}, "epochs=0"),
    ({"optimizer": "rmsprop"}, "sgd, adamw"),
    ({"schedule": "poly"}, "step, cosine, constant"),
    ({"learning_rate": -1}, "learning_rate"),
    ({"warmup_epochs": 5, "epochs": 5}, "shorten the warm-up"),
    ({"step_milestones": [0.5, 2]}, "fractions"),
    ({"precision": "float8"}, "mixed_bfloat16"),
    ({"ema": "maybe"}, "true or false"),
    ({"total_steps": 0}, "total_steps=0"),
    ({"warmup_epochs": 1, "warmup_steps": 5}, "give one"),
    ({"total_steps": 10, "warmup_steps": 10}, "shorten the warm-up"),
    ({"warmup_learning_rate": 0}, "warmup_learning_rate"),
    ({"weights": "w.keras", "freeze_epochs": 1, "epochs": 3, "total_steps": 30}, "give the length as epochs"),
])
def test_bad_options_raise_one_line_errors(options, words):
    with pytest.raises(KerasResnetError) as error:
        resolve_config(**options)
    assert words in str(error.value) and "\n" not in str(error.value)


def test_bad_config_files(tmp_path):
    with pytest.raises(KerasResnetError, match="no config file"):
        resolve_config(str(tmp_path / "missing.yaml"))
    (tmp_path / "bad.yaml").write_text("epochs: [1,\n")
    with pytest.raises(KerasResnetError, match="does not parse"):
        resolve_config(str(tmp_path / "bad.yaml"))
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(KerasResnetError, match="not a mapping"):
        resolve_config(str(tmp_path / "list.yaml"))


# ---- schedules ---------------------------------------------------------------------------------------

def rates(schedule, steps):
    return [float(schedule(step)) for step in steps]


def test_step_schedule_divides_by_ten_at_half_and_three_quarters():
    schedule = WarmupSchedule(0.1, 100, "step")
    assert rates(schedule, [0, 49, 50, 74, 75, 99, 500]) == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001, 0.001])


def test_cosine_and_warmup():
    cosine = WarmupSchedule(1.0, 110, "cosine", warmup_steps=10)
    assert rates(cosine, [0, 4, 9]) == pytest.approx([0.1, 0.5, 1.0])
    assert rates(cosine, [10, 60, 110, 200]) == pytest.approx([1.0, 0.5, 0.0, 0.0], abs=1e-6)
    assert rates(WarmupSchedule(0.3, 10, "constant"), [0, 9]) == pytest.approx([0.3, 0.3])
    restored = WarmupSchedule.from_config(cosine.get_config())
    assert rates(restored, [5, 50]) == pytest.approx(rates(cosine, [5, 50]))


def test_constant_warmup_then_steps_over_total_steps():
    """He et al.'s ResNet-110: 0.01 for 400 iterations, then 0.1, /10 at 32k and 48k of 64k iterations."""
    schedule = WarmupSchedule(0.1, 64_000, "step", warmup_steps=400, warmup_learning_rate=0.01)
    assert rates(schedule, [0, 399, 400, 31_999, 32_000, 48_000, 70_000]) == pytest.approx(
        [0.01, 0.01, 0.1, 0.1, 0.01, 0.001, 0.001])
    assert rates(WarmupSchedule.from_config(schedule.get_config()), [0, 400]) == pytest.approx([0.01, 0.1])
    old = {key: value for key, value in schedule.get_config().items() if key != "warmup_learning_rate"}
    assert rates(WarmupSchedule.from_config(old), [0, 399]) == pytest.approx([0.1 / 400, 0.1])  # linear
    # total_steps: enough epochs to reach it, the last one completed; the milestones are fractions of it
    assert run_length(391, 10, 64_000) == (164, 64_000) and run_length(391, 10) == (10, 3910)
    config = resolve_config(total_steps=64_000, warmup_steps=400, warmup_learning_rate=0.01, batch_size=64)
    built = schedule_for(config, 0.05, 782, 82, 64)
    assert built.milestone_steps() == [32_000, 48_000]
    assert rates(built, [0, 400]) == pytest.approx([0.005, 0.05])  # the warm-up rate scales with the batch too
    with pytest.raises(KerasResnetError, match="warm-up"):
        schedule_for(resolve_config(warmup_steps=100), 0.1, 5, 10, 128)


def test_learning_rate_scales_linearly_with_global_batch():
    assert scaled_learning_rate(0.1, 256, 128) == pytest.approx(0.2)
    assert scaled_learning_rate(0.1, 32, 128) == pytest.approx(0.025)


# ---- precision, XLA, strategy -----------------------------------------------------------------------

def test_precision_choice_follows_the_hardware(tmp_path):
    assert choose_precision("auto", "tpu") == "mixed_bfloat16"
    assert choose_precision("auto", "default", gpu_capabilities=[(8, 0)]) == "mixed_float16"
    assert choose_precision("auto", "mirrored", gpu_capabilities=[(8, 0), (6, 1)]) == "float32"
    assert choose_precision("auto", "default", gpu_capabilities=[], bf16_cpu=True) == "mixed_bfloat16"
    assert choose_precision("auto", "default", gpu_capabilities=[], bf16_cpu=False) == "float32"
    assert choose_precision("float32", "tpu") == "float32"
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor : 0\nflags : fpu sse avx512f amx_bf16 amx_tile\n")
    assert precision.cpu_supports_bfloat16(str(cpuinfo))
    cpuinfo.write_text("processor : 0\nflags : fpu sse avx2\n")
    assert not precision.cpu_supports_bfloat16(str(cpuinfo))
    assert not precision.cpu_supports_bfloat16(str(tmp_path / "none"))


def test_xla_only_on_gpu_with_one_device():
    assert choose_jit_compile("auto", "default", has_gpu=True)
    assert not choose_jit_compile("auto", "default", has_gpu=False)
    assert not choose_jit_compile("auto", "mirrored", has_gpu=True)
    assert choose_jit_compile("on", "mirrored", has_gpu=False)
    assert not choose_jit_compile("off", "default", has_gpu=True)


def test_dtype_policy_is_restored_even_on_error():
    keras.config.set_dtype_policy("float32")
    with pytest.raises(RuntimeError):
        with precision.dtype_policy("mixed_bfloat16"):
            assert keras.config.dtype_policy().name == "mixed_bfloat16"
            raise RuntimeError
    assert keras.config.dtype_policy().name == "float32"


def test_strategy_choice_without_cluster(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    for name in strategy.TPU_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    choice = choose_strategy("auto")
    assert (choice.kind, choice.replicas, choice.is_chief, choice.distributed) == ("default", 1, True, False)
    with pytest.raises(KerasResnetError, match="supported"):
        choose_strategy("horovod")


def test_tf_config_parsing(monkeypatch):
    cluster = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 1}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    assert strategy.cluster_workers(strategy.tf_config()) == 2
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(KerasResnetError, match="TF_CONFIG is not valid JSON"):
        strategy.tf_config()


def test_tpu_requested_without_tpu_fails_clearly(monkeypatch):
    for name in strategy.TPU_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(KerasResnetError, match="found no usable TPU"):
        choose_strategy("tpu")


# ---- the multi-worker fix's guards (the fix itself runs in test_training_distributed.py) -----------

def test_multiworker_fix_recognises_this_keras_and_refuses_others(monkeypatch):
    assert multiworker_fix.looks_broken() == (True, "")
    monkeypatch.setattr(keras, "__version__", "3.99.0")
    broken, why = multiworker_fix.looks_broken()
    assert not broken and "outside the versions" in why
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.warns(UserWarning, match="20585"):
        assert multiworker_fix.apply(model) is False
    assert "_maybe_symbolic_build" not in vars(model)


# ---- weight decay --------------------------------------------------------------------------------

def test_weight_decay_only_on_kernels():
    model = build_network("resnet8", (16, 16, 3), 2)
    decayed = {v.path for v in decayed_variables(model)}
    kept = {v.path for v in excluded_variables(model)}
    assert decayed and all(path.endswith("kernel") for path in decayed)
    assert any(path.endswith("gamma") for path in kept) and any(path.endswith("bias") for path in kept)
    assert all(path.endswith(("gamma", "beta", "bias")) for path in kept)

    make_optimizer(model, resolve_config(optimizer="sgd", weight_decay=1e-4), 0.1)
    assert len(model.losses) == len(decayed)  # one L2 term per kernel, none on BN or bias

    model = build_network("resnet8", (16, 16, 3), 2)
    optimizer = make_optimizer(model, resolve_config(optimizer="adamw", weight_decay=0.5), 1.0)
    before = {v.path: keras.ops.convert_to_numpy(v) for v in model.trainable_variables}
    optimizer.apply([keras.ops.zeros_like(v) for v in model.trainable_variables], model.trainable_variables)
    for variable in model.trainable_variables:
        changed = not np.allclose(before[variable.path], keras.ops.convert_to_numpy(variable))
        shrinks = variable.path in decayed and np.any(before[variable.path] != 0)
        assert changed == shrinks, variable.path


# ---- models ------------------------------------------------------------------------------------------

def test_build_network_any_cifar_depth():
    assert build_network("resnet8", (16, 16, 3), 3).output_shape == (None, 3)
    plain = build_network("plain8", (16, 16, 3), 3)
    assert not any(type(layer).__name__ == "Add" for layer in plain.layers)
    with pytest.raises(KerasResnetError, match="6n\\+2"):
        build_network("resnet9", (16, 16, 3), 3)
    with pytest.raises(KerasResnetError, match="unknown model"):
        build_network("vgg16", (16, 16, 3), 3)


# ---- a whole run -----------------------------------------------------------------------------------

def test_run_directory_is_complete(finished_run, toy):
    run_dir = finished_run.run_dir
    names = set(os.listdir(run_dir))
    assert {"config.json", "labels.txt", "history.json", "history.png", "metrics.json", "model.keras",
            "checkpoints", "logs"} <= names
    assert not [name for name in names if name.startswith(".")]  # no temporary files left behind
    config = json.load(open(os.path.join(run_dir, "config.json")))
    assert config["model"] == "resnet8" and config["data"] == toy
    assert config["resolved"]["precision"] == "mixed_bfloat16" and config["resolved"]["global_batch_size"] == 16
    assert open(os.path.join(run_dir, "labels.txt")).read().split() == ["0", "1"]
    with open(os.path.join(run_dir, "history.png"), "rb") as file:
        assert file.read(8) == b"\x89PNG\r\n\x1a\n"
    assert any(files for _, _, files in os.walk(os.path.join(run_dir, "logs")))


def test_history_shows_learning(finished_run):
    history = json.load(open(os.path.join(finished_run.run_dir, "history.json")))
    assert history == finished_run.history
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"):
        assert len(history[key]) == 3, key
    assert history["loss"][-1] < history["loss"][0]
    # lr 0.2 for batch 128 -> 0.025 at batch 16, /10 after half of 3 x 3 steps
    assert history["learning_rate"][0] == pytest.approx(0.025) and history["learning_rate"][-1] < 0.003
    assert history["step"] == [3, 6, 9] and all(seconds > 0 for seconds in history["epoch_seconds"])


def test_metrics_and_float32_model(finished_run):
    metrics = json.load(open(os.path.join(finished_run.run_dir, "metrics.json")))
    assert metrics["completed"] and metrics["test_images"] == 16
    assert metrics["test_accuracy"] >= 0.75  # dark vs bright images: far above chance after three epochs
    assert metrics["test_accuracy"] * 16 == pytest.approx(round(metrics["test_accuracy"] * 16))  # k of 16 images
    assert metrics["train_images"] == 48 and metrics["validation_images"] == 16
    model = keras.saving.load_model(finished_run.model_path)
    assert all(layer.dtype_policy.name == "float32" for layer in model.layers)
    for saved, returned in zip(model.get_weights(), finished_run.model.get_weights()):
        np.testing.assert_array_equal(saved, returned)


def test_caller_dtype_policy_survives_training(finished_run):
    assert keras.config.dtype_policy().name == "float32"  # the run trained in mixed_bfloat16


def test_finished_run_is_not_silently_retrained(finished_run, toy):
    with pytest.raises(KerasResnetError, match="already holds a finished run"):
        train(data=toy, run_dir=finished_run.run_dir, **{**FAST, "precision": "mixed_bfloat16", "epochs": 3,
                                                          "learning_rate": 0.2})


def test_resume_checks_options_and_resumes(toy, tmp_path):
    run_dir = str(tmp_path / "run")
    first = train(data=toy, run_dir=run_dir, **FAST)
    os.remove(os.path.join(run_dir, "metrics.json"))  # as if killed after the last checkpoint
    with pytest.raises(KerasResnetError, match="other options.*batch_size"):
        train(data=toy, run_dir=run_dir, **{**FAST, "batch_size": 8})
    config_path = os.path.join(run_dir, "config.json")
    saved = json.load(open(config_path))
    for key, value, words in (("global_batch_size", 32, "global batch of 32"),
                              ("precision", "mixed_float16", "--precision mixed_float16")):
        json.dump({**saved, "resolved": {**saved["resolved"], key: value}}, open(config_path, "w"))
        with pytest.raises(KerasResnetError, match=words):  # another machine: more replicas, other precision
            train(data=toy, run_dir=run_dir, **FAST)
    json.dump(saved, open(config_path, "w"))
    state = run_callbacks.read_checkpoint_state(os.path.join(run_dir, "checkpoints"))
    good = open(state["path"], "rb").read()
    open(state["path"], "wb").write(b"not an h5 file")
    with pytest.raises(KerasResnetError, match="does not fit this model"):
        train(data=toy, run_dir=run_dir, **FAST)
    open(state["path"], "wb").write(good)
    again = train(data=toy, run_dir=run_dir, **FAST)
    assert again.metrics["resumed_from"] == {"epochs_done": 2, "step": 6}
    assert again.history == first.history  # nothing retrained: history restored from the checkpoint
    for a, b in zip(first.model.get_weights(), again.model.get_weights()):
        np.testing.assert_array_equal(a, b)


class _KillAt(keras.callbacks.Callback):
    """Stops the process's training as a kill would, just before batch ``step`` of epoch ``epoch``."""

    def __init__(self, epoch, step):
        super().__init__()
        self.epoch, self.step, self.current = epoch, step, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.current, batch) == (self.epoch, self.step):
            raise KeyboardInterrupt


@pytest.mark.parametrize("options", [{"augment": "crop"}, {"augment": "cifar", "ema": True, "ema_momentum": 0.5}])
def test_a_run_killed_mid_epoch_resumes_exactly(toy, tmp_path, options):
    """Same batches, augmentations, learning rates and optimizer state as if it had never stopped."""
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    settings = {**FAST, "epochs": 3, "checkpoint_steps": 1, "learning_rate": 0.3, **options}
    uninterrupted = train(data=toy, run_dir=str(tmp_path / "whole"), **settings)
    run_dir = str(tmp_path / "killed")
    with pytest.raises(KeyboardInterrupt):
        train(data=toy, run_dir=run_dir, callbacks=[_KillAt(epoch=1, step=2)], **settings)
    state = run_callbacks.read_checkpoint_state(os.path.join(run_dir, "checkpoints"))
    assert (state["epochs_done"], state["steps_in_epoch"], state["step"]) == (1, 2, 5)  # 3 steps per epoch
    resumed = train(data=toy, run_dir=run_dir, **settings)
    assert resumed.metrics["resumed_from"] == {"epochs_done": 1, "step": 5}
    assert resumed.history["learning_rate"] == pytest.approx(uninterrupted.history["learning_rate"])
    for a, b in zip(uninterrupted.model.get_weights(), resumed.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(uninterrupted.model.get_weights()[0], train(
        data=toy, run_dir=str(tmp_path / "other_seed"), **{**settings, "seed": 1}).model.get_weights()[0])


def test_every_option_path_runs(toy, tmp_path):
    """AdamW, cosine + warm-up, label smoothing, EMA, mid-epoch checkpoints, model options, no validation."""
    result = train(data=toy, run_dir=str(tmp_path / "run"), **{
        **FAST, "optimizer": "adamw", "schedule": "cosine", "warmup_epochs": 1, "label_smoothing": 0.1,
        "ema": True, "ema_momentum": 0.5, "checkpoint_steps": 2, "validation_split": 0, "augment": "auto",
        "model_options": {"zero_init_residual": True}, "steps_per_epoch": 3})
    assert result.config.augment == "cifar"  # colour images under 128 px
    assert "val_loss" not in result.history and len(result.history["loss"]) == 2
    assert result.metrics["steps_per_epoch"] == 3 and "test_accuracy" in result.metrics
    state = run_callbacks.read_checkpoint_state(os.path.join(result.run_dir, "checkpoints"))
    assert state["epochs_done"] == 2 and state["step"] == 6


def test_given_splits_extra_callbacks_and_total_steps(toy, tmp_path):
    """Data handed over in memory, an extra per-epoch evaluation in the history, a length in steps with a
    constant warm-up; config.json records what the data was, and the run resumes from it."""
    loaded = load_dataset(toy, validation_split=0)
    subset = DatasetSplits(loaded.class_names, train=loaded.train.take(np.arange(32)), test=loaded.test)
    evaluation = EpochEvaluation({"train_subset": make_pipeline(subset.train, batch_size=16, training=False)})
    options = {**FAST, "validation_split": 0, "total_steps": 8, "warmup_steps": 3, "warmup_learning_rate": 0.05,
               "data": toy, "run_dir": str(tmp_path / "run")}
    result = train(splits=subset, callbacks=[evaluation], **options)
    history = result.history  # 32 images in batches of 16: 2 steps per epoch, so 4 epochs reach 8 steps
    assert result.config.epochs == 4 and history["step"] == [2, 4, 6, 8]
    assert len(history["train_subset_accuracy"]) == 4
    expected = keras.metrics.SparseCategoricalAccuracy()  # the last entry is the final model on the same 32 images
    expected.update_state(subset.train.labels, result.model.predict(subset.train.images, verbose=0))
    assert history["train_subset_accuracy"][-1] == pytest.approx(float(expected.result()), abs=1e-6)
    assert "train_subset_loss" in history and "val_loss" not in history
    # warm-up at 0.05 x 16/128 until step 3, then 0.1 x 16/128, /10 at steps 4 and 6 (of 8)
    assert history["learning_rate"] == pytest.approx([0.00625, 0.00125, 0.000125, 0.000125])
    assert result.metrics["train_images"] == 32 and result.metrics["test_images"] == 16
    saved = json.load(open(os.path.join(result.run_dir, "config.json")))
    assert saved["data"] == toy and (saved["epochs"], saved["total_steps"]) == (4, 8)
    assert saved["resolved"]["given_splits"] == {"train_images": 32, "test_images": 16}
    assert saved["resolved"]["parameters"] == result.model.count_params() == result.metrics["parameters"]
    os.remove(os.path.join(result.run_dir, "metrics.json"))  # as if killed after the last checkpoint
    again = train(splits=subset, callbacks=[evaluation], **options)  # the derived epochs compare equal
    assert again.metrics["resumed_from"] == {"epochs_done": 4, "step": 8} and again.history == history
    with pytest.raises(KerasResnetError, match="DatasetSplits"):
        train(splits=(loaded.train.images, loaded.train.labels), **options)
    with pytest.raises(KerasResnetError, match="image_size and channels"):
        train(splits=subset, **{**options, "image_size": 8})


def test_user_errors_from_data_and_model(toy, tmp_path):
    with pytest.raises(KerasResnetError, match="no dataset"):
        train(data=str(tmp_path / "missing"), run_dir=str(tmp_path / "a"), **FAST)
    with pytest.raises(KerasResnetError, match="unknown model"):
        train(data=toy, run_dir=str(tmp_path / "b"), **{**FAST, "model": "alexnet"})


def test_unknown_model_is_refused_before_anything_is_read_or_written(tmp_path):
    from keras_resnet.cli import main

    result = CliRunner().invoke(main, ["train", "--model", "resnet21", "--data", str(tmp_path / "missing"),
                                       "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "unknown model 'resnet21'" in result.output  # not the missing data: the model is checked first
    assert not os.path.exists(tmp_path / "run")


def test_run_records_its_data_recipe_and_the_heldout_fingerprint(tmp_path):
    from keras_resnet.data import load_dataset, split_fingerprint
    from keras_resnet.run_directory import RunDirectory

    folder = tmp_path / "photos"  # no test/ folder: the held-out split is carved with the run's own seed
    rng = np.random.default_rng(0)
    for label in ("dark", "light"):
        (folder / label).mkdir(parents=True)
        for index in range(10):
            pixels = rng.integers(0, 100, (8, 8, 3)) + (120 if label == "light" else 0)
            Image.fromarray(pixels.astype(np.uint8)).save(folder / label / f"{index}.png")
    run_dir = str(tmp_path / "run")
    train(data=str(folder), run_dir=run_dir, **{**FAST, "validation_split": 0.3, "seed": 5, "epochs": 1})
    recorded = RunDirectory(run_dir).read_data()
    assert recorded["recipe"] == {"data": str(folder), "data_dir": None, "image_size": None, "channels": None,
                                  "validation_split": 0.3, "seed": 5, "on_bad_image": "error", "label_offset": 0,
                                  "stream": False}
    same = load_dataset(str(folder), validation_split=0.3, seed=5)
    other_seed = load_dataset(str(folder), validation_split=0.3, seed=0)
    assert recorded["heldout"] == {"split": "validation", **split_fingerprint(same, "validation")}
    assert recorded["heldout"]["count"] == 6
    assert recorded["heldout"]["sha256"] != split_fingerprint(other_seed, "validation")["sha256"]


def test_stream_auto_follows_the_decoded_size_against_free_memory(tmp_path, monkeypatch):
    from keras_resnet.data import memory

    folder = tmp_path / "photos"
    for label in ("a", "b"):
        (folder / label).mkdir(parents=True)
        for index in range(3):
            Image.fromarray(np.full((20, 10, 3), index * 40, np.uint8)).save(folder / label / f"{index}.png")
    found = memory.estimate(str(folder), image_size=None, channels=1)
    assert found.decoded_bytes == 6 * 20 * 10 * 1  # six images, header-read size, one channel
    assert memory.estimate(str(folder), image_size=4, channels=None).decoded_bytes == 6 * 4 * 4 * 3
    assert memory.estimate("bundled") is None  # arrays in memory already
    monkeypatch.setattr(memory, "available_memory", lambda: 2 * found.decoded_bytes)
    assert memory.estimate(str(folder), channels=1).fits
    monkeypatch.setattr(memory, "available_memory", lambda: found.decoded_bytes)
    assert not memory.estimate(str(folder), channels=1).fits
    result = train(data=str(folder), run_dir=str(tmp_path / "run"), **{**FAST, "epochs": 1, "channels": 1,
                                                                       "validation_split": 0.34})
    assert result.metrics["stream"] is True  # too big for the (pretended) free memory: read from disk


# ---- NaN: stop, keep the last good checkpoint ----------------------------------------------------------

def test_nan_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    x = np.ones((32, 4), "float32")
    x[16:20] = np.nan  # batch 5 of 8 (batch size 4) poisons the loss
    y = np.zeros(32, "int32")
    guard = run_callbacks.NanGuard()
    recorder = run_callbacks.HistoryRecorder(str(tmp_path), write=False)
    checkpoint = run_callbacks.RunCheckpoint(str(tmp_path / "ckpt"), recorder, guard, every_steps=1)
    model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, callbacks=[guard, recorder, checkpoint])
    assert guard.failure[:2] == (0, 4) and "loss" in guard.failure[2]
    state = run_callbacks.read_checkpoint_state(str(tmp_path / "ckpt"))
    assert state["step"] == 4 and state["epochs_done"] == 0  # written after step 4, none after the NaN
    model.load_weights(state["path"])
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())


def test_divergence_is_its_own_error(toy, tmp_path):
    run_dir = str(tmp_path / "run")
    with pytest.raises(TrainingDiverged, match="diverged") as error:
        train(data=toy, run_dir=run_dir, **{**FAST, "learning_rate": 1e6})
    assert isinstance(error.value, KerasResnetError) and error.value.run_dir == run_dir
    history = json.load(open(os.path.join(run_dir, "history.json")))  # up to the epoch that diverged
    assert history["loss"] and not os.path.exists(os.path.join(run_dir, "model.keras"))


def test_cli_nan_exits_nonzero_with_one_line(toy, tmp_path):
    from keras_resnet.cli import main

    result = CliRunner().invoke(main, ["train", "--data", toy, "--model", "resnet8", "--learning-rate", "1e6",
                                       "--epochs", "2", "--batch-size", "16", "--precision", "float32",
                                       "--run-dir", str(tmp_path / "run"), "--verbose", "0", "--no-tensorboard"])
    assert result.exit_code == 1, result.output
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and "diverged" in error[0] and "--learning-rate" in error[0]
    assert "Traceback" not in result.output
    assert not os.path.exists(tmp_path / "run" / "model.keras")


def test_cli_options_and_config_file(toy, tmp_path):
    from keras_resnet.cli import main

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"model": "resnet8", "data": toy, "epochs": 5, "batch_size": 16,
                                      "precision": "float32", "tensorboard": False, "verbose": 0,
                                      "steps_per_epoch": 2, "validation_split": 0}))
    result = CliRunner().invoke(main, ["train", "--config", str(config), "--epochs", "1", "--image-size", "8x8",
                                       "--model-option", "zero_init_residual=true",
                                       "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["run_dir"] == str(tmp_path / "run") and "test_accuracy" in summary
    saved = json.load(open(tmp_path / "run" / "config.json"))
    assert (saved["epochs"], saved["image_size"], saved["model_options"]) == (1, [8, 8], {"zero_init_residual": True})
    bad = CliRunner().invoke(main, ["train", "--model-option", "oops"])
    assert bad.exit_code == 1 and "KEY=VALUE" in bad.output
    bad = CliRunner().invoke(main, ["train", "--config", str(config), "--epochs", "0"])
    assert bad.exit_code == 1 and "epochs=0" in bad.output and "Traceback" not in bad.output


# ---- atomic writes -----------------------------------------------------------------------------------

def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "model.keras"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            assert temporary.endswith(".keras") and os.path.dirname(temporary) == str(tmp_path)
            open(temporary, "w").write("half")
            raise RuntimeError
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["model.keras"]
    write_json(tmp_path / "x.json", {"a": np.float32(1.5), "b": math.inf})
    assert json.load(open(tmp_path / "x.json"))["a"] == 1.5
