"""Each experiment end to end on a tiny budget (depth-8/14 nets, 200 bundled digits, 1-2 epochs): the files
it writes, one training run directory per model, resuming (finished models are not retrained, an interrupted
one continues from its checkpoint), and the CLI."""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from keras_resnet.errors import KerasResnetError
from keras_resnet.experiments import run_activations, run_degradation, run_identity, run_shortcuts, runner
from keras_resnet.run_directory import RunDirectory
from keras_resnet.training import callbacks as run_callbacks

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

TINY = dict(data="bundled", epochs=1, train_images=200, seed=0, verbose=0)


def check_files(result, name, pngs):
    """JSON, Markdown and PNG files exist, are complete and parse; returns the JSON."""
    folder = result.folder
    assert result.paths["json"] == os.path.join(folder, f"{name}.json")
    with open(result.paths["json"], encoding="utf-8") as file:
        state = json.load(file)
    assert state["experiment"] == name and state["summary"]["sentences"]
    assert state["files"] == {"markdown": f"{name}.md", "figures": pngs}
    with open(result.paths["md"], encoding="utf-8") as file:
        markdown = file.read()
    assert markdown.startswith("# ") and "| " in markdown and "Setup: data `bundled` (" in markdown
    for sentence in state["summary"]["sentences"]:
        assert sentence in markdown
    for png in pngs:
        with open(os.path.join(folder, png), "rb") as file:
            assert file.read(8) == b"\x89PNG\r\n\x1a\n"
        from matplotlib.image import imread

        assert imread(os.path.join(folder, png)).shape[0] > 100
    leftovers = [entry for entry in os.listdir(folder) if entry.startswith(".")]
    assert not leftovers, f"temporary files left behind: {leftovers}"
    for name, record in state["models"].items():  # each model is a complete training run of its own
        run = RunDirectory(os.path.join(folder, record["run_dir"]))
        assert record["run_dir"] == os.path.join("runs", name) and run.is_finished() and run.has_model()
        config = run.read_config()  # what the data was: the source, and the subset handed to train in memory
        assert config["data"] == "bundled" and config["validation_split"] == 0.0
        assert config["resolved"]["given_splits"] == {"train_images": state["config"]["data"]["train_images"],
                                                      "test_images": state["config"]["data"]["test_images"]}
        assert config["resolved"]["parameters"] == record["parameters"]
        history = json.load(open(run.history_path, encoding="utf-8"))
        assert [100.0 * (1.0 - value) for value in history["train_subset_accuracy"]] == record["history"][
            "train_error"]
    return state


def test_degradation_end_to_end_then_resume_without_retraining(tmp_path, monkeypatch):
    out = tmp_path / "degradation"
    result = run_degradation(out, depths=(8, 14), **TINY)
    state = check_files(result, "degradation", ["degradation.png"])
    assert list(state["models"]) == ["plain8", "plain14", "resnet8", "resnet14"]
    for name, record in state["models"].items():
        history = record["history"]
        assert record["status"] == "finished" and history["epoch"] == [1]
        data = state["config"]["data"]  # each error is k wrong images of the set it was measured on, in percent
        for key, count in (("train_error", data["train_eval_images"]), ("test_error", data["test_images"])):
            wrong = history[key][0] * count / 100
            assert wrong == pytest.approx(round(wrong), abs=1e-3) and 0 < round(wrong) < count, key
    models = state["models"]
    assert models["plain14"]["parameters"] == models["resnet14"]["parameters"]
    assert state["config"]["data"]["train_images"] == 200 and state["config"]["budget"]["epochs"] == 1
    # The conclusion follows the recorded numbers.
    plain_gap = models["plain14"]["history"]["train_error"][-1] - models["plain8"]["history"]["train_error"][-1]
    assert state["summary"]["degradation_observed"] == (plain_gap >= state["summary"]["margin_points"])

    def must_not_train(*args, **kwargs):
        raise AssertionError("a finished model was trained again")

    monkeypatch.setattr(runner, "_train_one", must_not_train)
    again = run_degradation(out, depths=(8, 14), **TINY)
    assert again.records == result.records
    # Killed after a model finished but before the JSON recorded it: its run directory is read, not retrained.
    monkeypatch.undo()
    monkeypatch.setattr(runner, "train", must_not_train)
    with open(result.paths["json"], encoding="utf-8") as file:
        saved = json.load(file)
    del saved["models"]["resnet14"]
    with open(result.paths["json"], "w", encoding="utf-8") as file:
        json.dump(saved, file)
    assert run_degradation(out, depths=(8, 14), **TINY).records == result.records
    # A third depth trains only the new pair; the others come from the folder.
    monkeypatch.undo()
    trained = []
    original = runner._train_one
    monkeypatch.setattr(runner, "_train_one", lambda state, spec, *a, **k: trained.append(spec.name) or
                        original(state, spec, *a, **k))
    run_degradation(out, depths=(8, 14, 20), **TINY)
    assert trained == ["plain20", "resnet20"]


def test_other_settings_in_the_same_folder_are_refused(tmp_path):
    run_identity(tmp_path, depth=8, **TINY)
    with pytest.raises(KerasResnetError, match="other settings .*budget"):
        run_identity(tmp_path, depth=8, **{**TINY, "epochs": 2})


