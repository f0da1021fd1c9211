"""Every command of keras-resnet on values a user can type wrong: one line, exit 1, no traceback, nothing written.

(export, evaluate, predict and benchmark have their own, longer list in test_export_cli.py.)
"""

import os

import pytest
from click.testing import CliRunner

from keras_resnet.cli import main

BAD = [
    # train: zero, negative, huge, wrong type, missing files, unknown names
    (["train", "--epochs", "0"], "epochs"),
    (["train", "--epochs", "-3"], "epochs"),
    (["train", "--epochs", "ten"], "epochs"),
    (["train", "--batch-size", "0"], "batch_size"),
    (["train", "--learning-rate", "-0.1"], "learning_rate"),
    (["train", "--validation-split", "1.5"], "validation_split"),
    (["train", "--steps-per-epoch", "0"], "steps_per_epoch"),
    (["train", "--warmup-epochs", "1000"], "warmup_epochs"),
    (["train", "--image-size", "0"], "image_size"),
    (["train", "--image-size", "big"], "image-size"),
    (["train", "--channels", "2"], "channels"),
    (["train", "--label-offset", "-1"], "label_offset"),
    (["train", "--stream", "maybe"], "stream"),
    (["train", "--model", "resnet21"], "unknown model"),
    (["train", "--model-option", "nonsense"], "KEY=VALUE"),
    (["train", "--model-option", "no_such_option=1"], "no_such_option"),
    (["train", "--config", "missing.yaml"], "missing.yaml"),
    (["train", "--data", "missing_folder"], "missing_folder"),
    (["train", "--weights", "missing.keras"], "missing.keras"),
    (["train", "--freeze-epochs", "3"], "freeze_epochs"),
    (["train", "--optimizer", "rmsprop"], "optimizer"),
    (["train", "--fine-tune-lr", "fast"], "fine_tune"),
    # the other commands
    (["models", "--name", "resnet21"], "unknown model"),
    (["quickstart", "--epochs", "0"], "epochs"),
    (["quickstart", "--max-drop", "-5"], "max_drop"),
    (["quickstart", "--model", "alexnet"], "unknown model"),
    (["experiment", "degradation", "--depths", "7"], "7"),
    (["experiment", "degradation", "--epochs", "0"], "epochs"),
    (["experiment", "degradation", "--data", "missing_folder"], "missing_folder"),
    (["experiment", "shortcuts", "--variants", "teleport"], "teleport"),
    (["experiment", "identity", "--depth", "21"], "21"),
    (["experiment", "activations", "--train-images", "3"], "train-images"),
    (["no-such-command"], "no-such-command"),
]


@pytest.mark.parametrize("args, names", BAD, ids=[" ".join(args) for args, _ in BAD])
def test_bad_values_get_one_line_and_exit_1_with_nothing_written(tmp_path, args, names):
    before = set(os.listdir(tmp_path))  # the test runs in tmp_path (conftest)
    if "--run-dir" not in args and args[0] == "train":
        args = [*args, "--run-dir", str(tmp_path / "run")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # not an uncaught exception: no traceback
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert names.lower() in errors[0].lower()
    assert set(os.listdir(tmp_path)) == before  # no run folder, no experiment folder, no quickstart folder


def test_the_command_line_starts_without_tensorflow_noise_or_control_characters(tmp_path):
    """The installed console script, output to a pipe: the table only, no absl/oneDNN start-up lines on stderr,
    no progress-bar redraws or colour codes."""
    import subprocess
    import sys

    script = os.path.join(os.path.dirname(sys.executable), "keras-resnet")  # the one pip installed with this Python
    assert os.path.isfile(script), "the keras-resnet console script is not installed"
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([script, "models", "--name", "resnet20"], capture_output=True, text=True,
                            timeout=300, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""
    assert result.stdout.splitlines()[0].split()[:2] == ["model", "family"]
    assert "\r" not in result.stdout and "\x1b" not in result.stdout
