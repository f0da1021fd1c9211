"""Transfer learning: a pretrained backbone, a new head for the user's classes, frozen then fine-tuned.

``train(weights="imagenet" | PATH, freeze_epochs=N, fine_tune_learning_rate=...)`` builds the
same network as an ordinary run (same layer names: ``avg_pool`` + ``predictions`` head, so
export and resume see nothing new), copies the pretrained weights into every layer but the
head by name, trains only the head for ``freeze_epochs`` epochs, then unfreezes everything.

Where the weights come from, and the input preprocessing they need (the model takes raw
0-255 pixels either way, because the matching preprocessing is built into it). The files are
read by ``keras_resnet.weights.read_weights_file``, as the builders read them, so a run and
``build_model(name, weights=PATH)`` build in the same preprocessing:

- ``"imagenet"``: keras.applications' file for the zoo model (resnet50/101/152 and V2).
- keras.applications-style ``.h5``: "caffe" (v1, first-conv channels reversed: those files
  are BGR) or "symmetric" (v2).
- ``.keras`` (e.g. another run's ``model.keras``): the saved model's own preprocessing
  layer is adopted (its scale and offset are matched to a ``preprocessing`` option).
- ``.weights.h5`` (``model.save_weights``, or a run's checkpoint): holds no preprocessing;
  the run's ``model_options`` (default "rescale") must be those the weights were trained with.
- PyTorch state dicts of timm / torchvision ResNets: ``timm:NAME`` or ``hf-hub:ORG/NAME`` (the
  Hugging Face hub, cached) or a ``.safetensors`` / ``.pth`` / ``.bin`` file
  (:mod:`keras_resnet.pytorch_weights`): "standardize" with their mean/std, and the model options
  they need (PyTorch padding, their stem and shortcut) join the run's ``model_options``.

A ``preprocessing`` model option still wins; one the weights were not trained with is said in a
one-line warning.

The data is converted to the channels the weights take when ``channels`` is left out (gray
digits become RGB for ImageNet weights; augmentation is still chosen for the data's own
channels, so digits are not mirrored); a ``channels`` that contradicts them is an error. Any
image size the network accepts works (the backbone is convolutional; ImageNet weights do best
near 224); one too small names ``--image-size``.

Phases: phase 1 (``freeze_epochs``) trains the head at ``learning_rate``; phase 2 trains all
layers at ``fine_tune_learning_rate`` (a rate, or a factor such as the default "0.1x"). Each
phase has its own optimizer and runs ``schedule`` and ``warmup_epochs`` over its own epochs.
With ``freeze_epochs=0`` the whole network trains from the weights at ``learning_rate``.
While frozen, every backbone layer has ``trainable = False``; for BatchNormalization that
also means inference mode in Keras 3 (``training and self.trainable``): moving statistics
are used and left unchanged (stochastic depth, a regulariser, still drops units).

BatchNorm while fine-tuning (phase 2, or the whole run with ``freeze_epochs=0``):
``fine_tune_batchnorm="train"`` (the default) trains the backbone's BatchNormalization layers:
batch statistics (per replica unless ``sync_batchnorm``), moving statistics updated, gamma/beta
learned. ``"frozen"`` (Keras' transfer-learning guide) keeps them frozen: inference mode, moving
statistics used and not updated, and gamma/beta fixed too (Keras 3 freezes a layer's weights
with its mode); convolutions and the head train. ``benchmarks/fine_tune_batchnorm.py`` measured
"train" better on a digits transfer task, and "frozen" diverging at the higher fine-tuning rate.
"""

from __future__ import annotations

import dataclasses
import os
import re

from keras_resnet.errors import KerasResnetError, first_line
from keras_resnet.naming import HEAD_LAYERS

DESCRIPTION_KEYS = ("source", "kind", "channels")  # what ``describe`` records besides the model options


