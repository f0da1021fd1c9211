"""The math under the four residual-learning experiments, without training: one-layer units, growing a net with
identity units, gradient ratios against the closed form, and conclusions drawn from synthetic measurements."""

import keras
import numpy as np
import pytest
from helpers import randomize

import keras_resnet
from keras_resnet.blocks import UnitOptions, residual_unit
from keras_resnet.errors import KerasResnetError
from keras_resnet.experiments import SignalProbe, gradient_ratios, grow_into, shortcut_term
from keras_resnet.experiments.construction import construction_models, continuation_recipe, parse_families
from keras_resnet.experiments.growing import output_difference
from keras_resnet.experiments.recipes import get_recipe, resolve_budget
from keras_resnet.experiments.signal_propagation import parse_depths
from keras_resnet.experiments.vanishing_gradients import vanishing_findings

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, (16, 16, 16, 3)).astype(np.float32)
LABELS = np.arange(16) % 10


def cifar(depth, seed=0, **options):
    keras.utils.set_random_seed(seed)
    return keras_resnet.CifarResNet(depth, input_shape=(16, 16, 3), **options)


# ---------------------------------------------------------------- one-layer units


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_one_layer_unit_with_zero_weights_returns_its_input(version):
    inputs = keras.Input((6, 6, 8))
    options = UnitOptions(block="one_layer", order=version, shortcut="identity")
    unit = keras.Model(inputs, residual_unit(inputs, 8, options=options, name="conv2_block1"))
    assert sum(isinstance(layer, keras.layers.Conv2D) for layer in unit.layers) == 1
    for layer in unit.layers:
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    x = RNG.normal(size=(4, 6, 6, 8)).astype(np.float32)
    if version == "v1":  # the ReLU after the addition: a v1 unit's input is the previous unit's ReLU output
        x = np.maximum(x, 0)
    for training in (False, True):
        assert np.array_equal(np.asarray(unit(x, training=training)), x)


def test_one_layer_nets_have_the_layers_of_the_two_layer_and_plain_nets():
    one, two, plain = cifar(14, block="one_layer"), cifar(14), cifar(14, shortcut="none")
    assert one.count_params() == two.count_params() == plain.count_params()
    count = lambda model, kind: sum(isinstance(layer, kind) for layer in model.layers)  # noqa: E731
    assert count(one, keras.layers.Conv2D) == count(two, keras.layers.Conv2D) == 13
    assert count(one, keras.layers.Add) == 12 and count(two, keras.layers.Add) == 6
    with pytest.raises(KerasResnetError, match="3n\\+2"):
        keras_resnet.CifarResNet(9, block="one_layer", input_shape=(16, 16, 3))


# ---------------------------------------------------------------- growing


@pytest.mark.parametrize("options", [{}, {"version": "v2"}, {"block": "one_layer"}])
def test_a_grown_resnet_computes_exactly_what_the_shallow_one_did(options):
    shallow, deep = cifar(8, **options), cifar(20, seed=1, **options)
    randomize(shallow)  # trained-looking weights and BatchNorm statistics
    added = grow_into(shallow, deep)
    assert len(added) == (12 if options.get("block") else 6)
    assert np.array_equal(np.asarray(shallow(IMAGES, training=False)), np.asarray(deep(IMAGES, training=False)))
    statistics = [np.array(v) for v in deep.non_trainable_variables]
    assert output_difference(shallow, deep, IMAGES, training=True) == 0.0  # zero branches: batch statistics too
    assert all(np.array_equal(a, np.array(b)) for a, b in zip(statistics, deep.non_trainable_variables))


def test_a_grown_plain_net_is_an_identity_in_inference_mode_only():
    shallow, deep = cifar(8, shortcut="none"), cifar(20, seed=1, shortcut="none")
    randomize(shallow)
    added = grow_into(shallow, deep)
    assert set(added.values()) == {"identity (Dirac) conv kernels, BatchNorm γ = 1, β = 0, moving mean 0, moving"
                                   " variance 1 - ε"}
    assert output_difference(shallow, deep, IMAGES) < 1e-5
    assert output_difference(shallow, deep, IMAGES, training=True) > 1e-3  # BatchNorm on batch statistics


def test_growing_refuses_nets_that_do_not_fit():
    with pytest.raises(KerasResnetError, match="differ in kind"):
        grow_into(cifar(8), cifar(20, shortcut="none"))
    with pytest.raises(KerasResnetError, match="lacks"):
        grow_into(cifar(20), cifar(8))
    with pytest.raises(KerasResnetError, match="on its shortcut"):
        grow_into(cifar(8, shortcut="scaled"), cifar(14, shortcut="scaled"))
    with pytest.raises(KerasResnetError, match="must exceed"):
        construction_models(20, 20, "residual")
    with pytest.raises(KerasResnetError, match="unknown families 'deep'"):
        parse_families("residual,deep")


def test_the_continuation_recipe_trains_half_as_long_at_a_tenth_of_the_rate():
    recipe = get_recipe("tiny")
    continued = continuation_recipe(recipe, resolve_budget(recipe, 2000))
    assert continued.options["epochs"] == 3 and continued.options["learning_rate"] == pytest.approx(0.01)
    paper = get_recipe("paper")
    assert continuation_recipe(paper, resolve_budget(paper, 50_000)).options["epochs"] == 82
    with pytest.raises(KerasResnetError, match="continue rate"):
        continuation_recipe(recipe, resolve_budget(recipe, 2000), rate=2)


# ---------------------------------------------------------------- gradient ratios against the closed form


