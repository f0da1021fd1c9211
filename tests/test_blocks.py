"""Unit-level math of the residual unit builder: every claim checked on tiny tensors."""

import keras
import numpy as np
import pytest

import keras_resnet
from helpers import DATA_FORMATS, image_data_format, in_data_format, runs_channels_first
from keras_resnet import KerasResnetError, UnitOptions, blocks, residual_unit
from keras_resnet.blocks import ORDERS, SHORTCUTS, WHERE_CHANNELS_CHANGE, ShortcutKind
from keras_resnet.layers import custom_layers


def unit_model(channels=16, filters=16, stride=1, size=8, **options):
    """One unit named "u" on a ``size``x``size``x``channels`` input, in keras' current image data format."""
    shape = (channels, size, size) if keras.config.image_data_format() == "channels_first" else (size, size, channels)
    inputs = keras.Input(shape)
    outputs = residual_unit(inputs, filters, stride=stride, options=UnitOptions(**options), name="u")
    return keras.Model(inputs, outputs)


def random_input(model, seed=0):
    return np.random.RandomState(seed).normal(size=(2,) + model.input_shape[1:]).astype("float32")


def layer_kinds(model):
    return [type(layer).__name__ for layer in model.layers]


def test_v2_unit_with_zeroed_branch_returns_its_input_exactly():
    model = unit_model(order="full_preactivation", zero_init_residual=True)
    x = random_input(model)
    np.testing.assert_array_equal(model(x, training=False).numpy(), x)


def test_v1_unit_with_zeroed_branch_is_relu_of_its_input():
    model = unit_model(order="post_activation", zero_init_residual=True)
    x = random_input(model)
    np.testing.assert_array_equal(model(x, training=False).numpy(), np.maximum(x, 0))


def test_option_a_subsamples_and_zero_pads_without_parameters():
    model = unit_model(channels=16, filters=32, stride=2, order="full_preactivation",
                       shortcut="identity", zero_init_residual=True)
    plain = unit_model(channels=16, filters=32, stride=2, order="full_preactivation", shortcut="none")
    assert model.count_params() == plain.count_params()
    x = random_input(model)
    expected = np.concatenate([x[:, ::2, ::2, :], np.zeros_like(x[:, ::2, ::2, :])], axis=-1)
    np.testing.assert_array_equal(model(x, training=False).numpy(), expected)


def test_plain_unit_has_no_addition():
    model = unit_model(shortcut="none")
    assert "Add" not in layer_kinds(model)
    assert "Add" in layer_kinds(unit_model(shortcut="identity"))


@pytest.mark.parametrize("shortcut, projects", [("identity", False), ("projection", False),
                                                ("projection_always", True), ("conv1x1", True)])
def test_projection_only_where_asked(shortcut, projects):
    model = unit_model(shortcut=shortcut)
    assert any(layer.name == "u_0_conv" for layer in model.layers) == projects


def test_option_b_projects_when_channels_change():
    model = unit_model(channels=16, filters=32, stride=2, shortcut="projection")
    assert model.get_layer("u_0_conv").strides == (2, 2)
    assert "u_0_bn" in [layer.name for layer in model.layers]  # v1 projection ends like the branch: with BN


def test_constant_scaling_halves_the_shortcut():
    model = unit_model(order="full_preactivation", shortcut="scaled", shortcut_scale=0.5, zero_init_residual=True)
    x = random_input(model)
    np.testing.assert_allclose(model(x, training=False).numpy(), 0.5 * x, rtol=1e-6)


@pytest.mark.parametrize("shortcut", ["exclusive_gating", "shortcut_gating"])
def test_gating_follows_its_formula(shortcut):
    model = unit_model(order="full_preactivation", shortcut=shortcut, gate_bias=-2.0, zero_init_residual=True)
    gate_conv = model.get_layer("u_gate_conv")
    np.testing.assert_allclose(gate_conv.bias.numpy(), -2.0)  # the bias initialisation of the paper's gates
    gate_conv.kernel.assign(np.zeros(gate_conv.kernel.shape))
    x = random_input(model)
    keep = 1.0 - 1.0 / (1.0 + np.exp(2.0))  # 1 - sigmoid(-2); the zeroed branch contributes nothing
    np.testing.assert_allclose(model(x, training=False).numpy(), keep * x, rtol=1e-5, atol=1e-6)
    if shortcut == "exclusive_gating":
        assert "u_gate_residual" in [layer.name for layer in model.layers]


