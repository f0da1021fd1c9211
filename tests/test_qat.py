"""QAT, pruning and clustering through tfmot: the tf_keras twin, quantize configs for every unit
variant, full-integer conversion, the report card, bad input, and the caller's tf.keras left alone."""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import keras
import tensorflow as tf

# tf-keras and tfmot are dependencies: a broken install fails here instead of skipping the module. (Found, not
# imported: importing tfmot would set TF_USE_LEGACY_KERAS, which only the package may do, and undo.)
assert importlib.util.find_spec("tf_keras") and importlib.util.find_spec("tensorflow_model_optimization"), \
    "tf-keras and tensorflow-model-optimization are install requirements: pip install '.[test]'"

import keras_resnet
from keras_resnet.data import load_dataset
from keras_resnet.errors import KerasResnetError
from keras_resnet.export import export_all, load_artifact, parse_quantize
from keras_resnet.export.calibration import stratified_sample
from keras_resnet.export.fine_tune import predict
from keras_resnet.export.twin import TWIN_TOLERANCE, output_difference, tf_keras_twin

SHAPE = (28, 28, 1)


@pytest.fixture(scope="module")
def digits():
    splits = load_dataset("bundled")
    train = stratified_sample(splits.train.labels, 1280, seed=0)
    test = stratified_sample(splits.test.labels, 300, seed=0)
    return (splits.train.images[train], splits.train.labels[train],
            splits.test.images[test], splits.test.labels[test])


def tiny(**options):
    return keras_resnet.CifarResNet(depth=8, input_shape=SHAPE, classes=10, **options)


