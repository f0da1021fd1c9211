"""Pretrained weights: weight files read once, with the input preprocessing they were trained with.

``read_weights_file`` is the one place that says what a file holds (builders and ``train`` both use it):

- keras.applications' ``.h5`` (the ImageNet files, or any in their legacy layout): layers by name.
  Our bottleneck ImageNet nets use keras.applications' layer names, so the mapping is the identity
  on names. v1 files (no ``post_bn`` layer) were trained on BGR ("caffe") input; our models take RGB,
  so with ``preprocessing="caffe"`` (the RGB means subtracted inside the model) the first conv's input
  channels are reversed on load. v2 files expect [-1, 1] input: ``preprocessing="symmetric"``.
- our ``.keras``: layers by name, and the preprocessing of the saved model's own Rescaling layer.
- ``.weights.h5`` (``model.save_weights``): loaded by Keras; it records no preprocessing.
- PyTorch state dicts of timm / torchvision ResNets (``.safetensors``, ``.pth``, ``.bin``; ``timm:NAME`` and
  ``hf-hub:ORG/NAME`` from the Hugging Face hub): mapped by :mod:`keras_resnet.pytorch_weights`, which also says
  the model options they need (``model_options``) and the mean/std they were trained with ("standardize").

Kernels have the same layout under either image data format, so the files load into
channels_first models as they are.
"""

import dataclasses
import os

import numpy as np

from keras_resnet import naming
from keras_resnet.errors import KerasResnetError, first_line
from keras_resnet.preprocessing import matching_preprocessing

KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
# model name -> (md5 of the file with the classifier, md5 of the file without): keras.applications' own.
KERAS_APPLICATIONS_HASHES = {
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    "resnet50v2": ("3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    "resnet101v2": ("6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    "resnet152v2": ("a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
}
IMAGENET_PREPROCESSING = {"v1": "caffe", "v2": "symmetric"}


def imagenet_file_name(model_name, include_top):
    return f"{model_name}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"


def fetch_imagenet_weights(model_name, include_top):
    """The keras.applications weight file through keras.utils.get_file (same cache, same hash check)."""
    import keras

    if model_name not in KERAS_APPLICATIONS_HASHES:
        raise KerasResnetError(
            f"no ImageNet weights for {model_name!r}: they exist for {', '.join(KERAS_APPLICATIONS_HASHES)}")
    file_name = imagenet_file_name(model_name, include_top)
    file_hash = KERAS_APPLICATIONS_HASHES[model_name][0 if include_top else 1]
    cache = os.path.join(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras")), "models")
    try:
        return keras.utils.get_file(file_name, KERAS_APPLICATIONS_URL + file_name, cache_subdir="models",
                                    file_hash=file_hash)
    except Exception as error:  # no network, refused, or a corrupt download
        raise KerasResnetError(
            f"could not get {file_name} ({type(error).__name__}): download {KERAS_APPLICATIONS_URL}{file_name}"
            f" on a machine with internet and place it at {os.path.join(cache, file_name)}") from None


def _attribute_list(group, name):
    """A list attribute of a legacy Keras HDF5 group (Keras splits long ones into name0, name1 ...)."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            values.extend(group.attrs[f"{name}{chunk}"])
            chunk += 1
    return [v.decode("utf8") if hasattr(v, "decode") else str(v) for v in values]


def is_legacy_h5(path):
    """True for keras.applications-style weight files (HDF5 with a 'layer_names' attribute)."""
    import h5py

    if not str(path).endswith(".h5") or str(path).endswith(".weights.h5"):
        return False
    with h5py.File(path, "r") as f:
        group = f["model_weights"] if "model_weights" in f else f
        return bool(_attribute_list(group, "layer_names"))


def read_legacy_h5(path):
    """{layer name: [arrays]} from a keras.applications-style HDF5 weight file."""
    import h5py

    layers = {}
    with h5py.File(path, "r") as f:
        group = f["model_weights"] if "model_weights" in f else f
        for name in _attribute_list(group, "layer_names"):
            weight_names = _attribute_list(group[name], "weight_names")
            if weight_names:
                layers[name] = [np.asarray(group[name][w]) for w in weight_names]
    return layers


def first_conv_bgr_to_rgb(layer_weights):
    """``{layer name: [arrays]}`` with the first conv's input channels reversed: BGR-trained ("caffe") to RGB.

    Kernels are ``(height, width, input channels, filters)`` in either image data format.
    """
    if naming.FIRST_CONV not in layer_weights:
        return layer_weights
    arrays = list(layer_weights[naming.FIRST_CONV])
    arrays[0] = arrays[0][:, :, ::-1, :]
    return {**layer_weights, naming.FIRST_CONV: arrays}


def load_layer_weights(model, layer_weights, source, reverse_first_conv_channels=False, skip_missing=()):
    """Assign ``{layer name: [arrays]}`` to the model's layers by name; clear error on the first misfit."""
    if reverse_first_conv_channels:
        layer_weights = first_conv_bgr_to_rgb(layer_weights)
    assignments = []
    for layer in model.layers:
        if not layer.weights or layer.name in skip_missing:
            continue
        if layer.name not in layer_weights:
            raise KerasResnetError(
                f"{source} has no weights for layer {layer.name!r}: it was saved from a different architecture;"
                " build the model that wrote it")
        arrays = list(layer_weights[layer.name])
        expected = [tuple(w.shape) for w in layer.weights]
        if [a.shape for a in arrays] != expected:
            raise KerasResnetError(
                f"weights of layer {layer.name!r} in {source} have shapes {[a.shape for a in arrays]},"
                f" the model needs {expected}: check classes / include_top / input channels")
        assignments.append((layer, arrays))
    for layer, arrays in assignments:  # nothing changes unless everything fits
        layer.set_weights(arrays)


KERAS_APPLICATIONS_H5, KERAS_FILE, WEIGHTS_H5, PYTORCH = "keras_applications_h5", "keras", "weights_h5", "pytorch"


@dataclasses.dataclass
class WeightsFile:
    """A weights file as read: its layers' arrays and the input preprocessing they were trained with."""

    path: str  # the file, or the hub reference it came from
    kind: str  # KERAS_APPLICATIONS_H5 | KERAS_FILE | WEIGHTS_H5 | PYTORCH
    layer_weights: dict | None  # {layer name: [arrays]} as stored; None for .weights.h5 (Keras loads it itself)
    trained_with: dict | None  # the preprocessing options of the weights' input; None: the file does not say
    channels: int | None  # input channels of the first convolution (None: unknown)
    model_options: dict = dataclasses.field(default_factory=dict)  # options the model needs to take the weights
    checkpoint: object = None  # the keras_resnet.pytorch_weights.Checkpoint of a PyTorch state dict

    def layer_weights_for(self, preprocessing):
        """``{layer name: [arrays]}`` for a model with ``preprocessing``: a BGR-trained first conv reversed for
        "caffe", which feeds it RGB."""
        bgr = self.kind == KERAS_APPLICATIONS_H5 and self.trained_with["preprocessing"] == "caffe"
        return first_conv_bgr_to_rgb(self.layer_weights) if bgr and preprocessing == "caffe" else self.layer_weights

    def new_head(self, model):
        """The head layers ``model`` does not take from a PyTorch file: all when its class count differs (a new
        head, as in transfer learning), else none."""
        head = next((layer for layer in model.layers if layer.name == naming.PREDICTIONS), None)
        stored = self.layer_weights.get(naming.PREDICTIONS)
        if head is None or not stored or head.weights[0].shape[-1] == stored[0].shape[-1]:
            return ()
        return naming.HEAD_LAYERS

    def load_into(self, model, preprocessing):
        """Every weight of ``model`` from this file (built with ``preprocessing``); nothing changes on a misfit."""
        if self.checkpoint is not None:
            skip = self.new_head(model)
            self.checkpoint.check(model, skip)  # names the first tensor that does not fit
            load_layer_weights(model, self.layer_weights, self.path, skip_missing=skip)
            return
        if self.layer_weights is not None:
            load_layer_weights(model, self.layer_weights_for(preprocessing), self.path)
            return
        try:
            model.load_weights(self.path)
        except ValueError as error:
            raise KerasResnetError(f"weights in {self.path} do not fit this model ({first_line(error)}):"
                                   " build the architecture that wrote them") from None


def _first_conv_channels(layer_weights):
    kernel = (layer_weights.get(naming.FIRST_CONV) or [None])[0]
    return int(kernel.shape[2]) if kernel is not None and np.ndim(kernel) == 4 else None


def _keras_applications_file(path):
    layer_weights = read_legacy_h5(path)
    version = "v2" if naming.FINAL_ACTIVATION + naming.BN in layer_weights else "v1"  # v2 ends in post_bn
    return WeightsFile(path, KERAS_APPLICATIONS_H5, layer_weights, {"preprocessing": IMAGENET_PREPROCESSING[version]},
                       _first_conv_channels(layer_weights))


def _keras_file(path):
    import keras

    try:
        saved = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for a bad file
        raise KerasResnetError(f"weights file '{path}' could not be loaded as a Keras model ({first_line(error)}):"
                               " give a .keras file saved by model.save(), e.g. a run's model.keras") from None
    layer_weights = {layer.name: layer.get_weights() for layer in saved.layers if layer.weights}
    channels = _first_conv_channels(layer_weights)
    names = {layer.name for layer in saved.layers}
    preprocessing = saved.get_layer(naming.PREPROCESSING) if naming.PREPROCESSING in names else None
    return WeightsFile(path, KERAS_FILE, layer_weights, matching_preprocessing(preprocessing, channels or 3), channels)


def _pytorch_file(weights):
    from keras_resnet.pytorch_weights import read_checkpoint

    checkpoint = read_checkpoint(weights)
    return WeightsFile(os.fspath(weights), PYTORCH, checkpoint.layer_weights, checkpoint.trained_with,
                       checkpoint.channels, checkpoint.model_options, checkpoint)


def read_weights_file(path):
    """The :class:`WeightsFile` at ``path``: ours (.keras / .weights.h5), keras.applications' .h5, or a PyTorch state
    dict (a path, or ``timm:NAME`` / ``hf-hub:ORG/NAME``: see :mod:`keras_resnet.pytorch_weights`)."""
    if isinstance(path, WeightsFile):
        return path
    from keras_resnet.pytorch_weights import is_pytorch_weights

    if is_pytorch_weights(path):
        return _pytorch_file(path)
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise KerasResnetError(f"weights file {path!r} does not exist: pass None or the path of a weights file")
    try:
        legacy = is_legacy_h5(path)
    except OSError:  # not HDF5: Keras says what is wrong when it loads the file
        legacy = False
    if legacy:
        return _keras_applications_file(path)
    if path.lower().endswith(".keras"):
        return _keras_file(path)
    return WeightsFile(path, WEIGHTS_H5, None, None, None)
