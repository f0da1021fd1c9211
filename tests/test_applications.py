"""keras.applications' own application tests, run against our six keras.applications-named constructors.

As keras/src/applications/applications_test.py (Keras 3.15) does, in both image data formats: output shapes
with and without the top, pooling, variable input channels, a custom input shape and input tensor, the
classifier activation and serialisation (these on ResNet50 and ResNet50V2: the deeper four are the same code
with more units); plus keras.applications' parameter counts and layer names (all six). Keras checks
channels_first only by shapes on TensorFlow's CPU (its Conv2D kernels are NHWC); we also run the models
wherever the backend can (``helpers.runs_channels_first``). ``weights=None`` throughout.
"""

import functools

import keras
import numpy as np
import pytest

import keras_resnet
from helpers import DATA_FORMATS, image_data_format, in_data_format, runs_channels_first

APPLICATIONS = ("ResNet50", "ResNet101", "ResNet152", "ResNet50V2", "ResNet101V2", "ResNet152V2")
FEATURES = 2048  # channels of the last feature map, all six


class Application:
    """One constructor under one image data format, with the builds several tests share."""

    def __init__(self, name, data_format):
        self.name, self.data_format = name, data_format
        self.channels_first = data_format == "channels_first"

    def __call__(self, **kwargs):
        return getattr(keras_resnet, self.name)(weights=None, **kwargs)

    def shape(self, height, width, channels):
        """An image shape (no batch) in this data format."""
        return (channels, height, width) if self.channels_first else (height, width, channels)

    def images(self, count, height, width, channels, seed=0):
        pixels = np.random.RandomState(seed).uniform(0, 255, (count, height, width, channels)).astype("float32")
        return in_data_format(pixels, self.data_format)

    def skip_unless_it_runs(self):
        if self.channels_first and not runs_channels_first():
            pytest.skip("shapes checked; this backend cannot run channels_first convolutions on this device")

    @functools.cached_property
    def default(self):
        """With the top, default arguments (224x224)."""
        return self()

    @functools.cached_property
    def small(self):
        """With the top (softmax), on 32x32 images."""
        return self(input_shape=self.shape(32, 32, 3))


def constructors(names):
    """A module-scoped fixture over ``names`` in both data formats: pytest runs every test of one constructor
    and format in a row, so the shared builds are made once and freed before the next."""

    @pytest.fixture(scope="module", params=[(name, data_format) for name in names for data_format in DATA_FORMATS],
                    ids=lambda param: f"{param[0]}-{param[1]}")
    def built(request):
        yield Application(*request.param)
        keras.backend.clear_session()

    return built


every_constructor = constructors(APPLICATIONS)
# ResNet101/152(V2) are ResNet50(V2) with more units per stage, built by the same code: the argument handling
# below is checked on one constructor per family; shapes, counts and names on all six.
one_per_family = constructors(("ResNet50", "ResNet50V2"))


@pytest.fixture
def application(every_constructor):
    """Every constructor, the test run under its image data format (the previous one comes back after)."""
    with image_data_format(every_constructor.data_format):
        yield every_constructor


@pytest.fixture
def family(one_per_family):
    """ResNet50 and ResNet50V2, the test run under its image data format."""
    with image_data_format(one_per_family.data_format):
        yield one_per_family


def trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_include_top_has_the_default_input_and_1000_classes(application):
    model = application.default
    assert model.input_shape == (None,) + application.shape(224, 224, 3)
    assert model.output_shape == (None, 1000)
    assert model.layers[-1].activation.__name__ == "softmax"


def test_equals_keras_applications(application):
    ours = application.default
    theirs = getattr(keras.applications, application.name)(weights=None)
    assert ours.count_params() == theirs.count_params() and trainable(ours) == trainable(theirs)
    # Same names for every weight-bearing layer: their weight files load by name (outputs: test_weights.py).
    assert {layer.name for layer in ours.layers if layer.weights} == {layer.name for layer in theirs.layers
                                                                       if layer.weights}


@pytest.mark.parametrize("pooling, layer", [("avg", "GlobalAveragePooling2D"), ("max", "GlobalMaxPooling2D")])
def test_pooling_without_top(family, pooling, layer):
    model = family(include_top=False, pooling=pooling)
    assert model.output_shape == (None, FEATURES)
    assert type(model.layers[-1]).__name__ == layer
    family.skip_unless_it_runs()
    assert model(family.images(2, 32, 32, 3), training=False).shape == (2, FEATURES)


@pytest.mark.parametrize("channels", [1, 4])
def test_variable_input_channels(family, channels):
    model = family(include_top=False, input_shape=family.shape(None, None, channels))
    assert model.output_shape == (None,) + family.shape(None, None, FEATURES)
    family.skip_unless_it_runs()
    features = model(family.images(1, 64, 32, channels), training=False)
    assert features.shape == (1,) + family.shape(2, 1, FEATURES)


def test_custom_input_shape(family):
    model = family(include_top=False, input_shape=family.shape(123, 123, 3))
    assert model.output_shape == (None,) + family.shape(4, 4, FEATURES)


def test_custom_input_tensor(family):
    inputs = keras.Input(shape=family.shape(200, 200, 4), name="custom_input")
    tensor = keras.layers.Conv2D(3, (2, 2), padding="valid", strides=(2, 2))(inputs)
    model = family(include_top=False, input_tensor=tensor)
    assert model.inputs[0] is inputs  # the model starts where the tensor does, as keras.applications' do
    assert model.output_shape == (None,) + family.shape(4, 4, FEATURES)
    family.skip_unless_it_runs()
    features = model([family.images(1, 200, 200, 4)], training=False)  # source inputs: a list
    assert features.shape == (1,) + family.shape(4, 4, FEATURES)


@pytest.mark.parametrize("activation, expected", [("softmax", "softmax"), (None, "linear"), ("linear", "linear")])
def test_classifier_activation(family, activation, expected):
    model = family.small if activation == "softmax" else family(
        input_shape=family.shape(32, 32, 3), classifier_activation=activation)
    assert model.layers[-1].activation.__name__ == expected
    family.skip_unless_it_runs()
    totals = np.sum(model(family.images(2, 32, 32, 3), training=False), axis=-1)
    if activation == "softmax":
        np.testing.assert_allclose(totals, 1.0, rtol=1e-5)
    else:
        assert not np.allclose(totals, 1.0, rtol=1e-3)  # logits, not probabilities


def test_serialisation(family, tmp_path):
    model = family.small
    rebuilt = keras.Model.from_config(model.get_config())
    assert rebuilt.to_json() == model.to_json() and len(rebuilt.weights) == len(model.weights)  # JSON: lists = tuples
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras", safe_mode=True)
    assert loaded.to_json() == model.to_json()
    family.skip_unless_it_runs()
    images = family.images(2, 32, 32, 3)
    np.testing.assert_array_equal(loaded(images, training=False).numpy(), model(images, training=False).numpy())
