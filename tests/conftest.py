"""Shared test settings: quiet TensorFlow, the installed package, every test in its own folder.

The repository root is not the package: ``export/`` and ``cli.py`` install as
``keras_resnet.export`` and ``keras_resnet.cli`` (setup.py). So the tests import
the installed package, never the root folder, and run (subprocesses included) in
a temporary folder, where ``python -c`` cannot pick up the root's ``keras_resnet/``.
"""

import os
import sys

import pytest

from helpers import DIGIT_NAMES

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != ROOT]


@pytest.fixture(autouse=True)
def _outside_the_source_tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


# ---------------------------------------------------------------- shared across test files (built once a session)

@pytest.fixture(scope="session")
def digits():
    """1,200 training and 200 held-out bundled digits (real MNIST), stratified with seed 0:
    ``(train_x, train_y, test_x, test_y)``."""
    from keras_resnet.data import load_dataset
    from keras_resnet.export.calibration import stratified_sample

    splits = load_dataset("bundled")
    train = stratified_sample(splits.train.labels, 1200, seed=0)
    test = stratified_sample(splits.test.labels, 200, seed=0)
    return splits.train.images[train], splits.train.labels[train], splits.test.images[test], splits.test.labels[test]


@pytest.fixture(scope="session")
def digits_model(digits):
    """A depth-8 ResNet trained for one short epoch on ``digits``: good enough that quantization is meaningful."""
    import keras

    import keras_resnet

    train_x, train_y, _, _ = digits
    keras.utils.set_random_seed(0)
    model = keras_resnet.CifarResNet(depth=8, input_shape=(28, 28, 1), classes=10)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(train_x, train_y, epochs=1, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="session")
def digits_export(digits_model, digits, tmp_path_factory):
    """``digits_model`` exported to every format and mode (RGB input: a 1-channel model), each verified, with the
    report card and a release gate of 3 points (6 of the 200 images). Tests read it; none may change it."""
    from keras_resnet.export import export_all

    train_x, train_y, test_x, test_y = digits
    return export_all(digits_model, tmp_path_factory.mktemp("digits_export"), class_names=DIGIT_NAMES,
                      calibration_images=train_x, calibration_labels=train_y, heldout_images=test_x,
                      heldout_labels=test_y, calibration_size=64, verify_images=64, latency_runs=5, max_drop=3.0,
                      progress=False)