def linear_stack(units, shortcut_scale, branch_scale):
    """Units ``x_{l+1} = λ·x_l + a·x_l`` (a 1x1 conv of kernel a·I), then average pooling and a softmax head."""
    inputs = keras.Input((4, 4, 3))
    x = inputs
    for i in range(1, units + 1):
        branch = keras.layers.Conv2D(3, 1, use_bias=False, name=f"conv2_block{i}_1_conv")
        scaled = keras.layers.Rescaling(shortcut_scale)(x)
        x = keras.layers.Add(name=f"conv2_block{i}_out")([scaled, branch(x)])
        branch.set_weights([branch_scale * np.eye(3, dtype=np.float32)[None, None]])
    outputs = keras.layers.Dense(10, activation="softmax", name="predictions")(
        keras.layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("branch_scale", [0.0, 0.25])
def test_measured_ratio_of_constant_scaling_shortcuts_is_the_closed_form(branch_scale):
    """∂L/∂x_1 = (λ + a)^(k-1) ∂L/∂x_k for a linear stack: with a = 0 it is the shortcut term λ^(k-1) alone."""
    units, scale = 6, 0.5
    model = linear_stack(units, scale, branch_scale)
    images = RNG.normal(size=(8, 4, 4, 3)).astype(np.float32)
    ratios = gradient_ratios(SignalProbe(model).measure(images, np.arange(8) % 10))
    expected = (scale + branch_scale) ** (units - 1)
    assert ratios["end_to_end"] == pytest.approx(expected, rel=1e-5)
    assert ratios["through_shortcuts"] == pytest.approx(expected, rel=1e-5)
    assert ratios["per_unit"]["conv2_block3"] == pytest.approx((scale + branch_scale) ** 3, rel=1e-5)


@pytest.mark.parametrize("depth", [14, 20])
@pytest.mark.parametrize("shortcut", ["projection", "scaled"])
def test_zero_branch_v2_nets_measure_the_formulas_shortcut_term(depth, shortcut):
    """Pre-activation units with F = 0: inside each stage the gradient is exactly Π λ_i (Identity Mappings)."""
    options = {"version": "v2", "shortcut": shortcut}
    model = cifar(depth, zero_init_residual=True, **options)
    ratios = gradient_ratios(SignalProbe(model).measure(IMAGES, LABELS))
    expected = shortcut_term({"depth": depth, **options}, depth)
    assert expected == (1.0 if shortcut == "projection" else 0.5 ** (3 * ((depth - 2) // 6 - 1)))
    assert ratios["through_shortcuts"] == pytest.approx(expected, rel=1e-5)


def test_the_probe_leaves_the_model_as_it_was_and_sees_every_unit():
    model = cifar(14)
    before = [np.array(v) for v in model.weights]
    measurement = SignalProbe(model).measure(IMAGES, LABELS)
    assert all(np.array_equal(a, np.array(b)) for a, b in zip(before, model.weights))
    assert list(measurement["units"]) == [f"conv{s}_block{i}" for s in (2, 3, 4) for i in (1, 2)]
    assert list(measurement["layers"])[0] == "conv1_conv" and list(measurement["layers"])[-1] == "predictions"
    assert all(unit["gradient"] > 0 and unit["std"] > 0 for unit in measurement["units"].values())
    assert shortcut_term({"shortcut": "exclusive_gating"}, 20) is None
    assert parse_depths("56,20") == [20, 56]
    with pytest.raises(KerasResnetError, match="6n\\+2"):
        parse_depths("20,21")


# ---------------------------------------------------------------- conclusions follow the numbers


def synthetic_record(label, depth, plain, gradients, train_error):
    """A record whose measurements have the given per-unit gradient norms (one list per measurement)."""
    measurements = []
    for epoch, norms in enumerate(gradients):
        units = {f"conv2_block{i + 1}": {"mean": 0.5, "std": 0.8, "gradient": g} for i, g in enumerate(norms)}
        layers = {"conv1_conv": {"gradient": 1.0, "weight": 1.0}, "predictions": {"gradient": 2.0, "weight": 1.0}}
        measurements.append({"epoch": epoch, "loss": 2.0, "units": units, "layers": layers})
    return {"spec": {"name": label, "label": label, "options": {"depth": depth, "shortcut": "none" if plain else
                                                                  "identity"}},
            "parameters": 1, "history": {"epoch": [1], "train_error": [train_error], "test_error": [train_error]},
            "measurements": measurements}


def test_vanished_gradients_are_called_so_only_below_the_criterion():
    healthy = {"plain20": synthetic_record("plain-20", 20, True, [[2.0, 1.5, 1.0]], 5.0),
               "plain56": synthetic_record("plain-56", 56, True, [[3.0, 2.0, 1.0], [0.5, 0.8, 1.0]], 80.0)}
    findings = vanishing_findings(healthy)
    assert not findings["deep_plain_vanished"] and findings["deep_plain_vs_shallow_plain"] == "higher"
    text = " ".join(findings["sentences"])
    assert "plain-56's gradients did not vanish" in text and "degraded without vanishing gradients" in text
    assert findings["models"]["plain56"]["smallest_unit_ratio"] == pytest.approx(0.5)
    vanished = {**healthy, "plain56": synthetic_record("plain-56", 56, True, [[0.001, 0.5, 1.0]], 80.0)}
    findings = vanishing_findings(vanished)
    assert findings["deep_plain_vanished"]
    assert "gradients vanished in this run" in " ".join(findings["sentences"])
    assert "does not separate them" in " ".join(findings["sentences"])
