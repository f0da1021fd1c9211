"""Models and zoo: shapes, parameter counts against references, both image data formats, tf_keras twins,
.keras round trips."""

import inspect
import math
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_resnet
from helpers import image_data_format, in_data_format, runs_channels_first
from keras_resnet import KerasResnetError, applications, build_model
from keras_resnet.export import tf_keras_twin
from keras_resnet.naming import PREDICTIONS
from keras_resnet.zoo import ZOO, ZooEntry, constructor_name


def trainable(model):
    return sum(math.prod(w.shape) for w in model.trainable_weights)


def conv_and_dense_weights(model):
    return sum(math.prod(w.shape) for layer in model.layers
               if type(layer).__name__ in ("Conv2D", "Dense") for w in layer.weights)


@pytest.mark.parametrize("name, count", [("resnet18", 11_689_512), ("resnet34", 21_797_672)])
def test_basic_imagenet_nets_equal_torchvision(name, count):
    assert trainable(build_model(name)) == count


# The 2015 paper counts trainable parameters (BN's gamma/beta included); the
# 2016 paper's counts for its bottleneck nets match conv + FC weights alone.
PAPER_MILLIONS = {
    "resnet20": (0.27, trainable), "resnet32": (0.46, trainable), "resnet44": (0.66, trainable),
    "resnet56": (0.85, trainable), "resnet110": (1.7, trainable), "resnet1202": (19.4, trainable),
    "resnet164v2": (1.7, conv_and_dense_weights), "resnet1001v2": (10.2, conv_and_dense_weights),
}


@pytest.mark.parametrize("name", list(PAPER_MILLIONS))
def test_cifar_nets_match_the_papers(name):
    millions, count = PAPER_MILLIONS[name]
    digits = len(str(millions).split(".")[1])
    assert round(count(build_model(name)) / 1e6, digits) == millions


@pytest.mark.parametrize("depth", [20, 56])
def test_plain_twin_has_the_same_parameters_as_option_a(depth):
    assert build_model(f"plain{depth}").count_params() == build_model(f"resnet{depth}").count_params()


def test_zoo_covers_both_papers():
    for depth in (18, 34, 50, 101, 152, 200):
        assert f"resnet{depth}" in ZOO and f"resnet{depth}v2" in ZOO
    for depth in (20, 32, 44, 56, 110, 1202):
        assert {f"resnet{depth}", f"plain{depth}"} <= set(ZOO)
    assert {"resnet164v2", "resnet1001v2"} <= set(ZOO)


def test_one_documented_constructor_per_zoo_model(monkeypatch):
    constructors = {name: function for name, function in inspect.getmembers(applications, inspect.isfunction)
                    if function.__module__ == applications.__name__ and not name.startswith("_")}
    assert set(constructors) == {constructor_name(name) for name in ZOO}  # none missing, none extra
    assert set(constructors) <= set(keras_resnet.__all__)
    monkeypatch.setattr(ZooEntry, "build", lambda entry, **kwargs: (entry, kwargs))  # which entry, what arguments
    for name, constructor in constructors.items():
        assert getattr(keras_resnet, name) is constructor and len(inspect.getdoc(constructor)) > 80
        entry, kwargs = constructor(pooling="avg", zero_init_residual=True)
        assert constructor_name(entry.name) == name
        assert kwargs == dict(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling="avg",
                              classes=1000 if entry.family == "imagenet" else 10,
                              classifier_activation="softmax", zero_init_residual=True)


@pytest.mark.parametrize("name, kwargs, output", [
    ("resnet20", {}, (None, 10)),
    ("resnet18", {"input_shape": (32, 32, 1), "classes": 7}, (None, 7)),
    ("resnet50v2", {"input_shape": (64, 48, 5), "include_top": False}, (None, 2, 2, 2048)),
    ("resnet34", {"include_top": False, "pooling": "avg"}, (None, 512)),
    ("resnet18", {"include_top": False, "pooling": "max", "input_shape": (40, 40, 3)}, (None, 512)),
    ("resnet20", {"classifier_activation": None, "input_shape": (28, 28, 1)}, (None, 10)),
])
def test_keras_applications_arguments(name, kwargs, output):
    model = build_model(name, **kwargs)
    assert model.output_shape == output
    x = np.random.RandomState(0).uniform(0, 255, (2,) + tuple(d or 64 for d in model.input_shape[1:]))
    result = model.predict(x.astype("float32"), verbose=0)
    assert result.shape[1:] == tuple(d or result.shape[i + 1] for i, d in enumerate(output[1:]))
    if kwargs.get("classifier_activation", "softmax") and len(output) == 2 and kwargs.get("include_top", True):
        np.testing.assert_allclose(result.sum(axis=1), 1.0, rtol=1e-5)