@dataclasses.dataclass
class Pretrained:
    """Backbone weights by layer name, and what the model must look like to take them."""

    source: str  # "imagenet" or the file given
    kind: str  # imagenet | keras | keras_applications_h5 | weights_h5 | pytorch
    layer_weights: dict  # {layer name: [arrays]}, first conv already in RGB order
    channels: int | None  # input channels the first convolution takes (None: unknown)
    model_options: dict  # preprocessing (and architecture) options that match the weights ({} : the run's own)
    checkpoint: object = None  # a PyTorch file's keras_resnet.pytorch_weights.Checkpoint: names misfits by tensor

    def describe(self) -> dict:
        """For config.json: where the weights came from and what they imply (see ``recorded``)."""
        return {"source": self.source, "kind": self.kind, "channels": self.channels, **self.model_options}


def recorded(saved_config, config) -> Pretrained | None:
    """What a run being resumed recorded about its weights (no arrays: the checkpoint holds every weight),
    so a resume needs neither the weights file nor the download again. None when it recorded nothing."""
    record = ((saved_config or {}).get("resolved") or {}).get("pretrained")
    if not isinstance(record, dict) or record.get("source") != config.weights:
        return None
    options = {key: value for key, value in record.items() if key not in DESCRIPTION_KEYS}
    return Pretrained(record["source"], record.get("kind", "unknown"), {}, record.get("channels"), options)


def _from_file(config, path, source=None) -> Pretrained:
    """A keras.applications .h5, a .keras file or a PyTorch state dict, with the preprocessing the weights were
    trained with (or the run's explicit one: see ``keras_resnet.preprocessing.choose_preprocessing``) and the model
    options they need; ``source`` "imagenet" for that file."""
    from keras_resnet.preprocessing import AUTO, choose_preprocessing
    from keras_resnet.weights import read_weights_file

    weights = read_weights_file(path)
    options = choose_preprocessing(config.model_options.get("preprocessing", AUTO), weights.trained_with,
                                   "the ImageNet weights" if source else f"'{path}'")
    return Pretrained(source or path, source or weights.kind, weights.layer_weights_for(options["preprocessing"]),
                      weights.channels, {**weights.model_options, **options}, weights.checkpoint)


def _imagenet(config) -> Pretrained:
    from keras_resnet.weights import KERAS_APPLICATIONS_HASHES
    from keras_resnet.zoo import get_entry

    if config.model not in KERAS_APPLICATIONS_HASHES:
        raise KerasResnetError(
            f"no ImageNet weights for model {config.model!r}: they exist for {', '.join(KERAS_APPLICATIONS_HASHES)}"
            "; pick one of those with --model, or pass --weights PATH of a model of yours"
        )
    return _from_file(config, get_entry(config.model).imagenet_weights(include_top=False), source="imagenet")


def _h5_layout(path):
    """(classes of the head or None, input channels or None) of a Keras 3 ``.weights.h5`` file."""
    import h5py

    with h5py.File(path, "r") as file:
        layers = file.get("layers")
        if layers is None:
            return None, None
        dense = sorted((int(match[1] or 0), name) for name in layers
                       if (match := re.fullmatch(r"dense(?:_(\d+))?", name)))
        classes = None
        if dense:
            variables = layers[dense[-1][1]].get("vars")
            if variables is not None and "1" in variables:
                classes = int(variables["1"].shape[0])
        conv = layers.get("conv2d/vars/0")
        channels = int(conv.shape[2]) if conv is not None and len(conv.shape) == 4 else None
    return classes, channels


def _weights_h5(config, path) -> Pretrained:
    from keras_resnet.training.precision import dtype_policy
    from keras_resnet.zoo import build_network

    classes, channels = _h5_layout(path)
    options = dict(config.model_options)
    if classes is None:
        options["include_top"] = False
    with dtype_policy("float32"):
        template = build_network(config.model, (None, None, channels or 3), classes or 10, options)
    try:
        template.load_weights(path)
    except Exception as error:  # ValueError for a misfit, OSError for a broken file
        reason = first_line(error)
        raise KerasResnetError(
            f"--weights '{path}' does not fit model {config.model!r} ({reason}): pass the --model and "
            "--model-option settings they were trained with, or give the run's .keras file"
        ) from None
    layer_weights = {layer.name: layer.get_weights() for layer in template.layers if layer.weights}
    return Pretrained(path, "weights_h5", layer_weights, channels, {})