def with_random_statistics(model, seed=0):
    """BatchNorm statistics away from 0/1, so a wrongly wired or weighted twin shows."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            size = gamma.shape
            layer.set_weights([gamma * rng.uniform(0.5, 1.5, size), beta + rng.normal(0, 0.1, size),
                               mean + rng.normal(0, 0.1, size), variance * rng.uniform(0.5, 1.5, size)])
    return model


@pytest.fixture(scope="module")
def trained(digits):
    train_x, train_y, _, _ = digits
    keras.utils.set_random_seed(0)
    model = tiny()  # v1, option-A (identity, zero-padding) shortcuts
    model.compile(keras.optimizers.Adam(2e-3), "sparse_categorical_crossentropy")
    model.fit(train_x, train_y, epochs=3, batch_size=32, verbose=0)  # ~90 % top-1: clear winners to agree on
    return model


@pytest.fixture(scope="module")
def exported(trained, digits, tmp_path_factory):
    train_x, train_y, test_x, test_y = digits
    out = tmp_path_factory.mktemp("qat_export")
    return export_all(trained, out, formats="tflite", modes="float32,int8,qat", class_names=list("0123456789"),
                      calibration_images=train_x,
                      calibration_labels=train_y, heldout_images=test_x, heldout_labels=test_y,
                      calibration_size=64, verify_images=64, latency_runs=3, prune=0.5, prune_epochs=1,
                      cluster=8, cluster_epochs=1, progress=False)


# --- the tf_keras twin -------------------------------------------------------------------------

@pytest.mark.parametrize("options", [
    dict(version="v1"), dict(version="v2"), dict(shortcut="projection"), dict(version="v2", shortcut="projection"),
    dict(shortcut="exclusive_gating"), dict(shortcut="scaled"), dict(squeeze_excitation=0.25),
    dict(block="bottleneck", depth=11),
], ids=lambda options: "-".join(map(str, options.values())))
def test_twin_reproduces_every_unit_variant(options, digits):
    options = dict(options)
    model = with_random_statistics(keras_resnet.CifarResNet(depth=options.pop("depth", 8), input_shape=SHAPE,
                                                            classes=10, **options))
    images = digits[2][:32]
    twin = tf_keras_twin(model, images)
    assert type(twin).__module__.startswith("tf_keras")
    assert [layer.name for layer in twin.layers] == [layer.name for layer in model.layers]
    assert output_difference(model, twin, images) <= TWIN_TOLERANCE


def test_twin_names_a_layer_it_cannot_rebuild():
    class Doubling(keras.layers.Layer):
        def call(self, inputs):
            return inputs * 2

    inputs = keras.Input(SHAPE)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(Doubling(name="doubler")(inputs)))
    with pytest.raises(KerasResnetError, match="'doubler'"):
        tf_keras_twin(keras.Model(inputs, outputs))

    inner = keras.Sequential([keras.Input(SHAPE), keras.layers.Flatten()], name="backbone")
    outputs = keras.layers.Dense(10)(inner(inputs))
    with pytest.raises(KerasResnetError, match="'backbone' is a nested model"):
        tf_keras_twin(keras.Model(inputs, outputs))


# --- quantize configs: v1/v2, option A / projection, gating all convert to full int8 -------------

def test_quantization_plan_covers_what_tfmot_does_not():
    from keras_resnet.export.qat import quantization_plan

    plan = quantization_plan(tf_keras_twin(tiny(version="v2", shortcut="exclusive_gating")))
    # BN after conv1 with a second consumer (no folding), BN after an addition: both feed a ReLU, which TFLite
    # fuses into the BN's ADD, so only the ReLU's output gets an 8-bit range (on the BN: 97 % -> 25 %, dimmed digits)
    assert plan["conv2_block1_preact_bn"] == "pass_through" and plan["conv2_block1_preact_relu"] == "default"
    assert plan["conv3_block1_preact_bn"] == "pass_through"
    assert plan["conv2_block1_1_bn"] == "default"  # Conv-BN-ReLU: tfmot folds it
    assert plan["preprocessing"] == "output" and plan["conv2_block1_gate_residual"] == "output"
    plan = quantization_plan(tf_keras_twin(tiny()))
    assert plan["conv3_block1_0_zeropad"] == "pass_through"
    inputs = keras.Input(SHAPE)
    x = keras.layers.BatchNormalization(name="bn_into_dense")(keras.layers.Conv2D(4, 3, activation="relu")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x)))
    assert quantization_plan(tf_keras_twin(model))["bn_into_dense"] == "output"  # no ReLU after it: its own range


def test_layer_tfmot_cannot_quantize_is_named():
    from keras_resnet.export.qat import quantization_plan

    inputs = keras.Input(SHAPE)
    x = keras.layers.LayerNormalization(name="odd_norm")(keras.layers.Conv2D(4, 3)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x)))
    with pytest.raises(KerasResnetError, match="'odd_norm' \\(LayerNormalization\\) cannot be quantized"):
        quantization_plan(tf_keras_twin(model))


@pytest.mark.parametrize("options", [dict(version="v2"), dict(version="v2", shortcut="projection"),
                                     dict(shortcut="projection"), dict(shortcut="exclusive_gating")],
                         ids=lambda options: "-".join(options.values()))
def test_qat_converts_to_full_integer(options, digits, tmp_path):
    from keras_resnet.export.calibration import representative_dataset, representative_set
    from keras_resnet.export.qat import quantization_aware_training
    from keras_resnet.export.formats.tflite import TFLiteArtifact
    from keras_resnet.export.tflite import convert, write_conversion_source

    train_x, train_y, test_x, _ = digits
    keras.utils.set_random_seed(0)
    model = tiny(**options)  # trained a little first: outputs far from uniform make agreement meaningful
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(train_x[:640], train_y[:640], epochs=1, batch_size=32, verbose=0)
    quantized = quantization_aware_training(model, train_x[:640], train_y[:640], epochs=1, progress=False)
    source = write_conversion_source(quantized, str(tmp_path / "graph"), SHAPE)
    calibration = representative_set(train_x, train_y, 32, 0, SHAPE)
    (tmp_path / "model.tflite").write_bytes(convert(source, "int8", representative_dataset(calibration)))
    artifact = TFLiteArtifact(str(tmp_path / "model.tflite"), [str(i) for i in range(10)])
    ops = artifact.ops()
    assert ops["integer_share"] == 1.0 and not ops["float_ops"], ops
    assert artifact.io()["input"]["quantization"] == {"scale": 1.0, "zero_point": 0}  # raw pixels in
    agreement = np.mean(artifact.predict(test_x).argmax(-1) == predict(quantized, test_x).argmax(-1))
    assert agreement >= 0.95


def _activation_ranges(quantized):
    """{(layer name, range name): (min, max)} of every moving-average (activation) quantizer of a QAT model."""
    ranges = {}
    for layer in quantized.layers:
        values = {weight.name.split("/")[-1].split(":")[0]: weight.numpy() for weight in layer.weights}
        for name, low in values.items():
            if name.endswith("_min") and "kernel" not in name and layer.__class__.__name__ != "QuantizeLayer":
                ranges[layer.name, name[:-4]] = (float(low), float(values[name[:-4] + "_max"]))
    return ranges


def test_qat_ranges_start_from_calibration_not_tfmots_six(trained, digits, tmp_path):
    from keras_resnet.export.qat import initialize_ranges, quantize_aware_model

    train_x, _, test_x, _ = digits
    twin = tf_keras_twin(trained)
    quantized = quantize_aware_model(twin)
    assert set(_activation_ranges(quantized).values()) == {(-6.0, 6.0)}  # tfmot's start: what QAT began from
    assert initialize_ranges(quantized, train_x[:128]) == len(_activation_ranges(quantized))
    ranges = _activation_ranges(quantized)
    assert all(low <= 0.0 <= high and (low, high) != (-6.0, 6.0) for low, high in ranges.values()), ranges
    # Each layer's own range is what the float twin computes there on those images (float weights, as the
    # post-training calibrator sees them: quantized weights would move them by about a percent).
    outputs = {layer.name: layer.output for layer in twin.layers}
    checked = 0
    for (name, kind), (low, high) in ranges.items():
        if kind in ("output", "post_activation") and name.removeprefix("quant_") in outputs:
            probe = tf_keras_model(twin.inputs, outputs[name.removeprefix("quant_")])
            values = probe(train_x[:128].astype("float32"), training=False).numpy()
            expected = (min(values.min(), 0.0), max(values.max(), 0.0))
            assert (low, high) == pytest.approx(expected, rel=1e-4, abs=1e-5), name
            checked += 1
    assert checked >= 10
    # From these ranges, before any fine-tuning, the fake-quantized model decides like the float one.
    agreement = np.mean(predict(quantized, test_x).argmax(-1) == predict(twin, test_x).argmax(-1))
    assert agreement >= 0.97
    # And it converts to the post-training int8 model's ranges: every convolution, addition and the classifier
    # get the scale that calibration on the same images gives them.
    assert _op_scales(_int8(quantized, train_x[:128], tmp_path / "qat")) == pytest.approx(
        _op_scales(_int8(trained, train_x[:128], tmp_path / "ptq")), rel=2e-3)


def _int8(model, images, folder):
    from keras_resnet.export.calibration import representative_set, representative_dataset
    from keras_resnet.export.tflite import convert, write_conversion_source

    graph = write_conversion_source(model, str(folder), SHAPE)
    return convert(graph, "int8", representative_dataset(representative_set(images, size=len(images))))


def _op_scales(content) -> list:
    """The output scale of each CONV_2D, ADD and FULLY_CONNECTED op of an int8 model, in graph order."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content)
    tensors = {detail["index"]: detail for detail in interpreter.get_tensor_details()}
    return [float(tensors[op["outputs"][0]]["quantization"][0]) for op in interpreter._get_ops_details()
            if op["op_name"] in ("CONV_2D", "ADD", "FULLY_CONNECTED")]