def test_input_tensor_is_used_as_the_model_input():
    tensor = keras.Input((32, 32, 3), name="my_input")
    model = keras_resnet.ResNet20(input_tensor=tensor)
    assert model.inputs[0] is tensor


def test_include_top_false_accepts_any_size():
    model = build_model("resnet18", include_top=False)
    assert model.input_shape == (None, None, None, 3)
    assert model.predict(np.zeros((1, 96, 64, 3), "float32"), verbose=0).shape == (1, 3, 2, 512)


def test_preprocessing_inside_the_model_takes_raw_pixels():
    raw = build_model("resnet20", preprocessing="rescale")
    none = build_model("resnet20", preprocessing=None)
    none.set_weights(raw.get_weights())
    x = np.random.RandomState(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(raw.predict(x, verbose=0), none.predict(x / 255.0, verbose=0), atol=1e-5)
    standardized = build_model("resnet20", preprocessing="standardize", pixel_mean=(0.5,) * 3, pixel_std=(0.25,) * 3)
    standardized.set_weights(raw.get_weights())
    expected = none.predict((x / 255.0 - 0.5) / 0.25, verbose=0)
    np.testing.assert_allclose(standardized.predict(x, verbose=0), expected, atol=1e-5)


TWIN_CASES = [
    ("resnet20", {}),
    ("resnet20v2", {"input_shape": (28, 28, 1)}),
    ("plain20", {}),
    ("resnet20", {"shortcut": "exclusive_gating", "version": "bn_after_addition"}),
    ("resnet20", {"shortcut": "scaled", "version": "relu_preactivation", "squeeze_excitation": 0.25}),
    ("resnet18", {"input_shape": (32, 32, 3), "stem_type": "deep", "projection_downsampling": "average_pool",
                  "stochastic_depth": 0.1, "version": "relu_before_addition"}),
    ("resnet50v2", {"input_shape": (32, 32, 3), "classes": 5}),
]


def perturb(model, seed=0):
    """Every weight moved a little; the head scaled down: random deep nets give logits in the tens to hundreds,
    where softmax saturates (equal outputs would prove nothing) and float32 rounding moves probabilities by 1e-5."""
    rng = np.random.RandomState(seed)
    model.set_weights([w + rng.normal(scale=0.01, size=w.shape).astype(w.dtype) for w in model.get_weights()])
    for head in (layer for layer in model.layers if layer.name == PREDICTIONS):
        head.set_weights([w * 0.01 for w in head.get_weights()])
    return rng


@pytest.mark.parametrize("name, kwargs", TWIN_CASES)
def test_the_tf_keras_twin_has_the_same_layers_weights_and_outputs(name, kwargs):
    model = build_model(name, **kwargs)
    rng = perturb(model)
    twin = tf_keras_twin(model)
    assert type(twin).__module__.startswith("tf_keras")
    assert [layer.name for layer in model.layers] == [layer.name for layer in twin.layers]
    assert [w.shape for w in model.get_weights()] == [w.shape for w in twin.get_weights()]
    for ours, theirs in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    x = rng.uniform(0, 255, (3,) + model.input_shape[1:]).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), twin.predict(x, verbose=0), atol=1e-5)


FORMAT_CASES = [
    ("resnet20", {"input_shape": (16, 16, 3)}),  # option A: zero-padded channels
    ("plain20", {"input_shape": (16, 16, 1), "preprocessing": "standardize"}),
    ("resnet20v2", {"input_shape": (16, 16, 3), "shortcut": "shortcut_gating", "squeeze_excitation": 0.25}),
    ("resnet18", {"input_shape": (32, 32, 4), "stem_type": "deep", "projection_downsampling": "average_pool",
                  "preprocessing": "caffe", "include_top": False, "pooling": "max"}),
    ("resnet50v2", {"input_shape": (32, 32, 3), "classes": 5}),
]


