"""Pretrained weights: keras.applications' files load into our models by layer name, outputs equal."""

import h5py
import keras
import numpy as np
import pytest

import keras_resnet
import keras_resnet.weights as weights_module
import keras_resnet.zoo as zoo
from keras_resnet import KerasResnetError, build_model
from helpers import image_data_format, in_data_format, randomize, runs_channels_first

SIX = [("resnet50", "ResNet50", "resnet"), ("resnet101", "ResNet101", "resnet"),
       ("resnet152", "ResNet152", "resnet"), ("resnet50v2", "ResNet50V2", "resnet_v2"),
       ("resnet101v2", "ResNet101V2", "resnet_v2"), ("resnet152v2", "ResNet152V2", "resnet_v2")]


def save_like_keras_applications(model, path):
    """The legacy HDF5 layout of keras.applications' published weight files."""
    from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

    with h5py.File(path, "w") as f:
        save_weights_to_hdf5_group(f, model)


@pytest.mark.parametrize("name, reference, module", SIX)
def test_keras_applications_weights_map_into_ours(tmp_path, name, reference, module):
    shape = (64, 64, 3)
    theirs = getattr(keras.applications, reference)(weights=None, input_shape=shape)
    randomize(theirs, weight_noise=0.01)
    # Random deep nets give logits in the hundreds, where float32 rounding (1e-6 relative, from a
    # different summation order) moves saturated probabilities by 1e-5; a smaller head keeps them O(10).
    head = theirs.get_layer("predictions")
    head.set_weights([w * 0.01 for w in head.get_weights()])
    path = tmp_path / weights_module.imagenet_file_name(name, include_top=True)
    save_like_keras_applications(theirs, path)
    ours = build_model(name, input_shape=shape, weights=str(path))  # no preprocessing argument: the file's own
    pixels = np.random.RandomState(1).uniform(0, 255, (2,) + shape).astype("float32")
    prepare = getattr(keras.applications, module).preprocess_input
    expected = theirs(prepare(pixels.copy()), training=False).numpy()
    np.testing.assert_allclose(ours(pixels, training=False).numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("name, reference, module", [SIX[0], SIX[3]], ids=["resnet50", "resnet50v2"])
def test_keras_applications_weights_load_into_channels_first_models(tmp_path, name, reference, module):
    """The files hold one kernel layout for both formats: the BGR flip and every layer apply unchanged."""
    theirs = getattr(keras.applications, reference)(weights=None, input_shape=(64, 64, 3))  # saved channels_last
    randomize(theirs, weight_noise=0.01)
    head = theirs.get_layer("predictions")
    head.set_weights([w * 0.01 for w in head.get_weights()])
    path = tmp_path / weights_module.imagenet_file_name(name, include_top=True)
    save_like_keras_applications(theirs, path)
    pixels = np.random.RandomState(1).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    expected = theirs(getattr(keras.applications, module).preprocess_input(pixels.copy()), training=False).numpy()
    with image_data_format("channels_first"):
        ours = build_model(name, input_shape=(3, 64, 64), weights=str(path))
        if not runs_channels_first():
            pytest.skip("loaded; this backend cannot run channels_first convolutions on this device")
        got = ours(in_data_format(pixels, "channels_first"), training=False).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("name, reference, module", [SIX[0], SIX[3]], ids=["resnet50", "resnet50v2"])
def test_every_builder_takes_the_preprocessing_of_a_keras_applications_file(tmp_path, monkeypatch, name, reference,
                                                                              module):
    """The constructor with the file, weights="imagenet" (the download faked) and build_model all build in the
    file's preprocessing; an explicit one wins with a one-line warning (None: keras.applications' model exactly)."""
    shape = (64, 64, 3)
    theirs = getattr(keras.applications, reference)(weights=None, include_top=False, pooling="avg", input_shape=shape)
    randomize(theirs, weight_noise=0.01)
    path = tmp_path / weights_module.imagenet_file_name(name, include_top=False)
    save_like_keras_applications(theirs, path)
    pixels = np.random.RandomState(2).uniform(0, 255, (2,) + shape).astype("float32")
    prepared = getattr(keras.applications, module).preprocess_input(pixels.copy())
    expected = theirs(prepared, training=False).numpy()
    tolerance = 1e-5 * np.abs(expected).max()  # random deep nets' features reach the tens: float32 rounding scales
    headless = dict(include_top=False, pooling="avg", input_shape=shape)
    constructor = getattr(keras_resnet, reference)
    got = constructor(weights=str(path), **headless)(pixels, training=False)
    np.testing.assert_allclose(got, expected, atol=tolerance)
    monkeypatch.setattr(zoo, "fetch_imagenet_weights", lambda model_name, include_top: str(path))
    imagenet = constructor(weights="imagenet", **headless)
    np.testing.assert_allclose(imagenet(pixels, training=False), expected, atol=tolerance)
    trained_with = "symmetric" if name.endswith("v2") else "caffe"
    with pytest.warns(UserWarning, match=f"preprocessing=None overrides the preprocessing='{trained_with}'.*leave"):
        raw = build_model(name, weights=str(path), preprocessing=None, **headless)
    assert "preprocessing" not in [layer.name for layer in raw.layers]
    np.testing.assert_allclose(raw(prepared, training=False), expected, atol=tolerance)


def test_imagenet_weights_offline_say_which_file_to_place_where(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(weights_module, "KERAS_APPLICATIONS_URL", "http://127.0.0.1:9/")  # refused at once
    with pytest.raises(KerasResnetError, match=r"resnet50_weights_tf_dim_ordering_tf_kernels_notop\.h5.*place it at"):
        keras_resnet.ResNet50(weights="imagenet", include_top=False)


@pytest.mark.parametrize("kwargs, message", [
    ({"classes": 10}, "need classes=1000"),
    ({"input_shape": (224, 224, 1)}, "need 3 channels"),
])
def test_imagenet_weights_reject_impossible_heads(kwargs, message):
    with pytest.raises(KerasResnetError, match=message):
        keras_resnet.ResNet50(weights="imagenet", **kwargs)


def test_no_imagenet_weights_for_other_models():
    with pytest.raises(KerasResnetError, match="no ImageNet weights for 'resnet18'"):
        build_model("resnet18", weights="imagenet")


def test_a_file_of_another_architecture_names_the_first_misfit(tmp_path):
    path = tmp_path / "small.h5"
    save_like_keras_applications(keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3)), path)
    with pytest.raises(KerasResnetError, match="no weights for layer 'conv4_block7_1_conv'"):
        build_model("resnet101", input_shape=(64, 64, 3), weights=str(path))
    with pytest.raises(KerasResnetError, match="layer 'predictions'.*classes"):
        build_model("resnet50", input_shape=(64, 64, 3), classes=10, weights=str(path))


def test_our_keras_file_brings_its_preprocessing_a_weights_h5_file_does_not(tmp_path):
    model = build_model("resnet20", input_shape=(32, 32, 1), preprocessing="symmetric")
    randomize(model)
    model.save(tmp_path / "m.keras")
    again = build_model("resnet20", input_shape=(32, 32, 1), weights=str(tmp_path / "m.keras"))
    assert again.get_layer("preprocessing").get_config()["scale"] == pytest.approx(1 / 127.5)
    x = np.random.RandomState(0).uniform(0, 255, (2, 32, 32, 1)).astype("float32")
    np.testing.assert_array_equal(model.predict(x, verbose=0), again.predict(x, verbose=0))
    model.save_weights(tmp_path / "m.weights.h5")  # no preprocessing recorded: the default, or the one given
    assert build_model("resnet20", input_shape=(32, 32, 1), weights=str(tmp_path / "m.weights.h5")).get_layer(
        "preprocessing").get_config()["scale"] == pytest.approx(1 / 255)
    given = build_model("resnet20", input_shape=(32, 32, 1), weights=str(tmp_path / "m.weights.h5"),
                        preprocessing="symmetric")
    np.testing.assert_array_equal(model.predict(x, verbose=0), given.predict(x, verbose=0))
