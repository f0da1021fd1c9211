"""Experiments without training: identity ratios on hand-built cases, plain twins' parameter counts,
conclusions drawn from synthetic histories, recipes as TrainConfig options and the schedules train builds."""

import dataclasses

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.errors import KerasResnetError
from keras_resnet.experiments import (ACTIVATION_VARIANTS, SHORTCUT_VARIANTS, degradation_findings,
                                      degradation_models, residual_additions, residual_ratios, variant_findings)
from keras_resnet.experiments import paper_results, recipes, report
from keras_resnet.experiments.degradation import parse_depths
from keras_resnet.experiments.runner import experiment_history
from keras_resnet.experiments.variants import parse_variants
from keras_resnet.training import scaled_learning_rate, schedule_for

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

IMAGES = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 3)).astype(np.float32)


def tiny_resnet(**options):
    keras.utils.set_random_seed(0)
    return keras_resnet.CifarResNet(8, input_shape=(16, 16, 3), **options)


# ---------------------------------------------------------------- identity measurement


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_zeroed_branches_give_ratio_zero(version):
    ratios = residual_ratios(tiny_resnet(version=version, zero_init_residual=True), IMAGES)
    assert list(ratios) == ["conv2_block1", "conv3_block1", "conv4_block1"]
    assert all(value == 0.0 for value in ratios.values())


def test_default_initialisation_gives_nonzero_ratios():
    ratios = residual_ratios(tiny_resnet(version="v2"), IMAGES)
    assert all(value > 0 for value in ratios.values())


def test_hand_set_branch_gives_known_ratio():
    """y = x + F(x) with F a 1x1 conv of kernel 0.5·I: ‖F(x)‖/‖x‖ is exactly 0.5."""
    inputs = keras.Input((4, 4, 3))
    branch = keras.layers.Conv2D(3, 1, use_bias=False, name="conv2_block1_2_conv")(inputs)
    outputs = keras.layers.Add(name="conv2_block1_add")([inputs, branch])
    model = keras.Model(inputs, outputs)
    model.get_layer("conv2_block1_2_conv").set_weights([0.5 * np.eye(3, dtype=np.float32)[None, None]])
    images = np.random.default_rng(1).normal(size=(5, 4, 4, 3)).astype(np.float32)
    assert residual_ratios(model, images)["conv2_block1"] == pytest.approx(0.5, rel=1e-6)


def test_ratio_scales_with_the_last_conv_of_a_preactivation_branch():
    """In a v2 unit nothing follows the branch's last conv: scaling its kernel by 3 triples that unit's ratio
    and leaves the units before it untouched."""
    model = tiny_resnet(version="v2")
    before = residual_ratios(model, IMAGES)
    layer = model.get_layer("conv3_block1_2_conv")
    layer.set_weights([3.0 * w for w in layer.get_weights()])
    after = residual_ratios(model, IMAGES)
    assert after["conv3_block1"] == pytest.approx(3.0 * before["conv3_block1"], rel=1e-5)
    assert after["conv2_block1"] == pytest.approx(before["conv2_block1"], rel=1e-6)


def test_ratio_matches_a_direct_computation():
    model = tiny_resnet()
    add = model.get_layer("conv2_block1_add")
    probe = keras.Model(model.inputs[0], add.input)
    shortcut, branch = (np.asarray(t, np.float64) for t in probe(IMAGES, training=False))
    expected = np.sqrt((branch ** 2).sum()) / np.sqrt((shortcut ** 2).sum())
    assert residual_ratios(model, IMAGES)["conv2_block1"] == pytest.approx(expected, rel=1e-6)


def test_plain_net_has_no_units_to_measure():
    with pytest.raises(KerasResnetError, match="plain net"):
        residual_additions(tiny_resnet(shortcut="none"))


# ---------------------------------------------------------------- the models compared


@pytest.mark.parametrize("depths", [(8, 14), (20, 56)])
def test_plain_twin_has_the_parameter_count_of_the_option_a_resnet(depths):
    specs = degradation_models(depths)
    built = {spec.name: spec.build((28, 28, 1), 10) for spec in specs}
    for depth in depths:
        plain, residual = built[f"plain{depth}"], built[f"resnet{depth}"]
        assert plain.count_params() == residual.count_params()
        assert not any(isinstance(layer, keras.layers.Add) for layer in plain.layers)
        assert sum(isinstance(layer, keras.layers.Add) for layer in residual.layers) == 3 * (depth - 2) // 6