def test_dropout_shortcut_is_identity_at_inference():
    model = unit_model(order="full_preactivation", shortcut="dropout", zero_init_residual=True)
    x = random_input(model)
    np.testing.assert_array_equal(model(x, training=False).numpy(), x)
    assert not np.array_equal(model(x, training=True).numpy(), x)


def test_stochastic_depth_drops_whole_branches_only_in_training():
    def build(drop_rate):
        inputs = keras.Input((8, 8, 16))
        outputs = residual_unit(inputs, 16, options=UnitOptions(order="full_preactivation"), name="u",
                                drop_rate=drop_rate)
        return keras.Model(inputs, outputs)

    model, reference = build(0.5), build(0.0)
    reference.set_weights(model.get_weights())
    x = np.random.RandomState(1).normal(size=(64, 8, 8, 16)).astype("float32")
    np.testing.assert_array_equal(model(x, training=False).numpy(), reference(x, training=False).numpy())
    branch = reference(x, training=True).numpy() - x  # same batch statistics as the model below
    dropped = model(x, training=True).numpy() - x
    kept = [np.allclose(d, 2 * b, rtol=1e-4, atol=1e-4) for d, b in zip(dropped, branch)]
    zeroed = [np.array_equal(d, np.zeros_like(d)) for d in dropped]
    assert all(k or z for k, z in zip(kept, zeroed))  # each sample: whole branch kept (scaled 1/keep) or dropped
    assert 5 < sum(zeroed) < 59


@pytest.mark.parametrize("position, expected", [("1x1", ((2, 2), (1, 1))), ("3x3", ((1, 1), (2, 2)))])
def test_bottleneck_stride_position(position, expected):
    model = unit_model(channels=64, filters=32, stride=2, block="bottleneck", bottleneck_stride=position)
    assert (model.get_layer("u_1_conv").strides, model.get_layer("u_2_conv").strides) == expected
    assert model.output_shape == (None, 4, 4, 128)


def test_resnet_d_projection_average_pools_first():
    model = unit_model(channels=16, filters=32, stride=2, projection_downsampling="average_pool")
    assert type(model.get_layer("u_0_pool")).__name__ == "AveragePooling2D"
    assert model.get_layer("u_0_conv").strides == (1, 1)


def test_squeeze_excitation_gates_channels():
    model = unit_model(squeeze_excitation=0.25)
    assert model.get_layer("u_se_reduce").filters == 4
    assert model.count_params() > unit_model().count_params()


@pytest.mark.parametrize("order", list(ORDERS))
def test_activation_orders_place_bn_and_relu_as_table_2(order):
    kinds = layer_kinds(unit_model(order=order))
    after_add = kinds[kinds.index("Add") + 1:]
    before_first_conv = kinds[1:kinds.index("Conv2D")]
    expected_after = {"post_activation": ["Activation"], "bn_after_addition": ["BatchNormalization", "Activation"]}
    expected_before = {"full_preactivation": ["BatchNormalization", "Activation"], "relu_preactivation": ["Activation"]}
    assert after_add == expected_after.get(order, [])
    assert before_first_conv == expected_before.get(order, [])


def test_every_shortcut_builds():
    for shortcut in SHORTCUTS:
        assert unit_model(channels=16, filters=32, stride=2, shortcut=shortcut).output_shape == (None, 4, 4, 32)


@pytest.mark.parametrize("options, message", [
    ({"block": "triple"}, "unknown block kind 'triple'"),
    ({"shortcut": "Z"}, "unknown shortcut 'Z'"),
    ({"order": "v3"}, "unknown version / activation order 'v3'"),
    ({"squeeze_excitation": 1.5}, "squeeze_excitation must be in [0, 1)"),
])
def test_bad_unit_options_raise_our_error(options, message):
    with pytest.raises(KerasResnetError, match=message.replace("[", r"\[").replace("(", r"\(")
                       .replace(")", r"\)").replace("/", "/")):
        UnitOptions(**options)


def test_identity_shortcut_cannot_shrink_channels():
    with pytest.raises(KerasResnetError, match="use shortcut='projection'"):
        unit_model(channels=32, filters=16, shortcut="identity")


