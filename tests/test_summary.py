"""Model cost: multiply-adds against the papers, and the 'keras-resnet models' command."""

import json

import pytest
from click.testing import CliRunner

from helpers import image_data_format
from keras_resnet import build_model
from keras_resnet.cli import main
from keras_resnet.summary import count_multiply_adds, count_weighted_layers, describe


@pytest.mark.parametrize("name, giga", [("resnet18", 1.8), ("resnet34", 3.6), ("resnet50", 3.8)])
def test_multiply_adds_match_the_paper(name, giga):
    # He et al. 2015, Table 1 (FLOPs there are multiply-adds).
    assert abs(count_multiply_adds(build_model(name)) / 1e9 - giga) / giga < 0.03


@pytest.mark.parametrize("name, depth", [("resnet20", 20), ("resnet50", 50), ("plain56", 56), ("resnet164v2", 164)])
def test_depth_counts_weighted_layers_as_the_papers(name, depth):
    assert count_weighted_layers(build_model(name)) == depth


@pytest.mark.parametrize("name, kwargs", [("resnet50", {}), ("resnet20v2", {"squeeze_excitation": 0.25}),
                                          ("resnet20", {"shortcut": "exclusive_gating"})])
def test_costs_are_the_same_in_channels_first(name, kwargs):
    last = describe(build_model(name, **kwargs))
    with image_data_format("channels_first"):
        first = describe(build_model(name, **kwargs))
    assert first["input_shape"] == last["input_shape"][2:] + last["input_shape"][:2]
    assert {**first, "input_shape": None} == {**last, "input_shape": None}


def test_models_command_prints_json():
    result = CliRunner().invoke(main, ["models", "--json", "--name", "resnet20", "--name", "plain20"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [row["name"] for row in rows] == ["resnet20", "plain20"]
    assert rows[0]["parameters"] == rows[1]["parameters"]
    assert rows[0]["depth"] == 20 and rows[0]["version"] == "v1"
    assert 40e6 < rows[0]["multiply_adds"] < 42e6


def test_models_command_table_and_unknown_model():
    result = CliRunner().invoke(main, ["models", "--name", "resnet18"])
    assert result.exit_code == 0 and "11,689,512" in result.output
    result = CliRunner().invoke(main, ["models", "--name", "resnet19"])
    assert result.exit_code == 1
    assert "unknown model 'resnet19'" in result.output and "Traceback" not in result.output