def test_depths_are_checked():
    assert parse_depths("56, 20") == [20, 56]
    with pytest.raises(KerasResnetError, match="at least two depths"):
        parse_depths("20")
    with pytest.raises(KerasResnetError, match="comma-separated"):
        parse_depths("20;56")
    with pytest.raises(KerasResnetError, match="6n\\+2"):
        degradation_models((20, 21))


def test_every_table_variant_builds_and_has_the_papers_number():
    for name, variant in SHORTCUT_VARIANTS.items():
        assert name in paper_results.SHORTCUTS_RESNET110
        keras_resnet.CifarResNet(8, input_shape=(16, 16, 3), **variant.options)
    for name, variant in ACTIVATION_VARIANTS.items():
        assert name in paper_results.ACTIVATIONS_RESNET110 and name in paper_results.ACTIVATIONS_RESNET164
        keras_resnet.CifarResNet(8, input_shape=(16, 16, 3), **variant.options)
    with pytest.raises(KerasResnetError, match="choose from"):
        parse_variants("original,magic", SHORTCUT_VARIANTS, "shortcut variant(s)")
    assert parse_variants("all", ACTIVATION_VARIANTS, "x") == list(ACTIVATION_VARIANTS)


# ---------------------------------------------------------------- conclusions follow the numbers


def test_degradation_seen_and_reversed():
    findings = degradation_findings({"plain": {20: 5.0, 56: 9.0}, "residual": {20: 4.0, 56: 2.5}})
    assert findings["degradation_observed"] and findings["residual_reversed_degradation"]
    assert findings["residual_vs_plain_at_depth"] == "lower"
    text = " ".join(findings["sentences"])
    assert "deeper plain net trained worse" in text and "reversed it" in text and "9.00%" in text


def test_no_degradation_when_the_deeper_plain_net_trains_better():
    findings = degradation_findings({"plain": {20: 9.0, 56: 5.0}, "residual": {20: 2.0, 56: 4.0}})
    assert not findings["degradation_observed"] and not findings["residual_reversed_degradation"]
    assert findings["residual_deeper_vs_shallower"] == "higher"
    text = " ".join(findings["sentences"])
    assert "No degradation" in text and "reversed" not in text


def test_degradation_not_reversed_when_the_deeper_resnet_is_worse_too():
    findings = degradation_findings({"plain": {20: 3.0, 32: 4.0, 56: 9.0}, "residual": {20: 2.0, 56: 6.0}})
    assert findings["degradation_observed"] and not findings["residual_reversed_degradation"]
    assert findings["shallow_depth"] == 20 and findings["deep_depth"] == 56
    assert "did not reverse" in " ".join(findings["sentences"])


def test_differences_within_the_margin_count_as_the_same():
    findings = degradation_findings({"plain": {20: 5.0, 56: 5.3}, "residual": {20: 4.0, 56: 4.2}}, margin=0.5)
    assert findings["plain_deeper_vs_shallower"] == "same" and not findings["degradation_observed"]
    assert "No clear degradation" in findings["sentences"][0]


def _record(label, train, test, diverged=False):
    return {"spec": {"label": label}, "parameters": 1, "diverged": diverged,
            "history": {"epoch": list(range(1, len(train) + 1)), "train_error": train, "test_error": test}}


def test_variant_findings_rank_and_compare_with_the_baseline():
    records = {"original": _record("original", [20.0, 5.0], [21.0, 6.0]),
               "dropout": _record("dropout", [50.0, 30.0], [55.0, 35.0]),
               "gating": _record("gating", [18.0, 5.2], [19.0, 5.5]),
               "scaled": _record("scaled", [40.0, 3.0], [45.0, 4.0])}
    findings = variant_findings(records, "original")
    assert findings["ranking_by_test_error"] == ["scaled", "gating", "original", "dropout"]
    rows = findings["variants"]
    assert rows["dropout"]["train_vs_baseline"] == "higher" and rows["gating"]["train_vs_baseline"] == "same"
    assert rows["scaled"]["train_vs_baseline"] == "lower" and rows["original"]["train_vs_baseline"] is None
    text = " ".join(findings["sentences"])
    assert "Trained worse than original (5.00% training error): dropout (30.00%)" in text


def test_markdown_cites_the_papers_numbers():
    records = {"post_activation": _record("(a) original", [5.0], [6.0]),
               "full_preactivation": _record("(e) full pre-activation", [4.0], [5.0])}
    findings = variant_findings(records, "post_activation")
    text = report.variants_markdown("T", "intro", "setup", records, findings, [("unit", {})],
                                    [("paper: ResNet-110", paper_results.ACTIVATIONS_RESNET110)], "a.png", "note")
    assert "| (e) full pre-activation |  | 1 | 4.00% | 5.00% | 5.00% | 6.37 |" in text