def test_qat_keeps_the_calibrated_start_when_fine_tuning_scores_worse(trained, digits):
    from keras_resnet.export.qat import (CHECKS_PER_EPOCH, quantization_aware_training, validation_scores,
                                         validation_split)

    train_x, train_y, _, _ = digits
    images, labels = train_x[:320], train_y[:320]
    details = {}
    # A learning rate far too high wrecks the model; the training images kept out of the fine-tuning show it.
    quantized = quantization_aware_training(trained, images, labels, epochs=1, learning_rate=0.5, progress=False,
                                            details=details)
    selection = details["checkpoint_selection"]
    held_out = validation_split(labels)
    assert selection["validation_images"] == len(held_out) == 32 and selection["steps"] == 9
    steps, errors, losses = zip(*selection["validation_errors_and_loss"])
    assert steps == (0, 3, 6, 9) and CHECKS_PER_EPOCH == 4  # the start, then every ceil(9 / 4) steps
    assert selection["chosen_step"] == 0 and min(errors[1:]) > errors[0], selection
    # What comes back is the start again (trained weights, calibrated ranges), not the last step.
    correct, loss = validation_scores(quantized, images[held_out], labels[held_out], False)
    assert np.sum(~correct) == errors[0] and loss == pytest.approx(losses[0], abs=1e-4)