def load_pretrained(config) -> Pretrained | None:
    """The weights ``config.weights`` names, read once (before the data: they decide its channels)."""
    if config.weights is None:
        return None
    if config.weights == "imagenet":
        return _imagenet(config)
    from keras_resnet.pytorch_weights import is_pytorch_weights
    from keras_resnet.weights import is_legacy_h5

    path = config.weights
    if is_pytorch_weights(path):
        return _from_file(config, path)
    if not os.path.isfile(path):
        raise KerasResnetError(
            f"--weights '{path}' does not exist: give imagenet, timm:NAME, or the path of a .keras / .weights.h5 / "
            ".safetensors / .pth file"
        )
    lower = path.lower()
    if lower.endswith(".keras"):
        return _from_file(config, path)
    if lower.endswith(".weights.h5"):
        return _weights_h5(config, path)
    if lower.endswith((".h5", ".hdf5")):
        try:
            legacy = is_legacy_h5(path) if lower.endswith(".h5") else False
        except OSError:
            legacy = False
        if legacy:
            return _from_file(config, path)
        raise KerasResnetError(
            f"--weights '{path}' is not a keras.applications weight file (no layer_names): give a .keras or "
            ".weights.h5 file"
        )
    raise KerasResnetError(
        f"--weights '{path}' is not a weights file: give imagenet, timm:NAME, a .keras, .weights.h5, keras.applications"
        " .h5, or a PyTorch .safetensors / .pth / .bin"
    )


def load_into(model, pretrained: Pretrained, model_name: str) -> int:
    """Copies the pretrained weights into every layer of ``model`` but the new head; returns how many layers.

    Every backbone layer must get weights and every pretrained backbone layer must be used: a file
    of a deeper net would otherwise fill a shallower one's layers and leave the rest behind.
    """
    from keras_resnet.weights import load_layer_weights

    imagenet = pretrained.source == "imagenet"
    if pretrained.checkpoint is not None:  # a PyTorch file: the first tensor that does not fit, by its name
        pretrained.checkpoint.check(model, skip=HEAD_LAYERS)
    names = {layer.name for layer in model.layers if layer.weights}
    unused = sorted(name for name in pretrained.layer_weights if name not in names and name not in HEAD_LAYERS)
    if unused:
        listed = ", ".join(unused[:3]) + (" ..." if len(unused) > 3 else "")
        raise KerasResnetError(
            f"{'the ImageNet weights' if imagenet else f'the weights in {pretrained.source!r}'} hold layers model "
            f"{model_name!r} lacks ({listed}): they come from another architecture; pass the --model (and "
            "--model-option settings) they were trained as"
        )
    try:
        load_layer_weights(model, pretrained.layer_weights, "the ImageNet weights" if imagenet
                           else repr(pretrained.source), skip_missing=HEAD_LAYERS)
    except KerasResnetError as error:
        raise KerasResnetError(
            f"{error} (model {model_name!r}: pass the --model and --model-option settings the weights were "
            "trained with)"
        ) from None
    return len(names - set(HEAD_LAYERS))


def set_backbone_trainable(model, trainable: bool, batchnorm: bool = True) -> None:
    """Freezes (or unfreezes) every layer but the head; ``batchnorm=False`` keeps the backbone's BatchNormalization
    layers frozen even when it is unfrozen. Frozen BatchNorm runs in inference mode (see the module docstring)."""
    import keras

    for layer in model.layers:
        if layer.name not in HEAD_LAYERS:
            is_batchnorm = isinstance(layer, keras.layers.BatchNormalization)
            layer.trainable = trainable and (batchnorm or not is_batchnorm)
