"""The model zoo: every named ResNet of both papers, with the settings that reproduce its reference."""

import dataclasses
import re

from keras_resnet.errors import KerasResnetError
from keras_resnet.models import (KERAS_APPLICATIONS_V1, KERAS_APPLICATIONS_V2, TORCHVISION, CifarResNet, ImageNetResNet,
                                 image_dimensions, image_shape)
from keras_resnet.specs import CIFAR_BASIC_DEPTHS, CIFAR_BOTTLENECK_DEPTHS, IMAGENET_DEPTHS, cifar_units_per_stage
from keras_resnet.weights import KERAS_APPLICATIONS_HASHES, fetch_imagenet_weights, read_weights_file


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """A named model: the family builder and the settings it fixes."""

    name: str
    family: str  # "imagenet" or "cifar"
    depth: int
    version: str
    settings: dict
    reference: str

    def build(self, **kwargs):
        """The model; ``weights="imagenet"`` is keras.applications' file for it, loaded like any weights file
        (with the preprocessing it was trained with, see :mod:`keras_resnet.weights`). Weights that need other
        settings (PyTorch's: ``timm:NAME``, a ``.pth`` ...) replace this entry's with theirs."""
        settings = self.settings
        if kwargs.get("weights") == "imagenet":
            kwargs["weights"] = self.imagenet_weights(kwargs.get("include_top", True), kwargs.get("classes", 1000),
                                                      kwargs.get("input_shape"))
        if kwargs.get("weights") is not None:
            kwargs["weights"] = read_weights_file(kwargs["weights"])  # read once, here and by the builder
            settings = {**settings, **kwargs["weights"].model_options}
        builder = ImageNetResNet if self.family == "imagenet" else CifarResNet
        return builder(self.depth, **{"version": self.version, "name": self.name, **settings, **kwargs})

    def imagenet_weights(self, include_top=True, classes=1000, input_shape=None):
        """The path of keras.applications' ImageNet weights for this model (downloaded once), if it can take them."""
        if self.name not in KERAS_APPLICATIONS_HASHES:
            raise KerasResnetError(f"no ImageNet weights for {self.name!r}: they exist for"
                                   f" {', '.join(KERAS_APPLICATIONS_HASHES)}; pass weights=None")
        if include_top and classes != 1000:
            raise KerasResnetError("ImageNet weights with include_top=True need classes=1000:"
                                   " use include_top=False and a new head for your classes")
        if input_shape is not None and len(input_shape) == 3:
            height, width, channels = image_dimensions(input_shape)
            if channels != 3 or (include_top and (height, width) != (224, 224)):
                raise KerasResnetError(f"ImageNet weights need 3 channels{' and 224x224 input' if include_top else ''},"
                                       f" got input_shape={tuple(input_shape)}")
        return fetch_imagenet_weights(self.name, include_top)

    @property
    def default_input_shape(self):
        """224x224 (ImageNet) or 32x32 (CIFAR) RGB, in keras' image data format."""
        size = 224 if self.family == "imagenet" else 32
        return image_shape(size, size, 3)


def _zoo():
    entries = []
    for depth, (block, _) in IMAGENET_DEPTHS.items():
        bottleneck = block == "bottleneck"
        entries.append(ZooEntry(f"resnet{depth}", "imagenet", depth, "v1",
                                KERAS_APPLICATIONS_V1 if bottleneck else TORCHVISION,
                                "keras.applications" if bottleneck and depth <= 152 else
                                ("torchvision" if not bottleneck else "He et al. 2016")))
        entries.append(ZooEntry(f"resnet{depth}v2", "imagenet", depth, "v2",
                                KERAS_APPLICATIONS_V2 if bottleneck else {},
                                "keras.applications" if bottleneck and depth <= 152 else "He et al. 2016"))
    for depth in CIFAR_BASIC_DEPTHS:
        entries.append(ZooEntry(f"resnet{depth}", "cifar", depth, "v1", {}, "He et al. 2015"))
        entries.append(ZooEntry(f"plain{depth}", "cifar", depth, "v1", {"shortcut": "none"}, "He et al. 2015"))
        entries.append(ZooEntry(f"resnet{depth}v2", "cifar", depth, "v2", {}, "He et al. 2016"))
    for depth in CIFAR_BOTTLENECK_DEPTHS:
        for version in ("v1", "v2"):
            entries.append(ZooEntry(f"resnet{depth}{'' if version == 'v1' else 'v2'}", "cifar", depth, version,
                                    {"block": "bottleneck"}, "He et al. 2016"))
    return {entry.name: entry for entry in entries}


ZOO = _zoo()


def model_names():
    return list(ZOO)


def get_entry(name):
    """The zoo entry for ``name``; ``resnetN`` / ``plainN`` (``v2`` suffix) also for any CIFAR depth 6n+2 (resnet8)."""
    key = str(name).lower().replace("-", "").replace("_", "")
    if key in ZOO:
        return ZOO[key]
    match = re.fullmatch(r"(resnet|plain)(\d+)(v2)?", key)
    if match and cifar_units_per_stage(int(match[2]), "basic"):
        family, depth, version = match[1], int(match[2]), "v2" if match[3] else "v1"
        if not (family == "plain" and version == "v2"):
            return ZooEntry(key, "cifar", depth, version, {"shortcut": "none"} if family == "plain" else {},
                            "He et al. 2015" if version == "v1" else "He et al. 2016")
    raise KerasResnetError(f"unknown model {name!r}: run 'keras-resnet models' to list them "
                           f"({', '.join(list(ZOO)[:6])}, ...), or resnetN/plainN for any CIFAR depth 6n+2")


def build_model(name, **kwargs):
    """Build a zoo model by name ('resnet50', 'resnet20', 'plain56', 'resnet164v2', 'resnet8' ...)."""
    return get_entry(name).build(**kwargs)


def build_pretrained(weights, **kwargs):
    """The zoo model PyTorch weights (``timm:NAME``, ``hf-hub:ORG/NAME``, a state dict) fit, with them loaded: the
    classifier they were trained as (224x224 unless ``input_shape`` says otherwise)."""
    weights = read_weights_file(weights)
    name = weights.checkpoint.model_name if weights.checkpoint is not None else None
    if name is None:
        raise KerasResnetError(f"'{weights.path}' does not say which zoo model it fits: build it with "
                               "build_model(name, weights=...)")
    return build_model(name, weights=weights, **kwargs)


def build_network(name, input_shape, classes, options=None):
    """``build_model(name)`` for data of ``input_shape`` and ``classes``, with further model ``options``."""
    return build_model(name, input_shape=tuple(input_shape), classes=classes, **dict(options or {}))


def constructor_name(name):
    """The ``keras_resnet.applications`` constructor of a zoo model: resnet50v2 -> ResNet50V2, plain20 -> PlainNet20."""
    prefix = "PlainNet" if name.startswith("plain") else "ResNet"
    return prefix + name.removeprefix("plain").removeprefix("resnet").replace("v2", "V2")
