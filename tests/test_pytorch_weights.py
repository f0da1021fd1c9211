"""PyTorch weights (timm, torchvision) in our models, checked against the real timm / torchvision code.

Offline: each reference model is built with random weights (``pretrained=False``) and random BatchNorm
parameters and statistics, its state dict saved as .safetensors / .pth / .bin, loaded into our model,
and both run on the same random images. The reference runs in float64, so the bound is on our
float32 arithmetic alone (PyTorch's own float32 run is as far from it: about 1e-5 to 7e-5 here).
"""

import json
import os
import sys
import zipfile

import keras
import numpy as np
import pytest

# PyPI's torch brings triton, whose native library crashes the process when it loads after TensorFlow's (as in
# this test session). Nothing here compiles kernels: torch then runs without it, as where triton is absent.
sys.modules.setdefault("triton", None)
import timm  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from keras_resnet import pytorch_weights
from keras_resnet.errors import KerasResnetError
from keras_resnet.export import export_all
from keras_resnet.export.source import load_source
from keras_resnet.training import build_network, resolve_config, transfer
from keras_resnet.weights import read_weights_file
from keras_resnet.zoo import build_model

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

TOLERANCE = 1e-4  # max |difference| of logits, float32 against the float64 reference
SIZE = (57, 66)  # odd and even sides: every padding, pooling and ceil-mode case
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def randomized(model, seed=0, size=SIZE):
    """Random BatchNorm gammas, betas and running statistics (set on random images, then perturbed), eval mode:
    activations stay of order one, so float32 rounding stays small next to the tolerance."""
    generator = torch.Generator().manual_seed(seed)
    norms = [module for module in model.modules() if isinstance(module, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for norm in norms:
            norm.weight.copy_(torch.rand(norm.weight.shape, generator=generator) * 0.5 + 0.3)
            norm.bias.copy_(torch.randn(norm.bias.shape, generator=generator) * 0.2)
            norm.momentum = None  # running statistics: the plain average of what they see
            norm.reset_running_stats()
        model.train()
        model((torch.rand(8, 3, *size, generator=generator) - 0.45) / 0.226)
        for norm in norms:
            norm.running_mean.add_(torch.randn(norm.running_mean.shape, generator=generator) * 0.1
                                   * norm.running_var.sqrt())
            norm.running_var.mul_(torch.rand(norm.running_var.shape, generator=generator) * 0.45 + 0.8)
    return model.eval()


def reference_model(library, name, seed=0):
    torch.manual_seed(seed)
    model = (torchvision.models.get_model(name, weights=None) if library == "torchvision"
             else timm.create_model(name, pretrained=False))
    return randomized(model, seed)


def save(model, path):
    """The state dict at ``path``: .safetensors, or torch.save's zip (.pth / .bin)."""
    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, path) if str(path).endswith(".safetensors") else torch.save(state, path)
    return str(path)


def reference_logits(model, images, mean, std):
    """The reference's logits in float64 for raw 0-255 ``images`` (batch, height, width, 3)."""
    normalized = (images.astype(np.float64) / 255.0 - np.asarray(mean)) / np.asarray(std)
    with torch.no_grad():
        logits = model.double()(torch.from_numpy(normalized.transpose(0, 3, 1, 2))).numpy()
    model.float()
    return logits


def random_images(count, size=SIZE, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (count, *size, 3)).astype(np.float32)


# library, their model, our zoo model, file, its timm config (None: no config.json beside it)
FAMILIES = [
    ("torchvision", "resnet18", "resnet18", "resnet18.pth", None),  # v1 basic, torchvision's layout
    ("timm", "resnet50", "resnet50", "model.safetensors", None),  # v1.5 bottleneck, stride on the 3x3
    ("timm", "resnet50d", "resnet50", "pytorch_model.bin", None),  # ResNet-D: deep stem, average-pool shortcut
    ("timm", "resnetv2_50d", "resnet50v2", "model.safetensors",  # pre-activation, -D, mean/std of its config
     {"architecture": "resnetv2_50d", "pretrained_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}}),
]  # pre-activation basic units: in test_pre_activation_stems_need_pytorch_padding_and_it_survives_the_config


@pytest.mark.parametrize("library, theirs, ours, file_name, config", FAMILIES,
                         ids=[f"{family[0]}-{family[1]}" for family in FAMILIES])
def test_loaded_weights_give_the_reference_logits(tmp_path, library, theirs, ours, file_name, config):
    reference = reference_model(library, theirs)
    path = save(reference, tmp_path / file_name)
    if config:
        (tmp_path / "config.json").write_text(json.dumps(config))
    model = build_model(ours, weights=path, input_shape=(*SIZE, 3), classifier_activation=None)
    images = random_images(2)
    mean, std = ((config["pretrained_cfg"]["mean"], config["pretrained_cfg"]["std"]) if config else IMAGENET)
    difference = np.abs(model.predict(images, verbose=0) - reference_logits(reference, images, mean, std)).max()
    assert difference <= TOLERANCE, f"{library} {theirs}: max |difference| {difference:.2e}"
    assert model.get_layer("pool1_subsample")  # PyTorch's padding, chosen by the weights


def test_pre_activation_stems_need_pytorch_padding_and_it_survives_the_config(tmp_path):
    """A v2 stem ends without ReLU: the max-pool's zero padding (Keras' way) then changes the outputs."""
    reference = reference_model("timm", "resnetv2_18")
    weights = read_weights_file(save(reference, tmp_path / "model.safetensors"))
    images = random_images(2)
    want = reference_logits(reference, images, *IMAGENET)
    outputs = {}
    for padding in ("keras", "pytorch"):
        model = build_model("resnet18v2", input_shape=(*SIZE, 3), classifier_activation=None,
                            **{**weights.model_options, **weights.trained_with, "padding": padding})
        weights.load_into(model, "standardize")
        outputs[padding] = model.predict(images, verbose=0)
    assert np.abs(outputs["pytorch"] - want).max() <= TOLERANCE < np.abs(outputs["keras"] - want).max()
    rebuilt = keras.Model.from_config(model.get_config())  # how export rebuilds models (its tf_keras twin too)
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(rebuilt.predict(images, verbose=0), outputs["pytorch"], atol=1e-6)
    with pytest.raises(KerasResnetError, match="unknown padding 'torch': choose one of keras, pytorch"):
        build_model("resnet18", padding="torch")


def test_converted_model_exports_to_int8_tflite_that_agrees_with_it(tmp_path):
    """With a new 10-class head, as a transfer run exports it: random weights spread 1000 classes' probabilities
    within 2e-4 of each other, where any rounding reorders the top-1 (int8 stays within 2e-3 of them there)."""
    reference = reference_model("torchvision", "resnet18", seed=1)
    model = build_model("resnet18", weights=save(reference, tmp_path / "resnet18.pth"), input_shape=(32, 32, 3),
                        classes=10)
    np.testing.assert_array_equal(model.get_layer("conv1_conv").get_weights()[0],
                                  reference.conv1.weight.detach().numpy().transpose(2, 3, 1, 0))
    rng = np.random.default_rng(2)  # blocky images: varied predictions, unlike pixel noise
    images = np.kron(rng.uniform(0, 255, (64, 8, 8, 3)), np.ones((1, 4, 4, 1))).astype(np.uint8)
    result = export_all(model, tmp_path / "out", formats="tflite", modes="float32,int8",
                        calibration_images=images[:32], heldout_images=images[32:], calibration_size=32,
                        verify_images=32, evaluate=False, progress=False, class_names=[str(i) for i in range(10)])
    checks = {name: entry["verification"] for name, entry in result.manifest["artifacts"].items()}
    assert checks["float32"]["max_abs_diff"] <= checks["float32"]["tolerance"]
    assert checks["int8"]["top1_agreement"] >= 0.8, checks["int8"]


def test_a_checkpoint_of_another_depth_or_family_names_the_first_tensor_that_does_not_fit(tmp_path):
    resnet34 = save(reference_model("torchvision", "resnet34"), tmp_path / "resnet34.safetensors")
    with pytest.raises(KerasResnetError, match=r"tensor 'layer1.2.bn1.weight' of '.*resnet34.safetensors' does not fit "
                                               r"model 'resnet18': it has no layer 'conv2_block3_1_bn'; they are "
                                               r"resnet34 weights .*: use model 'resnet34' for them") as deeper:
        build_model("resnet18", weights=resnet34, input_shape=(32, 32, 3))  # resnet18's layers all fit, then more
    v2 = save(reference_model("timm", "resnetv2_18"), tmp_path / "v2.safetensors")
    with pytest.raises(KerasResnetError, match=r"tensor 'stages.0.blocks.0.norm1.weight' .* has no layer "
                                               r"'conv2_block1_preact_bn'.*use model 'resnet18v2'") as family:
        build_model("resnet18", weights=v2, input_shape=(32, 32, 3))
    assert "\n" not in str(deeper.value) + str(family.value)


def test_a_failed_load_changes_nothing_and_odd_files_are_one_line_errors(tmp_path):
    resnet18 = reference_model("torchvision", "resnet18")
    path = save(resnet18, tmp_path / "resnet18.pth")
    model = build_model("resnet34", input_shape=(32, 32, 3), **read_weights_file(path).model_options)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(KerasResnetError, match=r"'.*resnet18.pth' has no tensor 'layer1.2.conv1.weight' for layer "
                                               r"'conv2_block3_1_conv' of model 'resnet34'; they are resnet18 weights"):
        read_weights_file(path).load_into(model, "standardize")
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))

    state = {name: tensor.contiguous() for name, tensor in resnet18.state_dict().items()}
    extras = tmp_path / "se.safetensors"
    save_file({**state, "layer1.0.se.fc1.weight": torch.zeros(4, 64, 1, 1)}, extras)
    with pytest.raises(KerasResnetError, match=r"tensor 'layer1.0.se.fc1.weight' .* has no place in keras_resnet's"):
        build_model("resnet18", weights=str(extras))
    other = tmp_path / "other.safetensors"
    save_file({"features.0.weight": torch.zeros(8, 3, 3, 3)}, other)
    with pytest.raises(KerasResnetError, match="is not a torchvision or timm ResNet state dict"):
        build_model("resnet18", weights=str(other))
    with pytest.raises(KerasResnetError, match="need bottleneck_stride='3x3', not '1x1'"):
        build_model("resnet18", weights=path, bottleneck_stride="1x1")
    (tmp_path / "config.json").write_text(json.dumps({"architecture": "resnetaa50d"}))  # read beside the file
    with pytest.raises(KerasResnetError, match="holds timm's resnetaa50d, which keras_resnet does not build"):
        build_model("resnet50", weights=str(extras))


class Payload:
    """Pickles as a call of os.system: what a malicious .pth holds."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_pth_that_holds_code_is_refused_in_one_line_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "payload": Payload(marker)}, path)
    with pytest.raises(KerasResnetError, match=r"holds code or objects other than tensors \((posix|os|nt)\.system\): "
                                               "refused") as refused:
        build_model("resnet18", weights=str(path))
    assert "\n" not in str(refused.value) and not marker.exists()
    module = tmp_path / "module.pth"
    torch.save(torch.nn.Linear(2, 2), module)  # a whole module, not a state dict: classes, refused alike
    with pytest.raises(KerasResnetError, match=r"objects other than tensors \(torch\.nn\.modules"):
        pytorch_weights.read_state_dict(str(module))
    (tmp_path / "legacy.pth").write_bytes(b"\x80\x02}q\x00.")  # a bare pickle: PyTorch's pre-1.6 format
    with pytest.raises(KerasResnetError, match="is not a torch.save zip archive"):
        pytorch_weights.read_state_dict(str(tmp_path / "legacy.pth"))


def test_the_weights_only_reader_reads_what_torch_load_reads(tmp_path):
    """Without PyTorch: dtypes (bfloat16 too), storage offsets and strides of views, a training checkpoint."""
    base = torch.randn(6, 5)
    state = {"float": torch.randn(3, 4), "half": torch.randn(4).half(), "bfloat": torch.randn(5).bfloat16(),
             "long": torch.arange(7), "bool": torch.tensor([True, False]), "scalar": torch.tensor(3),
             "transposed": base.t(), "slice": base[2:4, 1:]}  # views share one storage
    path = tmp_path / "checkpoint.pth"
    torch.save({"epoch": 3, "state_dict": state}, path)
    read = pytorch_weights.read_state_dict(str(path))
    assert sorted(read) == sorted(state)
    for name, tensor in state.items():
        np.testing.assert_array_equal(read[name], tensor.float().numpy() if name == "bfloat" else tensor.numpy())


def hub_cache(root, repository, files):
    """A Hugging Face hub cache holding ``files`` ({name: path}) of ``repository``, as hf_hub_download leaves it."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    folder = root / f"models--{repository.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    (folder / "snapshots" / commit).mkdir(parents=True)
    for name, source in files.items():
        os.replace(source, folder / "snapshots" / commit / name)


def test_timm_names_load_from_the_hub_cache_offline_and_say_where_files_go(tmp_path, monkeypatch):
    import huggingface_hub

    reference = reference_model("timm", "resnet18")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"architecture": "resnet18", "pretrained_cfg": {"mean": [0.5] * 3, "std": [0.5] * 3}}))
    hub_cache(tmp_path / "hub", "timm/resnet18.test",
              {"model.safetensors": save(reference, tmp_path / "model.safetensors"), "config.json": config})
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    model = build_model("resnet18", weights="timm:resnet18.test", input_shape=(*SIZE, 3),
                        classifier_activation=None)
    images = random_images(1)
    assert np.abs(model.predict(images, verbose=0) - reference_logits(reference, images, [0.5] * 3, [0.5] * 3)
                  ).max() <= TOLERANCE
    by_repository = build_model("resnet18", weights="hf-hub:timm/resnet18.test", include_top=False)
    assert by_repository.get_layer("preprocessing").get_config()["offset"] == pytest.approx([-1.0] * 3)
    with pytest.warns(UserWarning, match="no labels"):  # `keras-resnet export timm:NAME` starts here
        source = load_source("timm:resnet18.test")
    assert source.model.input_shape == (None, 224, 224, 3) and len(source.class_names) == 1000
    np.testing.assert_array_equal(source.model.get_layer("predictions").get_weights()[1], reference.fc.bias.detach().numpy())
    with pytest.raises(KerasResnetError, match=r"could not get model.safetensors of timm/resnet50.a1_in1k from the "
                                               r"Hugging Face hub .*download https://huggingface.co/timm/resnet50.a1_in1k"
                                               r"/resolve/main/model.safetensors") as offline:
        build_model("resnet50", weights="timm:resnet50.a1_in1k")
    assert "\n" not in str(offline.value)
    with pytest.raises(KerasResnetError, match="give timm:NAME"):
        build_model("resnet50", weights="hf-hub:no-organisation")