def test_identity_end_to_end_resumes_an_interrupted_model(tmp_path, monkeypatch):
    real_epoch_end = run_callbacks.RunCheckpoint.on_epoch_end

    def interrupt_after_first_checkpoint(self, epoch, logs=None):
        real_epoch_end(self, epoch, logs)
        raise KeyboardInterrupt

    monkeypatch.setattr(run_callbacks.RunCheckpoint, "on_epoch_end", interrupt_after_first_checkpoint)
    settings = {**TINY, "epochs": 2}
    with pytest.raises(KeyboardInterrupt):
        run_identity(tmp_path, depth=8, **settings)
    run = RunDirectory(str(tmp_path / "runs" / "default_init"))
    checkpoint = run_callbacks.read_checkpoint_state(run.checkpoints_dir)
    assert checkpoint["epochs_done"] == 1 and not run.is_finished()
    with open(run.file(runner.MEASUREMENTS_FILE), encoding="utf-8") as file:
        assert [m["epoch"] for m in json.load(file)] == [0, 1]
    with open(tmp_path / "identity.json", encoding="utf-8") as file:
        assert json.load(file)["models"] == {}  # a model enters the JSON once it has finished
    monkeypatch.undo()

    result = run_identity(tmp_path, depth=8, **settings)
    state = check_files(result, "identity", ["identity.png"])
    # default_init continued from its checkpoint: epoch 1 is the interrupted run's, only epoch 2 was trained now
    assert run.read_metrics()["resumed_from"] == {"epochs_done": 1, "step": 4}
    first_epoch = state["models"]["default_init"]["history"]["train_error"][0]
    assert first_epoch == 100.0 * (1.0 - checkpoint["history"]["train_subset_accuracy"][0])
    assert RunDirectory(str(tmp_path / "runs" / "zero_init")).read_metrics()["resumed_from"] is None
    for name in ("default_init", "zero_init"):
        record = state["models"][name]
        assert record["history"]["epoch"] == [1, 2]
        assert [m["epoch"] for m in record["measurements"]] == [0, 1, 2]
        assert list(record["measurements"][0]["ratios"]) == ["conv2_block1", "conv3_block1", "conv4_block1"]
    zero_start = state["models"]["zero_init"]["measurements"][0]["ratios"]
    assert all(value == 0.0 for value in zero_start.values())
    assert state["summary"]["settings"]["zero_init"]["initial_max"] == 0.0
    assert all(v > 0 for v in state["models"]["default_init"]["measurements"][0]["ratios"].values())


def test_a_diverged_model_is_recorded_as_such_and_not_retrained(tmp_path, monkeypatch):
    from keras_resnet.experiments.recipes import PAPERS_SGD, Recipe

    explosive = Recipe("explosive", {**PAPERS_SGD, "learning_rate": 1e6, "batch_size": 64, "epochs": 3},
                       train_images=200, train_eval_images=100)
    settings = {**TINY, "epochs": None, "recipe": explosive}
    result = run_shortcuts(tmp_path, variants="original,dropout", depth=8, **settings)
    for record in result.records.values():
        assert record["status"] == "finished" and record["diverged"]
        assert 1 <= len(record["history"]["epoch"]) < 3  # stopped in the epoch the loss became NaN
    assert "| diverged |" in result.markdown and "Diverged (loss became NaN)" in result.markdown
    monkeypatch.setattr(runner, "train", lambda *args, **kwargs: pytest.fail("a diverged model was retrained"))
    assert run_shortcuts(tmp_path, variants="original,dropout", depth=8, **settings).records == result.records


def test_shortcuts_end_to_end(tmp_path):
    result = run_shortcuts(tmp_path, variants="original,exclusive_gating,dropout", depth=8, **TINY)
    state = check_files(result, "shortcuts", ["shortcuts.png"])
    assert list(state["models"]) == ["original", "exclusive_gating", "dropout"]
    assert state["summary"]["baseline"] == "original"
    assert set(state["summary"]["ranking_by_test_error"]) == {"original", "exclusive_gating", "dropout"}
    markdown = open(result.paths["md"], encoding="utf-8").read()
    assert "| original | 1 | 1 |" in markdown and "| 6.61 |" in markdown and "| fail |" in markdown
    assert "not comparable in absolute terms" in markdown


def test_activations_end_to_end(tmp_path):
    result = run_activations(tmp_path, variants=["post_activation", "full_preactivation"], depth=8, **TINY)
    state = check_files(result, "activations", ["activations.png"])
    assert [r["spec"]["options"]["version"] for r in state["models"].values()] == ["post_activation",
                                                                                  "full_preactivation"]
    markdown = open(result.paths["md"], encoding="utf-8").read()
    assert "6.37 | 5.46 |" in markdown and "6.61 | 5.93 |" in markdown


def test_cli_runs_an_experiment_and_reports_user_errors(tmp_path):
    from keras_resnet.cli import main

    out = tmp_path / "cli"
    arguments = ["experiment", "identity", "--depth", "8", "--epochs", "1", "--train-images", "100", "--out",
                 str(out), "--quiet"]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    assert "Report:" in result.output and (out / "identity.md").exists() and (out / "identity.png").exists()
    bad = CliRunner().invoke(main, ["experiment", "shortcuts", "--variants", "original,teleport", "--out",
                                    str(tmp_path / "bad"), "--quiet"])
    assert bad.exit_code == 1 and bad.output.startswith("Error: unknown shortcut variant(s) 'teleport'")
    assert len(bad.output.strip().splitlines()) == 1
    depth = CliRunner().invoke(main, ["experiment", "degradation", "--depths", "20,21", "--quiet"])
    assert depth.exit_code == 1 and "6n+2" in depth.output


def test_probe_batch_is_fixed_and_spans_classes(tmp_path):
    from keras_resnet.experiments.data import load_experiment_data
    from keras_resnet.experiments.recipes import get_recipe

    recipe = get_recipe("tiny", train_images=200)
    first, second = (load_experiment_data("bundled", recipe, seed=0) for _ in range(2))
    assert np.array_equal(first.probe_batch(), second.probe_batch())
    assert len(set(first.train_eval.labels[:128].tolist())) == 10
    assert first.augment == "crop"  # digits are never mirrored