def test_a_new_shortcut_kind_needs_only_a_registry_entry(monkeypatch):
    negated = ShortcutKind("-x on the identity path", WHERE_CHANNELS_CHANGE, identity_path=lambda x, shortcut, stride,
                           name, options: (keras.layers.Rescaling(-1.0, name=f"{name}_negate")(shortcut), None))
    monkeypatch.setitem(SHORTCUTS, "negated", negated)
    model = unit_model(order="full_preactivation", shortcut="negated", zero_init_residual=True)
    x = random_input(model)
    np.testing.assert_array_equal(model(x, training=False).numpy(), -x)
    network = keras_resnet.CifarResNet(8, input_shape=(16, 16, 3), shortcut="negated")  # models, zoo: untouched
    assert network.name == "resnet8" and "conv3_block1_0_conv" in [layer.name for layer in network.layers]


def test_shortcut_aliases_and_plain_nets_come_from_the_registry():
    assert blocks.shortcut_kind("A") is SHORTCUTS["identity"] and blocks.shortcut_kind("plain").plain
    assert keras_resnet.CifarResNet(8, input_shape=(16, 16, 3), shortcut="plain").name == "plain8"
    with pytest.raises(KerasResnetError, match="unknown shortcut 'D'"):
        blocks.shortcut_kind("D")


@pytest.mark.parametrize("data_format", DATA_FORMATS)
def test_option_a_zero_pads_the_channel_axis_of_the_data_format(data_format):
    with image_data_format(data_format):
        model = unit_model(channels=16, filters=32, stride=2, order="full_preactivation", shortcut="identity",
                           zero_init_residual=True)
        x = in_data_format(np.random.RandomState(0).normal(size=(2, 8, 8, 16)).astype("float32"), data_format)
        assert model.output_shape == ((None, 32, 4, 4) if data_format == "channels_first" else (None, 4, 4, 32))
        if data_format == "channels_first" and not runs_channels_first():
            pytest.skip("this backend cannot run channels_first convolutions on this device")
        subsampled = x[:, :, ::2, ::2] if data_format == "channels_first" else x[:, ::2, ::2, :]
        axis = 1 if data_format == "channels_first" else -1
        expected = np.concatenate([subsampled, np.zeros_like(subsampled)], axis=axis)
        np.testing.assert_array_equal(model(x, training=False).numpy(), expected)


@pytest.mark.parametrize("options", [
    dict(shortcut="identity"), dict(shortcut="projection", order="full_preactivation"),
    dict(shortcut="exclusive_gating", squeeze_excitation=0.25), dict(shortcut="scaled", residual_scale=0.5),
    dict(block="bottleneck", shortcut="projection_always", projection_downsampling="average_pool"),
], ids=lambda options: "-".join(map(str, options.values())))
def test_units_compute_the_same_in_both_data_formats(options):
    with image_data_format("channels_last"):
        last = unit_model(channels=16, filters=32, stride=2, **options)
    with image_data_format("channels_first"):
        first = unit_model(channels=16, filters=32, stride=2, **options)
        assert [layer.name for layer in first.layers[1:]] == [layer.name for layer in last.layers[1:]]
        assert [w.shape for w in first.get_weights()] == [w.shape for w in last.get_weights()]  # kernels alike
        assert all(layer.axis == 1 for layer in first.layers if isinstance(layer, keras.layers.BatchNormalization))
        if not runs_channels_first():
            pytest.skip("this backend cannot run channels_first convolutions on this device")
        rng = np.random.RandomState(0)
        last.set_weights([w + rng.normal(scale=0.1, size=w.shape).astype(w.dtype) for w in last.get_weights()])
        first.set_weights(last.get_weights())
        x = rng.normal(size=(2, 8, 8, 16)).astype("float32")
        expected = in_data_format(last(x, training=False).numpy(), "channels_first")
        np.testing.assert_allclose(first(in_data_format(x, "channels_first"), training=False).numpy(), expected,
                                   atol=1e-5)


def test_zero_pad_channels_saved_without_a_data_format_loads_as_channels_last():
    with image_data_format("channels_first"):
        old = custom_layers(keras).ZeroPadChannels.from_config({"name": "pad", "extra_channels": 2, "trainable": True})
        assert old.data_format == "channels_last"
        assert old.compute_output_shape((None, 4, 4, 3)) == (None, 4, 4, 5)
        assert custom_layers(keras).ZeroPadChannels(2).get_config()["data_format"] == "channels_first"