@pytest.mark.parametrize("fixed, broken, better", [(5, 0, True), (7, 1, True), (9, 2, True), (8, 2, False),
                                                   (4, 2, False), (2, 0, False), (6, 1, False), (0, 0, False),
                                                   (1, 5, False)])
def test_a_checkpoint_must_be_right_on_clearly_more_of_the_disputed_images(fixed, broken, better):
    """Sign test on the images two checkpoints disagree on; the images both get right or wrong do not count."""
    from keras_resnet.export.qat import clearly_better

    both_right, both_wrong = [True] * 300, [False] * 20
    best = np.array(both_right + both_wrong + [False] * fixed + [True] * broken)
    candidate = np.array(both_right + both_wrong + [True] * fixed + [False] * broken)
    assert clearly_better(candidate, best) is better


def tf_keras_model(inputs, outputs):
    from keras_resnet.export.tfmot_env import tf_keras

    return tf_keras().Model(inputs, outputs)


def test_fine_tune_cosine_schedule_and_bad_choices_are_named(trained, digits):
    from keras_resnet.export.fine_tune import fine_tune

    train_x, train_y, _, _ = digits
    twin = tf_keras_twin(trained)
    fine_tune(twin, train_x[:96], train_y[:96], epochs=1, learning_rate=1e-3, batch_size=32, progress=False,
              schedule="cosine")
    rate = twin.optimizer.get_config()["learning_rate"]  # the schedule: from 1e-3 to 0 over the 3 steps taken
    assert rate["class_name"] == "CosineDecay" and int(twin.optimizer.iterations) == 3
    assert rate["config"]["decay_steps"] == 3 and rate["config"]["initial_learning_rate"] == pytest.approx(1e-3)
    assert rate["config"]["alpha"] == 0.0
    with pytest.raises(KerasResnetError, match="unknown fine-tuning schedule 'linear'"):
        fine_tune(twin, train_x[:32], train_y[:32], epochs=1, learning_rate=1e-3, progress=False, schedule="linear")


# --- end to end: export_all with qat, prune and cluster ----------------------------------------

def test_qat_int8_runs_in_litert_and_agrees_with_the_qat_model(exported, digits):
    _, _, test_x, _ = digits
    artifact = load_artifact(exported.paths["qat_int8"])
    assert type(artifact._interpreter(1, None)).__module__.startswith("ai_edge_litert")  # LiteRT, not tf.lite
    assert artifact.mode == "int8" and artifact.io()["input"]["dtype"] == "uint8"
    expected = predict(exported.models["qat"], test_x).argmax(-1)
    agreement = np.mean(artifact.predict(test_x).argmax(-1) == expected)
    assert agreement >= 0.99, f"{agreement:.3f} on {len(test_x)} held-out images"
    check = exported.manifest["artifacts"]["qat_int8"]["verification"]  # checked at export, before it landed
    assert check["passed"] and check["images"] == 64


