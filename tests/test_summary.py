"""Model cost: multiply-adds against the papers, figures worked out without building, 'keras-resnet models'."""

import json

import pytest
from click.testing import CliRunner

from helpers import image_data_format
from keras_resnet import ResNet, build_model
from keras_resnet.blocks import ORDERS, SHORTCUTS
from keras_resnet.cli import main
from keras_resnet.costs import entry_costs, network_costs
from keras_resnet.errors import KerasResnetError
from keras_resnet.summary import count_multiply_adds, count_weighted_layers, describe
from keras_resnet.zoo import ZOO, get_entry


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


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnet50v2", "resnet20", "plain20", "resnet164v2",
                                  "resnet110v2"])
def test_zoo_figures_without_building_equal_the_built_model(name):
    assert entry_costs(get_entry(name)) == describe(build_model(name))


TINY = dict(stage_units=(1, 2), stage_filters=(8, 16), stem_type="cifar", stem_filters=8, input_shape=(24, 24, 3),
            classes=5)
VARIANTS = [{"shortcut": shortcut, "version": version, "block": block} for (shortcut, version, block) in
            zip(SHORTCUTS, list(ORDERS) * 2, ["basic", "bottleneck"] * 5)] + [
    {"version": order, "block": "bottleneck", "shortcut": "identity"} for order in ORDERS] + [
    {"squeeze_excitation": 0.25, "shortcut": "projection_always", "version": "v2"},
    {"block": "bottleneck", "expansion": 2, "bottleneck_stride": "3x3", "conv_bias": "unnormalized",
     "projection_downsampling": "average_pool", "downsample_unit": "last", "stage_strides": (2, 2)},
    {"stem_type": "deep", "stem_filters": 16, "input_shape": (45, 37, 1), "conv_bias": "always"},
    {"stem_type": "imagenet", "include_top": False, "pooling": "max", "input_shape": (33, 33, 2),
     "stochastic_depth": 0.2, "top_dropout": 0.1, "preprocessing": "standardize"},
]


@pytest.mark.parametrize("options", VARIANTS, ids=lambda options: "-".join(map(str, options.values())))
def test_custom_network_figures_equal_the_built_model(options):
    arguments = {**TINY, **options}
    assert network_costs(**arguments) == describe(ResNet(**arguments))


def test_figures_follow_the_image_data_format():
    with image_data_format("channels_first"):
        first = entry_costs(get_entry("resnet20v2"), squeeze_excitation=0.25)
        assert first == describe(build_model("resnet20v2", squeeze_excitation=0.25))
    assert first["input_shape"] == [3, 32, 32]


def test_figures_need_a_fixed_input_size():
    with pytest.raises(KerasResnetError, match="fixed input size"):
        network_costs((1,), (8,), include_top=False)


def test_models_command_lists_the_whole_zoo_without_building():
    result = CliRunner().invoke(main, ["models", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert list(rows) == list(ZOO) and len(rows) == 34
    assert rows["resnet1202"]["weighted_layers"] == 1202 and rows["resnet1001v2"]["weighted_layers"] == 1001
    assert rows["resnet50"]["parameters"] == 25_636_712  # keras.applications ResNet50
    assert rows["plain1202"]["parameters"] == rows["resnet1202"]["parameters"]  # option A shortcuts add nothing
    for row in rows.values():
        assert 0 < row["trainable_parameters"] < row["parameters"] and row["multiply_adds"] > row["parameters"]
