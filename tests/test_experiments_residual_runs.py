"""The four residual-learning experiments end to end on a tiny budget (depth 8/14 nets, 200 bundled digits, 1-2
epochs): their three files, the numbers their conclusions rest on, resuming without retraining, and the CLI."""

import json

import pytest
from click.testing import CliRunner
from test_experiments import TINY, check_files

from keras_resnet.experiments import (construction, run_construction, run_one_layer_shortcuts, run_signal_propagation,
                                      run_vanishing_gradients, runner, signal_propagation)
from keras_resnet.run_directory import RunDirectory
from keras_resnet.training import callbacks as run_callbacks

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def must_not_train(*args, **kwargs):
    raise AssertionError("a finished model was trained again")


def test_vanishing_gradients_end_to_end_then_resume_without_retraining(tmp_path, monkeypatch):
    result = run_vanishing_gradients(tmp_path, depths=(8, 14), **TINY)
    state = check_files(result, "vanishing-gradients", ["vanishing-gradients.png"])
    assert list(state["models"]) == ["plain8", "plain14", "resnet8", "resnet14"]
    for record in state["models"].values():
        assert [m["epoch"] for m in record["measurements"]] == [0, 1]
        units = record["measurements"][0]["units"]
        assert len(units) == 3 * (record["spec"]["options"]["depth"] - 2) // 6
        assert all(unit["gradient"] > 0 and unit["std"] > 0 for unit in units.values())
    summary = state["summary"]
    deep = summary["models"]["plain14"]
    assert summary["deep_plain"] == "plain14"
    assert summary["deep_plain_vanished"] == (deep["smallest_unit_ratio"] < summary["criterion"]["vanishing_ratio"])
    assert "Criterion." in result.markdown and "Sec. 4.1" in result.markdown
    monkeypatch.setattr(runner, "_train_one", must_not_train)
    assert run_vanishing_gradients(tmp_path, depths=(8, 14), **TINY).records == result.records


def test_one_layer_shortcuts_end_to_end_then_resume_without_retraining(tmp_path, monkeypatch):
    result = run_one_layer_shortcuts(tmp_path, depth=8, **TINY)
    state = check_files(result, "one-layer-shortcuts", ["one-layer-shortcuts.png"])
    assert list(state["models"]) == ["plain8", "one_layer8", "two_layer8"]
    assert len({record["parameters"] for record in state["models"].values()}) == 1  # the same layers
    assert "| ResNet-8, one-layer units | 1 |" in result.markdown and "Sec. 3.2" in result.markdown
    monkeypatch.setattr(runner, "_train_one", must_not_train)
    assert run_one_layer_shortcuts(tmp_path, depth=8, **TINY).records == result.records


def test_construction_starts_at_the_shallow_nets_errors_and_resumes(tmp_path, monkeypatch):
    """The grown net's first measurement, inside train(), equals the shallow net's errors; an interrupted grown
    run resumes from its checkpoint, not from the start weights again."""
    settings = dict(shallow_depth=8, deep_depth=14, families="residual", continue_epochs=2, **TINY)
    real_epoch_end = run_callbacks.RunCheckpoint.on_epoch_end

    def interrupt_the_grown_net(self, epoch, logs=None):
        real_epoch_end(self, epoch, logs)
        if "resnet14_grown" in self.directory:
            raise KeyboardInterrupt

    monkeypatch.setattr(run_callbacks.RunCheckpoint, "on_epoch_end", interrupt_the_grown_net)
    with pytest.raises(KeyboardInterrupt):
        run_construction(tmp_path, **settings)
    monkeypatch.undo()
    starts, real_start_from = [], runner.StartFrom
    monkeypatch.setattr(runner, "StartFrom", lambda path: starts.append(path) or real_start_from(path))
    result = run_construction(tmp_path, **settings)
    state = check_files(result, "construction", ["construction.png"])
    assert list(state["models"]) == ["resnet8", "resnet14_grown", "resnet8_continued"]
    assert [path.rsplit("/", 1)[-1] for path in starts] == ["resnet8_continued.weights.h5"]  # grown: checkpoint
    grown = RunDirectory(str(tmp_path / "runs" / "resnet14_grown"))
    assert grown.read_metrics()["resumed_from"]["epochs_done"] == 1
    family = state["summary"]["families"]["residual"]
    first = state["models"]["resnet14_grown"]["measurements"][0]
    assert family["started_exactly_at_shallow"]
    assert {key: first[key] for key in ("train_error", "test_error")} == family["shallow_errors"]
    assert family["max_output_difference"] == {"inference": 0.0, "training": 0.0} and family["added_units"] == 3
    assert [m["epoch"] for m in state["models"]["resnet14_grown"]["measurements"]] == [0, 1, 2]
    assert "started at exactly ResNet-8's errors" in result.markdown and "Sec. 1" in result.markdown
    monkeypatch.setattr(runner, "_train_one", must_not_train)
    monkeypatch.setattr(construction, "prepare_start", must_not_train)
    assert run_construction(tmp_path, **settings).records == result.records


def test_signal_propagation_end_to_end_then_resume_without_retraining(tmp_path, monkeypatch):
    settings = dict(variants="original,preactivation,constant_scaling", depths="8,14", trained="constant_scaling",
                    depth=8, **TINY)
    result = run_signal_propagation(tmp_path, **settings)
    state = check_files(result, "signal-propagation", ["signal-propagation.png"])
    rows = state["summary"]["at_initialisation"]
    assert rows["preactivation"]["zero_branches"] == pytest.approx([1.0, 1.0], rel=1e-5)
    assert rows["constant_scaling"]["formula"] == [1.0, 0.125]
    assert rows["constant_scaling"]["relative_matches_formula"] == [True, True]
    assert [m["epoch"] for m in state["models"]["constant_scaling"]["measurements"]] == [0, 1]
    assert "Sec. 2 and 3.1" in result.markdown
    monkeypatch.setattr(runner, "_train_one", must_not_train)
    monkeypatch.setattr(signal_propagation, "SignalProbe", must_not_train)  # nor measured again at initialisation
    assert run_signal_propagation(tmp_path, **settings).records == result.records


def test_cli_runs_the_new_experiments_and_reports_user_errors(tmp_path):
    from keras_resnet.cli import main

    out = tmp_path / "cli"
    arguments = ["experiment", "signal-propagation", "--variants", "original,constant_scaling", "--depths", "8,14",
                 "--trained", "none", "--train-images", "100", "--out", str(out), "--quiet"]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    assert "Report:" in result.output and (out / "signal-propagation.png").exists()
    with open(out / "signal-propagation.json", encoding="utf-8") as file:
        assert json.load(file)["models"] == {}
    for arguments, message in ((["construction", "--deep-depth", "8", "--shallow-depth", "14"], "must exceed"),
                               (["signal-propagation", "--depths", "20,21"], "6n+2"),
                               (["one-layer-shortcuts", "--depth", "21"], "6n+2"),
                               (["vanishing-gradients", "--depths", "20"], "at least two depths")):
        bad = CliRunner().invoke(main, ["experiment", *arguments, "--out", str(tmp_path / "bad"), "--quiet"])
        assert bad.exit_code == 1 and bad.output.startswith("Error: ") and message in bad.output, bad.output
        assert len(bad.output.strip().splitlines()) == 1