def test_report_puts_float_ptq_and_qat_side_by_side(exported):
    rows = {row["name"]: row for row in exported.report["artifacts"]}
    assert {"model_float32.tflite", "model_int8.tflite", "model_qat_int8.tflite"} <= set(rows)
    assert rows["model_qat_int8.tflite"]["optimization"]["variant"] == "qat"
    assert rows["model_int8.tflite"]["optimization"] is None
    for name in ("model_int8.tflite", "model_qat_int8.tflite"):
        assert rows[name]["ops"]["integer_share"] == 1.0
        assert rows[name]["top1_drop_points"] is not None
    text = open(exported.report_paths["md"]).read()
    assert "tflite int8 (QAT)" in text and "## Compression" in text
    versus = rows["model_qat_int8.tflite"]["top1_vs_post_training_int8"]  # what QAT gained over PTQ, same images
    expected = (rows["model_qat_int8.tflite"]["top1"] - rows["model_int8.tflite"]["top1"]) * 100
    assert versus["artifact"] == "model_int8.tflite" and versus["points"] == pytest.approx(expected, abs=1e-3)
    assert f"QAT: model_qat_int8.tflite {versus['points']:+.2f} top-1 points against post-training int8" in text
    assert "top1_vs_post_training_int8" not in rows["model_int8.tflite"]
    sidecar = json.load(open(os.path.join(exported.out_dir, "model_qat_int8.json")))
    assert sidecar["optimization"]["epochs"] == 1 and sidecar["calibration"]["images"] == 64


def test_qat_keeps_batch_norm_statistics_and_does_not_lose_to_post_training_int8(trained, exported):
    frozen = 0
    for layer in exported.models["qat"].layers:
        inner = getattr(layer, "layer", layer)
        if inner.__class__.__name__ == "BatchNormalization":  # ran on its trained statistics, as int8 will
            np.testing.assert_array_equal(inner.moving_mean.numpy(), trained.get_layer(inner.name).moving_mean)
            frozen += 1
    assert frozen >= 7
    versus = {row["name"]: row for row in exported.report["artifacts"]}["model_qat_int8.tflite"]
    assert versus["top1_vs_post_training_int8"]["points"] >= -0.34, versus  # at most one of 300 images


def test_pruned_and_clustered_artifacts_keep_their_structure(exported):
    stats = {key: exported.manifest["artifacts"][key]["compression"]
             for key in ("pruned_float32", "pruned_int8", "clustered_float32", "clustered_int8")}
    assert stats["pruned_float32"]["sparsity"] >= 0.49 and stats["pruned_int8"]["sparsity"] >= 0.49
    assert stats["clustered_float32"]["max_unique_per_channel"] <= 8
    assert stats["clustered_int8"]["max_unique_per_channel"] <= 8
    plain = os.path.getsize(exported.paths["float32"])
    from keras_resnet.export.compression import gzip_size

    assert stats["pruned_float32"]["gzip_bytes"] < 0.75 * gzip_size(exported.paths["float32"])
    assert stats["clustered_float32"]["gzip_bytes"] < 0.5 * gzip_size(exported.paths["float32"])
    assert abs(stats["pruned_float32"]["size_bytes"] - plain) < 0.05 * plain  # same file size, compresses better
    rows = {row["name"]: row for row in exported.report["artifacts"]}
    assert rows["model_pruned_float32.tflite"]["compression"]["sparsity"] >= 0.49
    for key in ("pruned_float32", "clustered_float32"):  # float variants match their own model to 1e-4
        assert exported.manifest["artifacts"][key]["verification"]["max_abs_diff"] <= 1e-4
    assert exported.manifest["optimizations"]["pruned"]["keras_weights"]["sparsity"] >= 0.49


# --- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("options, message", [
    (dict(modes="int8,qat", qat_epochs=0), "--qat-epochs 0"),
    (dict(modes="qat", qat_epochs=-2), "--qat-epochs -2"),
    (dict(modes="qat", qat_learning_rate=0), "--qat-learning-rate 0"),
    (dict(modes="float32", prune=1.0), "--prune 1.0"),
    (dict(modes="float32", prune=-0.1), "--prune -0.1"),
    (dict(modes="float32", prune=0.5, prune_epochs=0), "--prune-epochs 0"),
    (dict(modes="float32", cluster=1), "--cluster 1"),
    (dict(modes="float32", cluster=2.5), "--cluster 2.5"),
    (dict(modes="int8,qta"), "unknown quantization mode 'qta'"),
])
def test_bad_options_fail_before_anything_is_written(options, message, trained, tmp_path):
    out = tmp_path / "never"
    with pytest.raises(KerasResnetError, match=message.replace("(", "\\(")):
        export_all(trained, out, progress=False, **options)
    assert not out.exists()


