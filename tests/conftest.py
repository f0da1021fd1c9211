"""Shared test settings: quiet TensorFlow, the installed package, every test in its own folder.

The repository root is not the package: ``export/`` and ``cli.py`` install as
``keras_resnet.export`` and ``keras_resnet.cli`` (setup.py). So the tests import
the installed package, never the root folder, and run (subprocesses included) in
a temporary folder, where ``python -c`` cannot pick up the root's ``keras_resnet/``.
"""

import os
import sys

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != ROOT]


@pytest.fixture(autouse=True)
def _outside_the_source_tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