@pytest.mark.parametrize("name, kwargs", FORMAT_CASES, ids=[name for name, _ in FORMAT_CASES])
def test_channels_first_models_compute_what_channels_last_ones_do(name, kwargs):
    height, width, channels = kwargs["input_shape"]
    last = build_model(name, **kwargs)
    rng = perturb(last)
    with image_data_format("channels_first"):
        first = build_model(name, **{**kwargs, "input_shape": (channels, height, width)})
        assert first.input_shape == (None, channels, height, width) and first.output_shape == last.output_shape
        first.set_weights(last.get_weights())  # kernels have one layout in both formats
        if not runs_channels_first():
            pytest.skip("this backend cannot run channels_first convolutions on this device")
        x = rng.uniform(0, 255, (2, height, width, channels)).astype("float32")
        np.testing.assert_allclose(first.predict(in_data_format(x, "channels_first"), verbose=0),
                                   last.predict(x, verbose=0), atol=1e-5)


def test_channels_first_defaults_and_shape_errors_follow_the_format():
    with image_data_format("channels_first"):
        assert keras_resnet.ResNet20().input_shape == (None, 3, 32, 32)
        assert build_model("resnet18", include_top=False).input_shape == (None, 3, None, None)
        assert ZOO["resnet50"].default_input_shape == (3, 224, 224)
        with pytest.raises(KerasResnetError, match=r"input_shape must be \(channels, height, width\)"):
            build_model("resnet20", input_shape=(32, 32))
        with pytest.raises(KerasResnetError, match=r"input size 32x3 .*\(channels, height, width\).* at least 4"):
            build_model("resnet20", input_shape=(32, 32, 3))
        with pytest.raises(KerasResnetError, match="ImageNet weights need 3 channels"):
            keras_resnet.ResNet50(weights="imagenet", input_shape=(1, 224, 224))


@pytest.mark.parametrize("name, kwargs", [("resnet20", {"shortcut": "shortcut_gating"}),
                                          ("resnet18v2", {"input_shape": (32, 32, 2), "stochastic_depth": 0.2}),
                                          ("resnet20v2", {"shortcut": "identity", "squeeze_excitation": 0.25})])
def test_keras_file_round_trip_in_a_fresh_process(tmp_path, name, kwargs):
    model = build_model(name, **kwargs)
    x = np.random.RandomState(0).uniform(0, 255, (2,) + model.input_shape[1:]).astype("float32")
    path, inputs, expected = tmp_path / "model.keras", tmp_path / "x.npy", tmp_path / "y.npy"
    model.save(path)
    np.save(inputs, x)
    np.save(expected, model.predict(x, verbose=0))
    script = textwrap.dedent(f"""
        import numpy as np, keras, keras_resnet
        model = keras.models.load_model({str(path)!r}, safe_mode=True)
        out = model.predict(np.load({str(inputs)!r}), verbose=0)
        np.testing.assert_array_equal(out, np.load({str(expected)!r}))
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]


@pytest.mark.parametrize("call, message", [
    (lambda: keras_resnet.ImageNetResNet(depth=42), "unknown ImageNet ResNet depth 42"),
    (lambda: keras_resnet.CifarResNet(depth=21), "CIFAR ResNet depth 21 is not 6n\\+2"),
    (lambda: keras_resnet.CifarResNet(depth=32, block="bottleneck"), "not 9n\\+2"),
    (lambda: build_model("resnet20", block="triple"), "unknown block kind 'triple'"),
    (lambda: build_model("resnet20", shortcut="D"), "unknown shortcut 'D'"),
    (lambda: keras_resnet.ResNet([1, 1], [16, -8]), "filter counts must be positive"),
    (lambda: build_model("resnet50", input_shape=(16, 16, 3)), "too small.*at least 32"),
    (lambda: build_model("resnet50", input_shape=(64, 64)), "input_shape must be \\(height, width, channels\\)"),
    (lambda: build_model("resnet9000"), "unknown model 'resnet9000'"),
    (lambda: build_model("resnet20", pooling="median", include_top=False), "unknown pooling"),
    (lambda: build_model("resnet20", weights="/nonexistent.weights.h5"), "does not exist"),
    (lambda: build_model("resnet20", colour="red"), "unknown model option"),
    (lambda: build_model("resnet20", keras_module=keras), "unknown model option"),  # twins: export.tf_keras_twin
])
def test_bad_arguments_raise_a_clear_error(call, message):
    with pytest.raises(KerasResnetError, match=message):
        call()


def test_weights_path_loads_saved_weights(tmp_path):
    model = build_model("resnet20", input_shape=(32, 32, 1))
    model.save_weights(tmp_path / "w.weights.h5")
    again = build_model("resnet20", input_shape=(32, 32, 1), weights=str(tmp_path / "w.weights.h5"))
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