def test_qat_needs_labelled_training_data(trained, digits, tmp_path):
    train_x, _, test_x, test_y = digits
    with pytest.raises(KerasResnetError, match="labelled training images"):
        export_all(trained, tmp_path, modes="qat", calibration_images=train_x, heldout_images=test_x,
                   heldout_labels=test_y, progress=False)
    assert not os.listdir(tmp_path)


def test_parse_quantize():
    assert parse_quantize("int8,qat") == (["int8"], True)
    assert parse_quantize("qat") == ([], True)
    assert parse_quantize("all")[1] is False and len(parse_quantize("all,qat")[0]) == 5


def test_cli_rejects_bad_options(tmp_path):
    from click.testing import CliRunner

    from keras_resnet.cli import main

    model = tmp_path / "model.keras"
    for flags, message in ((["--quantize", "qat", "--qat-epochs", "0"], "--qat-epochs 0"),
                           (["--prune", "1.5"], "--prune 1.5"), (["--cluster", "1"], "--cluster 1")):
        result = CliRunner().invoke(main, ["export", str(model), "--out", str(tmp_path / "out"), *flags])
        assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_cli_exports_qat_with_progress(trained, tmp_path):
    from click.testing import CliRunner

    from keras_resnet.cli import main

    trained.save(tmp_path / "model.keras")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["export", str(tmp_path / "model.keras"), "--out", str(out), "--data", "bundled",
                                       "--formats", "tflite", "--quantize", "qat", "--qat-epochs", "1",
                                       "--calibration-size", "32", "--verify-images", "32", "--no-report"])
    assert result.exit_code == 0, result.output
    # the bundled training split, less the tenth held out to choose the checkpoint on
    assert "Quantization-aware training: 3240 images" in result.output
    assert "model_qat_int8.tflite" in result.output and (out / "model_qat_int8.tflite").is_file()
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["optimizations"]["qat"]["training_images"] == 3600
    selection = manifest["optimizations"]["qat"]["checkpoint_selection"]
    assert selection["validation_images"] == 360 and selection["steps"] == 102
    assert selection["chosen_step"] in [step for step, _, _ in selection["validation_errors_and_loss"]]


# --- the caller's Keras ------------------------------------------------------------------------

def test_tf_keras_stays_keras3_for_the_caller():
    """A fresh process that never touched tf.keras runs QAT, then still finds Keras 3 there."""
    script = textwrap.dedent("""
        import os
        import keras, tensorflow as tf
        import keras_resnet
        from keras_resnet.data import load_dataset
        from keras_resnet.export import quantization_aware_training
        assert "TF_USE_LEGACY_KERAS" not in os.environ
        data = load_dataset("bundled").train
        model = keras_resnet.CifarResNet(depth=8, input_shape=(28, 28, 1), classes=10)
        quantized = quantization_aware_training(model, data.images[:64], data.labels[:64], epochs=1,
                                                progress=False)
        assert type(quantized).__module__.startswith("tf_keras")
        print("env", os.environ.get("TF_USE_LEGACY_KERAS"))
        print("tf.keras is keras 3", tf.keras.layers.Dense is keras.layers.Dense, tf.keras.__version__)
        print("compat", tf.compat.v2.keras.layers.Dense is keras.layers.Dense, tf.losses.Loss is keras.losses.Loss)
    """)
    environment = {key: value for key, value in os.environ.items() if key != "TF_USE_LEGACY_KERAS"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            env={**environment, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "env None" in result.stdout
    assert f"tf.keras is keras 3 True {keras.__version__}" in result.stdout
    assert "compat True True" in result.stdout


def test_tf_keras_stays_keras3_in_process(exported):
    """This process ran QAT (the ``exported`` fixture): tf.keras and the environment are as before."""
    assert os.environ.get("TF_USE_LEGACY_KERAS") is None
    assert tf.keras.layers.Dense is keras.layers.Dense