# ---------------------------------------------------------------- recipes: TrainConfig options for train


def rates(config, steps_per_epoch, epochs, steps):
    """The rates of the schedule train builds for ``config`` on one device."""
    rate = scaled_learning_rate(config.learning_rate, config.batch_size, config.reference_batch_size)
    schedule = schedule_for(config, rate, steps_per_epoch, epochs, config.batch_size)
    return [float(schedule(step)) for step in steps]


def test_paper_recipe_is_64k_iterations_with_drops_at_32k_and_48k():
    recipe = recipes.get_recipe("paper")
    budget = recipes.resolve_budget(recipe, 50_000)
    assert budget.steps_per_epoch == 391 and budget.epochs == 164 and budget.boundaries == (32_000, 48_000)
    config = recipe.train_config(56, budget)
    assert (config.optimizer, config.batch_size, config.learning_rate, config.momentum, config.weight_decay) == (
        "sgd", 128, 0.1, 0.9, 1e-4)
    assert config.total_steps == 64_000 and config.warmup_steps == 0 and config.augment == "auto"
    assert rates(config, 391, 164, [0, 31_999, 32_000, 47_999, 48_000, 64_100]) == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    deep = recipe.train_config(110, budget)  # ResNet-110 warms up at a constant 0.01 for 400 iterations
    assert (deep.warmup_steps, deep.warmup_learning_rate) == (400, 0.01)
    assert rates(deep, 391, 164, [0, 399, 400, 32_000]) == pytest.approx([0.01, 0.01, 0.1, 0.01])
    assert "400 warm-up iterations at 0.01 for depth >= 110" in recipe.describe(budget)


def test_tiny_recipe_is_the_papers_rate_scaled_to_batch_64():
    recipe = recipes.get_recipe("tiny")
    budget = recipes.resolve_budget(recipe, 2000)
    assert (budget.epochs, budget.steps_per_epoch, budget.boundaries) == (5, 32, (80, 120))
    config = recipe.train_config(110, budget)  # no warm-up in the tiny recipe, however deep
    assert (config.batch_size, config.epochs, config.total_steps, config.warmup_steps) == (64, 5, None, 0)
    assert rates(config, 32, 5, [0, 80, 120]) == pytest.approx([0.05, 0.005, 0.0005])
    assert "batch 64, SGD lr 0.05 (x0.1 at iterations 80, 120)" in recipe.describe(budget)


def test_epoch_override_and_short_runs():
    recipe = recipes.get_recipe("tiny", epochs=1, train_images=100)
    budget = recipes.resolve_budget(recipe, 100)
    assert budget.total_iterations == 2 and budget.boundaries == (1, 2)
    short = recipes.get_recipe("paper", epochs=1)  # epochs replace the 64k iterations
    assert "total_steps" not in short.options and short.options["epochs"] == 1
    budget = recipes.resolve_budget(short, 1000)
    assert (budget.epochs, budget.boundaries) == (1, (4, 6))
    assert short.train_config(110, budget).warmup_steps == 3  # the warm-up ends before the first drop
    assert recipes.resolve_budget(short, 260).boundaries == (2, 3)  # 3 steps: still two distinct drops
    with pytest.raises(KerasResnetError, match="unknown recipe"):
        recipes.get_recipe("fast")
    with pytest.raises(KerasResnetError, match="epochs"):
        recipes.get_recipe("tiny", epochs=0)
    broken = dataclasses.replace(recipes.RECIPES["tiny"], options={"batch_size": 64, "learning_rate": 0})
    with pytest.raises(KerasResnetError, match="learning_rate"):
        recipes.get_recipe(broken)


def test_run_history_becomes_the_experiment_history():
    history = {"loss": [2.0, None], "accuracy": [0.25, 0.5], "train_subset_accuracy": [0.5, 0.75],
               "test_accuracy": [0.4, None], "learning_rate": [0.1, 0.01], "step": [4, 8], "epoch_seconds": [1.5, 2]}
    assert experiment_history(history) == {
        "epoch": [1, 2], "train_error": [50.0, 25.0], "test_error": [60.0, None], "train_error_running": [75.0, 50.0],
        "train_loss": [2.0, None], "learning_rate": [0.1, 0.01], "iterations": [4, 8], "seconds": [1.5, 2]}
    assert experiment_history({})["epoch"] == []
