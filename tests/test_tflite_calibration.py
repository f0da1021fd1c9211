"""Full-integer calibration: the converter's own models from its own ranges, each tensor's true range in ours,
one pass shared by int8 and int16x8 and by the cores."""

import os

import numpy as np
import pytest

import keras

import keras_resnet
from keras_resnet.data import load_dataset
from keras_resnet.export.tflite import SIGNATURE, calibrate, calibration_model, convert, write_conversion_source


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    digits = load_dataset("bundled")
    keras.utils.set_random_seed(0)
    model = keras_resnet.CifarResNet(depth=8, input_shape=(28, 28, 1), classes=10)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(digits.train.images[:512], digits.train.labels[:512], epochs=1, batch_size=64, verbose=0)
    return write_conversion_source(model, str(tmp_path_factory.mktemp("graph") / "float"), (28, 28, 1)), digits


def outputs(content, images):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content)
    image, scores = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(image["index"], list(images.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(image["index"], images.astype(image["dtype"]))
    interpreter.invoke()
    return interpreter.get_tensor(scores["index"])


def converters_own(source, mode, dataset, int8_io="uint8", calibrate_only=False):
    """TFLiteConverter's own full-integer conversion (or calibration alone) of the SavedModel at ``source``."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(source, signature_keys=[SIGNATURE])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = dataset
    if mode == "int8":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = getattr(tf, int8_io)
    else:
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        converter.experimental_new_quantizer = False
    converter._experimental_calibrate_only = calibrate_only
    return bytes(converter.convert())


@pytest.mark.parametrize("int8_io", ["uint8", "int8"])
def test_from_the_converters_calibration_we_quantize_as_the_converter_does(graph, int8_io):
    """Our quantizing step, given the converter's own calibration, gives the converter's own models."""
    source, digits = graph
    dataset = feed(digits.train.images[1000:1100])
    calibrated = calibrate(calibration_model(source, keep_every_tensor=False), dataset)
    held_out = digits.test.images[:200]
    for mode in ("int8", "int16x8"):
        alone = converters_own(source, mode, dataset, int8_io)
        shared = convert(source, mode, None, int8_io, calibrated=calibrated)
        assert len(shared) == len(alone)
        raw = held_out.astype(np.int16) - 128 if (mode, int8_io) == ("int8", "int8") else held_out  # fits the input
        np.testing.assert_array_equal(outputs(shared, raw), outputs(alone, raw))


def test_our_calibration_is_the_converters_byte_for_byte(graph):
    """``calibration_model(keep_every_tensor=False)`` + ``calibrate`` is TFLiteConverter's own calibrate-only
    pass."""
    source, digits = graph
    dataset = feed(digits.train.images[:40])
    assert calibrate(calibration_model(source, keep_every_tensor=False), dataset) == converters_own(
        source, "int8", dataset, calibrate_only=True)


def recorded_ranges(model):
    """``{tensor index: (min, max)}`` of a calibrated model."""
    from tensorflow.lite.tools import flatbuffer_utils

    graph = flatbuffer_utils.convert_bytearray_to_object(bytearray(model)).subgraphs[0]
    return {index: (float(tensor.quantization.min[0]), float(tensor.quantization.max[0]))
            for index, tensor in enumerate(graph.tensors)
            if tensor.quantization is not None and tensor.quantization.min is not None}


def test_every_tensor_gets_its_own_range_where_the_converter_records_its_consumers(graph):
    """tensorflow/tensorflow#127842: an op that runs in place over its input (the residual ADD over the branch
    conv's output) makes the converter's calibrator record the op's output range for that input. Ours records
    each tensor's true range (every value looked at, memory never reused), and only the graph's output is one."""
    from ai_edge_litert.interpreter import Interpreter
    from tensorflow.lite.tools import flatbuffer_utils

    source, digits = graph
    images = digits.train.images[:40]
    ours = calibrate(calibration_model(source), feed(images))
    theirs = calibrate(calibration_model(source, keep_every_tensor=False), feed(images))
    looked_at = Interpreter(model_content=calibration_model(source, keep_every_tensor=False),
                            experimental_preserve_all_tensors=True)
    looked_at.allocate_tensors()
    ranges = recorded_ranges(ours)
    low = {index: np.inf for index in ranges}
    high = {index: -np.inf for index in ranges}
    for image in images:
        looked_at.set_tensor(looked_at.get_input_details()[0]["index"], image[np.newaxis].astype(np.float32))
        looked_at.invoke()
        for index in ranges:
            values = looked_at.get_tensor(index)
            low[index], high[index] = min(low[index], values.min()), max(high[index], values.max())
    for index, (minimum, maximum) in ranges.items():
        assert (minimum, maximum) == pytest.approx((low[index], high[index]), rel=1e-6, abs=1e-6), index
    wrong = [index for index, (minimum, maximum) in recorded_ranges(theirs).items()
             if (minimum, maximum) != pytest.approx((low[index], high[index]), rel=1e-6, abs=1e-6)]
    assert wrong and all(ranges[index][1] < recorded_ranges(theirs)[index][1] for index in wrong)  # the ADD's
    ours_graph, their_graph = (flatbuffer_utils.convert_bytearray_to_object(bytearray(model)).subgraphs[0]
                               for model in (ours, theirs))
    assert list(ours_graph.outputs) == list(their_graph.outputs) == [looked_at.get_output_details()[0]["index"]]


def test_ranges_of_two_parts_merge_into_the_one_pass_model(graph):
    """The calibrator keeps a running min/max: two halves merged are the whole set's model, byte for byte."""
    from keras_resnet.export.calibration_pool import merge_ranges

    source, digits = graph
    images = digits.train.images[1000:1060]
    model = calibration_model(source)
    whole = calibrate(model, feed(images))
    first, second = calibrate(model, feed(images[:30])), calibrate(model, feed(images[30:]))
    assert first != whole and second != whole  # each half alone records narrower ranges
    assert merge_ranges(first, second) == whole
    assert merge_ranges(second, first) == whole


@pytest.mark.parametrize("own_share", [False, True])
def test_calibration_on_all_cores_is_the_one_pass_model(graph, own_share):
    """Helper processes claim images from the same list; what they record is merged into the same model."""
    from keras_resnet.export.calibration_pool import calibrate_on_all_cores

    source, digits = graph
    images = digits.train.images[2000:2040]
    helpers = 1 if own_share else 2
    calibrated, shares = calibrate_on_all_cores(source, images, helpers=helpers, own_share=own_share)
    assert sum(shares) == len(images) and len(shares) == 1 + helpers
    if not own_share:
        assert shares[0] == 0 and sum(shares[1:]) == len(images)  # the helpers did all the work
    assert calibrated == calibrate(calibration_model(source), feed(images))


def test_helpers_calibrate_while_this_process_does_other_work(graph, monkeypatch):
    """Between the first image and ``finish``, the helpers take images (export converts the float modes there);
    the merged model is still the one-pass model."""
    import time

    from keras_resnet.export import calibration_pool

    source, digits = graph
    images = digits.train.images[3000:3060]
    monkeypatch.setattr(calibration_pool, "HELPER_WORTH_SECONDS", 0.0)  # a helper even for this small model
    with calibration_pool.CalibrationPool(source, images, helpers=1) as pool:
        claims = os.path.join(pool.scratch, calibration_pool.CLAIMS_DIR)
        deadline = time.monotonic() + 60
        while len(os.listdir(claims)) < 20 and time.monotonic() < deadline:  # this process is busy elsewhere
            time.sleep(0.1)
        calibrated, shares = pool.finish()
    assert shares[0] >= 1 and shares[1] >= 19 and sum(shares) == len(images)
    assert calibrated == calibrate(calibration_model(source), feed(images))


def feed(images):
    def dataset():
        for image in images:
            yield [image[np.newaxis].astype(np.float32)]

    return dataset


def test_int16x8_runs_one_interpreter_per_core_with_the_same_outputs_in_order(graph, tmp_path):
    """LiteRT's 16x8 kernels use one core: batches run side by side on their own interpreters, and every image
    still gets its own output, in order, equal to a plain one-interpreter run."""
    from keras_resnet.export.formats.tflite import TFLiteArtifact
    from keras_resnet.export.runtime import all_threads

    source, digits = graph
    path = tmp_path / "model_int16x8.tflite"
    path.write_bytes(convert(source, "int16x8", feed(digits.train.images[:50])))
    artifact = TFLiteArtifact(str(path))
    assert artifact.mode == "int16x8" and artifact.concurrent_batches == all_threads()
    artifact.concurrent_batches = max(2, artifact.concurrent_batches)  # side by side even on one core
    images = digits.test.images[:70]  # 5 batches of 16, the last one short
    expected = outputs(path.read_bytes(), images)
    np.testing.assert_array_equal(artifact.predict(images, batch_size=16), expected)
    assert len({key[2] for key in artifact._interpreters}) == artifact.concurrent_batches
    few = TFLiteArtifact(str(path))  # fewer images than one batch (export verifies 16): split among the cores
    few.concurrent_batches = 2
    np.testing.assert_array_equal(few.predict(images[:16]), expected[:16])
    assert {(key[0], key[2]) for key in few._interpreters if key[0] > 1} == {(8, 0), (8, 1)}