def test_transfer_learning_takes_pytorch_weights_with_their_options_and_a_new_head(tmp_path):
    """What train() does with --weights (build the zoo model with the weights' options, load all but the head)."""
    path = save(reference_model("torchvision", "resnet18"), tmp_path / "resnet18.pth")
    config = resolve_config(model="resnet18", weights=path)
    pretrained = transfer.load_pretrained(config)
    assert pretrained.kind == "pytorch" and pretrained.channels == 3
    assert pretrained.model_options["padding"] == "pytorch"
    assert pretrained.model_options["preprocessing"] == "standardize"
    model = build_network("resnet18", (32, 32, 3), 2, pretrained.model_options)
    assert transfer.load_into(model, pretrained, "resnet18") == len([layer for layer in model.layers
                                                                     if layer.weights]) - 1
    np.testing.assert_array_equal(model.get_layer("conv3_block1_0_bn").get_weights()[3],
                                  pretrained.layer_weights["conv3_block1_0_bn"][3])
    resume = transfer.recorded({"resolved": {"pretrained": pretrained.describe()}}, config)
    assert resume.model_options == pretrained.model_options  # a resumed run rebuilds the same network
    wrong = build_network("resnet34", (32, 32, 3), 2, pretrained.model_options)
    with pytest.raises(KerasResnetError, match="has no tensor 'layer1.2.conv1.weight'.*use model 'resnet18'"):
        transfer.load_into(wrong, pretrained, "resnet34")


def test_zip_members_of_a_state_dict_are_only_read(tmp_path):
    """The reader opens storages by name inside the archive; a tampered record naming a missing one fails cleanly."""
    path = tmp_path / "weights.pth"
    torch.save({"conv1.weight": torch.zeros(2, 3, 7, 7)}, path)
    tampered = tmp_path / "tampered.pth"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(tampered, "w") as target:
        for item in source.infolist():
            if "/data/" not in item.filename:
                target.writestr(item, source.read(item.filename))
    with pytest.raises(KerasResnetError, match="is not a readable PyTorch state dict"):
        pytorch_weights.read_state_dict(str(tampered))
