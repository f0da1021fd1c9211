"""PyTorch ResNet checkpoints (timm, torchvision) as keras_resnet weights, read without PyTorch.

A state dict (``.safetensors``; ``.pth`` / ``.bin`` / ``.pt`` through a weights-only unpickler that refuses
anything but tensors) is mapped to our layer names by one table per family (``FAMILIES``: torchvision/timm
ResNet v1.5, timm ResNetV2), each with its stems and shortcut kinds (ResNet-C/D among them): templates of
their module names and ours, walked by one code path in both directions. The checkpoint says which model it
needs (``Checkpoint.model_options``: PyTorch padding, stride on the 3x3, no conv bias, its stem and shortcut)
and how its input was normalised (mean/std of its timm config, else ImageNet's), which the model builds in,
so it still takes raw 0-255 pixels.

    build_model("resnet50", weights="timm:resnet50.a1_in1k")   # the Hugging Face hub (its cache)
    build_model("resnet50v2", weights="hf-hub:timm/resnetv2_50.a1h_in1k")
    build_model("resnet18", weights="resnet18-f37072fd.pth")  # a local state dict (a timm config.json beside it
                                                               # is read for the mean/std)
"""

import collections
import dataclasses
import functools
import json
import os
import pickle
import re
import zipfile

import numpy as np

from keras_resnet import naming
from keras_resnet.errors import KerasResnetError, first_line
from keras_resnet.preprocessing import IMAGENET_MEAN, IMAGENET_STD
from keras_resnet.specs import IMAGENET_DEPTHS

HUB_PREFIXES = ("timm:", "hf-hub:")
STATE_DICT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
HUB_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")  # what a timm hub repository holds, preferred first
CONFIG_FILE = "config.json"  # timm's: architecture, num_classes, pretrained_cfg (mean, std, ...)
# timm architectures whose arithmetic our models reproduce; others with the same tensors (anti-aliased,
# blur-pooled, GroupNorm/EvoNorm, BiT) are refused by name when a config names them.
SUPPORTED_ARCHITECTURE = re.compile(r"resnet(v2_)?(18|34|50|101|152|200)[cds]?")


def is_pytorch_weights(weights):
    """True for a hub reference (``timm:NAME``, ``hf-hub:ORG/NAME``) or the path of a PyTorch state dict."""
    if not isinstance(weights, (str, os.PathLike)):
        return False
    text = os.fspath(weights)
    return text.startswith(HUB_PREFIXES) or text.lower().endswith(STATE_DICT_SUFFIXES)


# ---------------------------------------------------------------- name tables

CONV, BN, DENSE = "conv", "bn", "dense"  # how a module's tensors become a Keras layer's weights
UNIT = "conv{stage}_block{unit}"  # naming.unit_name with placeholders


@dataclasses.dataclass(frozen=True)
class Rule:
    """One of their modules and our layer, as templates with ``{stage}``, ``{unit}``, ``{k}`` placeholders."""

    theirs: str
    ours: str
    kind: str


def _rules(*triples):
    return tuple(Rule(*triple) for triple in triples)


@dataclasses.dataclass(frozen=True)
class Family:
    """How one family of PyTorch ResNets names its modules, and what each of ours is called."""

    name: str
    version: str
    marker: str  # a tensor that only this family has
    unit: str  # their prefix of a unit's modules
    stage_offset: int  # our stage number minus theirs (units count from 0 there, from 1 here)
    rules: tuple  # every unit's convs and norms, the final norm, the head
    stems: dict  # our stem_type -> its rules (told apart by the first rule's tensor)
    projections: dict  # our projection_downsampling -> its rules (told apart by the first rule, where they differ)

    @property
    def first_unit(self):
        """Their prefix of the first unit's modules."""
        return self.marker.removesuffix(".conv1.weight")

    def layout(self, stem, projection):
        """Every rule of a checkpoint of this family with the given stem and shortcut."""
        return self.stems[stem] + self.rules + self.projections[projection]


_V1_UNIT = "layer{stage}.{unit}"
_V2_UNIT = "stages.{stage}.blocks.{unit}"
V1 = Family(
    "torchvision/timm ResNet", "v1", "layer1.0.conv1.weight", _V1_UNIT, 1,
    rules=_rules((_V1_UNIT + ".conv{k}", UNIT + "_{k}" + naming.CONV, CONV),
                 (_V1_UNIT + ".bn{k}", UNIT + "_{k}" + naming.BN, BN),
                 ("fc", naming.PREDICTIONS, DENSE)),
    stems={"imagenet": _rules(("conv1", naming.FIRST_CONV, CONV), ("bn1", naming.STEM + naming.BN, BN)),
           "deep": _rules(("conv1.0", "conv1_1" + naming.CONV, CONV), ("conv1.1", "conv1_1" + naming.BN, BN),
                          ("conv1.3", "conv1_2" + naming.CONV, CONV), ("conv1.4", "conv1_2" + naming.BN, BN),
                          ("conv1.6", "conv1_3" + naming.CONV, CONV), ("bn1", "conv1_3" + naming.BN, BN))},
    projections={"strided_conv": _rules((_V1_UNIT + ".downsample.0", UNIT + naming.PROJECTION_CONV, CONV),
                                        (_V1_UNIT + ".downsample.1", UNIT + naming.SHORTCUT + naming.BN, BN)),
                 "average_pool": _rules((_V1_UNIT + ".downsample.1", UNIT + naming.PROJECTION_CONV, CONV),
                                        (_V1_UNIT + ".downsample.2", UNIT + naming.SHORTCUT + naming.BN, BN))},
)
V2 = Family(
    "timm ResNetV2", "v2", "stages.0.blocks.0.conv1.weight", _V2_UNIT, 2,
    rules=_rules((_V2_UNIT + ".norm1", UNIT + naming.PREACTIVATION + naming.BN, BN),
                 (_V2_UNIT + ".conv{k}", UNIT + "_{k}" + naming.CONV, CONV),
                 (_V2_UNIT + ".norm2", UNIT + "_1" + naming.BN, BN),
                 (_V2_UNIT + ".norm3", UNIT + "_2" + naming.BN, BN),
                 ("norm", naming.FINAL_ACTIVATION + naming.BN, BN),
                 ("head.fc", naming.PREDICTIONS, DENSE)),
    stems={"imagenet": _rules(("stem.conv", naming.FIRST_CONV, CONV)),
           "deep": _rules(("stem.conv1", "conv1_1" + naming.CONV, CONV), ("stem.norm1", "conv1_1" + naming.BN, BN),
                          ("stem.conv2", "conv1_2" + naming.CONV, CONV), ("stem.norm2", "conv1_2" + naming.BN, BN),
                          ("stem.conv3", "conv1_3" + naming.CONV, CONV))},
    # DownsampleConv and DownsampleAvg name their conv alike: the config's architecture (or the stem) decides
    projections={kind: _rules((_V2_UNIT + ".downsample.conv", UNIT + naming.PROJECTION_CONV, CONV))
                 for kind in ("strided_conv", "average_pool")},
)
FAMILIES = (V1, V2)


@functools.lru_cache(maxsize=None)
def _pattern(template):
    parts = re.split(r"\{(\w+)\}", template)  # literal, field, literal, ...
    return re.compile("".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>\\d+)" for i, part in enumerate(parts)))


def _translate(name, source, target, shifts):
    """``name`` matched against template ``source`` and written as ``target`` with each field shifted, or None."""
    match = _pattern(source).fullmatch(name)
    if match is None:
        return None
    return target.format(**{field: int(value) + shifts.get(field, 0) for field, value in match.groupdict().items()})


def _shifts(family, sign):
    return {"stage": sign * family.stage_offset, "unit": sign}


# ---------------------------------------------------------------- reading files

_STORAGE_DTYPES = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "BFloat16Storage": "<u2",
                   "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1",
                   "ByteStorage": "u1", "BoolStorage": "?"}


class _Refused(Exception):
    """The pickle asked for something other than a tensor."""


@dataclasses.dataclass(frozen=True)
class _StorageType:
    name: str


def _rebuild_tensor(storage, offset, size, stride, *_):
    """torch._utils._rebuild_tensor_v2 as a numpy array (a copy, in the storage's dtype)."""
    itemsize = storage.itemsize
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=tuple(step * itemsize for step in stride))
    return np.array(view)


def _rebuild_parameter(data, *_):
    return data


class _TensorUnpickler(pickle.Unpickler):
    """Unpickles a ``torch.save`` archive's ``data.pkl`` into numpy arrays; any other global is refused, so no
    code in the file ever runs."""

    _GLOBALS = {("collections", "OrderedDict"): collections.OrderedDict,
                ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
                ("torch._utils", "_rebuild_parameter"): _rebuild_parameter}

    def __init__(self, file, archive, prefix):
        super().__init__(file)
        self.archive, self.prefix = archive, prefix

    def find_class(self, module, name):
        if (module, name) in self._GLOBALS:
            return self._GLOBALS[module, name]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise _Refused(f"{module}.{name}")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise _Refused(f"persistent id {str(pid)[:40]}")
        data = self.archive.read(f"{self.prefix}/data/{pid[2]}")
        array = np.frombuffer(data, dtype=_STORAGE_DTYPES[pid[1].name])
        if pid[1].name == "BFloat16Storage":  # bfloat16 is the upper half of a float32
            array = (array.astype(np.uint32) << 16).view(np.float32)
        return array


def _read_pickled(path):
    """The object a ``torch.save`` zip archive holds, tensors as numpy arrays, without PyTorch; refuses code."""
    if not zipfile.is_zipfile(path):
        raise KerasResnetError(
            f"'{path}' is not a torch.save zip archive (PyTorch >= 1.6): save the state dict again with a current "
            "PyTorch, or as .safetensors")
    with zipfile.ZipFile(path) as archive:
        pickles = [name for name in archive.namelist() if name.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise KerasResnetError(f"'{path}' holds {len(pickles)} data.pkl records, not one: give a state dict saved "
                                   "by torch.save(model.state_dict(), path), or a .safetensors file")
        prefix = pickles[0][:-len("/data.pkl")]
        if f"{prefix}/byteorder" in archive.namelist() and archive.read(f"{prefix}/byteorder").strip() != b"little":
            raise KerasResnetError(f"'{path}' was saved on a big-endian machine: save it as .safetensors there")
        with archive.open(pickles[0]) as file:
            try:
                return _TensorUnpickler(file, archive, prefix).load()
            except _Refused as refused:
                raise KerasResnetError(
                    f"'{path}' holds code or objects other than tensors ({refused}): refused, nothing of it was run; "
                    "give a plain state dict (torch.save(model.state_dict(), path)) or a .safetensors file") from None
            except (pickle.UnpicklingError, KeyError, ValueError, TypeError, EOFError) as error:
                raise KerasResnetError(f"'{path}' is not a readable PyTorch state dict ({first_line(error)}): "
                                       "download or save it again") from None


def _read_safetensors(path):
    try:
        from safetensors.numpy import load_file
    except ImportError:
        raise KerasResnetError(f"reading '{path}' needs the safetensors package: pip install safetensors") from None
    try:
        return load_file(path)
    except Exception as error:  # a truncated file, a bad header, a dtype numpy lacks
        raise KerasResnetError(f"'{path}' is not a readable .safetensors file ({first_line(error)}): download it"
                               " again") from None


def read_state_dict(path):
    """``{tensor name: numpy array}`` of a PyTorch state dict file (a training checkpoint's model entry too)."""
    if not os.path.isfile(path):
        raise KerasResnetError(f"weights file '{path}' does not exist: give the path of a .safetensors, .pth or .bin"
                               " state dict, or timm:NAME")
    loaded = _read_safetensors(path) if path.lower().endswith(".safetensors") else _read_pickled(path)
    if isinstance(loaded, dict):
        for key in ("state_dict", "model"):  # training checkpoints wrap the state dict
            if isinstance(loaded.get(key), dict):
                loaded = loaded[key]
                break
    if not isinstance(loaded, dict) or not all(isinstance(value, np.ndarray) for value in loaded.values()):
        raise KerasResnetError(f"'{path}' does not hold a state dict ({{name: tensor}}): save one with "
                               "torch.save(model.state_dict(), path)")
    return {name.removeprefix("module."): value for name, value in loaded.items()}


def _read_config(path):
    """A timm config.json as a dict, or None where there is none (or it is not timm's)."""
    try:
        with open(path, encoding="utf-8") as file:
            config = json.load(file)
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) and ("architecture" in config or "pretrained_cfg" in config) else None


def hub_repository(reference):
    """``timm:NAME`` -> ``timm/NAME``; ``hf-hub:ORG/NAME`` -> ``ORG/NAME``."""
    prefix, _, name = reference.partition(":")
    repository = f"timm/{name}" if prefix == "timm" else name
    if not name or repository.count("/") != 1 or not all(repository.split("/")):
        raise KerasResnetError(f"weights {reference!r}: give timm:NAME (e.g. timm:resnet50.a1_in1k) or "
                               "hf-hub:ORG/NAME")
    return repository


def fetch_hub_files(reference):
    """(the weights file, the timm config or None) of a hub model, through huggingface_hub and its cache."""
    repository = hub_repository(reference)
    wanted = HUB_WEIGHT_FILES[0]
    try:
        import huggingface_hub
    except ImportError:
        raise KerasResnetError(
            f"weights {reference!r} come from the Hugging Face hub: pip install huggingface_hub, or download "
            f"{wanted} and {CONFIG_FILE} of {repository} and pass the path of {wanted}") from None
    from huggingface_hub.utils import EntryNotFoundError, LocalEntryNotFoundError

    path = failure = None
    for file_name in HUB_WEIGHT_FILES:
        try:
            path = huggingface_hub.hf_hub_download(repository, file_name)
            break
        except Exception as error:  # offline, unknown repository, no such file, no access
            failure = failure or error
            if isinstance(error, LocalEntryNotFoundError) or not isinstance(error, EntryNotFoundError):
                break  # the hub cannot be reached (or refuses): the next file would fail alike, after its retries
    if path is None:
        cache = getattr(huggingface_hub.constants, "HF_HUB_CACHE", "~/.cache/huggingface/hub")
        raise KerasResnetError(
            f"could not get {wanted} of {repository} from the Hugging Face hub ({type(failure).__name__}: "
            f"{first_line(failure, 100)}): on a machine with internet download https://huggingface.co/{repository}"
            f"/resolve/main/{wanted} (and {CONFIG_FILE}) into one folder here and pass the path of {wanted}, or "
            f"copy that machine's hub cache to {cache}")
    try:
        config = _read_config(huggingface_hub.hf_hub_download(repository, CONFIG_FILE))
    except Exception:  # a repository without timm's config: ImageNet's mean and std, the layout from the tensors
        config = None
    return path, config


# ---------------------------------------------------------------- the checkpoint

def _modules(tensors):
    """``{module: {parameter: array}}`` in the file's order (BatchNorm's num_batches_tracked dropped)."""
    modules = {}
    for name, array in tensors.items():
        module, _, parameter = name.rpartition(".")
        if parameter != "num_batches_tracked":
            modules.setdefault(module, {})[parameter] = array
    return modules


def _layer_arrays(kind, parameters, tensor, source):
    """A module's tensors as our layer's weights: conv (O, I, kh, kw) -> (kh, kw, I, O), linear or 1x1 conv
    (O, I[, 1, 1]) -> (I, O), BatchNorm -> gamma, beta, moving mean, moving variance."""
    names = ("weight", "bias", "running_mean", "running_var") if kind == BN else ("weight",)
    missing = [name for name in names if name not in parameters]
    if missing:
        raise KerasResnetError(f"tensor '{tensor}.{missing[0]}' is missing from {source}: '{tensor}' is not a "
                               f"{'BatchNorm' if kind == BN else kind} as keras_resnet's models have there")
    arrays = [np.asarray(parameters[name], np.float32) for name in names]
    if kind == BN:
        return arrays
    weight = arrays[0]
    kernel = weight.transpose(2, 3, 1, 0) if kind == CONV and weight.ndim == 4 else weight.reshape(len(weight), -1).T
    return [kernel] + ([np.asarray(parameters["bias"], np.float32)] if "bias" in parameters else [])


@dataclasses.dataclass
class Checkpoint:
    """A PyTorch ResNet state dict mapped to our layer names, with the model and input it needs."""

    source: str  # as given: a path or timm:NAME / hf-hub:ORG/NAME
    family: Family
    stem_type: str
    projection_downsampling: str
    layer_weights: dict  # {our layer: [arrays]} in network order: stem, units, head
    modules: dict  # {our layer: their module}
    stage_units: tuple
    block: str
    stem_filters: int
    channels: int
    pixel_mean: tuple
    pixel_std: tuple
    architecture: str | None  # timm's name, from its config; None: not known

    @property
    def depth(self):
        """The depth of the zoo model these stages make, or None."""
        return next((depth for depth, (block, units) in IMAGENET_DEPTHS.items()
                     if block == self.block and tuple(units) == self.stage_units), None)

    @property
    def model_name(self):
        """Our zoo model these weights fit (``resnet50``, ``resnet50v2``), or None."""
        return None if self.depth is None else f"resnet{self.depth}{'v2' if self.family.version == 'v2' else ''}"

    @property
    def model_options(self):
        """The model options these weights need; a zoo build with them is the PyTorch model, to rounding."""
        return {"padding": "pytorch", "bottleneck_stride": "3x3", "conv_bias": "never", "bn_epsilon": 1e-5,
                "downsample_unit": "first", "stem_type": self.stem_type, "stem_filters": self.stem_filters,
                "projection_downsampling": self.projection_downsampling}

    @property
    def trained_with(self):
        """The preprocessing options of the input the weights were trained on."""
        return {"preprocessing": "standardize", "pixel_mean": list(self.pixel_mean), "pixel_std": list(self.pixel_std)}

    def describe(self):
        """E.g. "resnet50 weights (timm ResNetV2 layout, deep stem, average_pool shortcut)"."""
        what = self.model_name or f"ResNet with {self.block} stages {self.stage_units}"
        known = f"; timm's {self.architecture}" if self.architecture else ""
        return (f"{what} weights ({self.family.name} layout, {self.stem_type} stem, "
                f"{self.projection_downsampling} shortcut{known})")

    def their_module(self, layer):
        """Their module for our layer ``layer``, by the same table read backwards; None if it has none."""
        rules = self.family.layout(self.stem_type, self.projection_downsampling)
        names = (_translate(layer, rule.ours, rule.theirs, _shifts(self.family, -1)) for rule in rules)
        return next((name for name in names if name is not None), None)

    def _misfit(self, problem):
        fix = f"use model {self.model_name!r} for them" if self.model_name else "build the model they come from"
        return KerasResnetError(f"{problem}; they are {self.describe()}: {fix}")

    def check(self, model, skip=()):
        """Raise on the first tensor (in network order) with no place in ``model`` or of another shape, then on
        the first layer of ``model`` the file has no tensor for; layers in ``skip`` (a new head) are left out."""
        layers = {layer.name: layer for layer in model.layers if layer.weights}
        for name, arrays in self.layer_weights.items():
            if name in skip or (name not in layers and name in naming.HEAD_LAYERS):
                continue  # a new head, or none (include_top=False)
            misfit = f"tensor '{self.modules[name]}.weight' of {self.source} does not fit model {model.name!r}"
            if name not in layers:
                raise self._misfit(f"{misfit}: it has no layer {name!r}")
            expected, given = [tuple(weight.shape) for weight in layers[name].weights], [a.shape for a in arrays]
            if given != expected:
                raise self._misfit(f"{misfit}: its layer {name!r} takes {expected}, the file gives {given}")
        for name in layers:
            if name not in self.layer_weights and name not in skip:
                module = self.their_module(name)
                tensor = f"tensor '{module}.weight'" if module else "tensor"
                raise self._misfit(f"{self.source} has no {tensor} for layer {name!r} of model {model.name!r}")


def _choose_layout(family, modules, architecture):
    """(stem_type, projection_downsampling) of a checkpoint of ``family``."""
    stem = next((kind for kind, rules in family.stems.items() if rules[0].theirs in modules), None)
    if stem is None:
        raise KerasResnetError(f"no stem tensor ({' or '.join(r[0].theirs + '.weight' for r in family.stems.values())})"
                               f" in the {family.name} checkpoint")
    found = [kind for kind, rules in family.projections.items()  # kinds whose conv is a conv in this file
             if any(_pattern(rules[0].theirs).fullmatch(module) and np.ndim(parameters.get("weight")) == 4
                    for module, parameters in modules.items())]
    if len(found) == 1:
        return stem, found[0]
    if architecture:  # timm's ResNet-D names end in d: resnet50d, resnetv2_50d
        return stem, "average_pool" if architecture.endswith("d") else "strided_conv"
    return stem, "average_pool" if stem == "deep" else "strided_conv"  # timm's deep-stem ResNetV2s are all -D


def _network_order(layer):
    """Sort key of our layer names: the stem, then unit by unit, then what follows (.safetensors sorts by name)."""
    unit = re.match(r"conv(\d+)_block(\d+)", layer)
    if unit:
        return 1, int(unit[1]), int(unit[2]), layer
    return (0 if layer.startswith(naming.STEM) else 2), 0, 0, layer


def _stage_units(family, modules):
    units = {}
    for module in modules:
        match = _pattern(family.unit).match(module)
        if match:
            stage, unit = int(match["stage"]), int(match["unit"])
            units[stage] = max(units.get(stage, 0), unit + 1)
    return tuple(units[stage] for stage in sorted(units))


def checkpoint_from_tensors(tensors, source, config=None):
    """The :class:`Checkpoint` of a state dict ``{name: array}``, with its timm ``config`` if there is one."""
    config = config or {}
    architecture = config.get("architecture")
    if architecture and not SUPPORTED_ARCHITECTURE.fullmatch(architecture):
        raise KerasResnetError(f"{source} holds timm's {architecture}, which keras_resnet does not build: it loads "
                               "resnet18...200 (and their c/d/s variants) and resnetv2_18...152(d)")
    family = next((family for family in FAMILIES if family.marker in tensors), None)
    if family is None:
        first = next(iter(tensors), "nothing")
        raise KerasResnetError(
            f"{source} is not a torchvision or timm ResNet state dict (no {' or '.join(f.marker for f in FAMILIES)}; "
            f"its first tensor is {first!r}): give the weights of a torchvision/timm resnet* or resnetv2_*")
    modules = _modules(tensors)
    stem, projection = _choose_layout(family, modules, architecture)
    rules = family.layout(stem, projection)
    layer_weights, origins = {}, {}
    for module, parameters in modules.items():
        name, kind = next(((name, rule.kind) for rule in rules
                           if (name := _translate(module, rule.theirs, rule.ours, _shifts(family, 1)))), (None, None))
        if name is None:
            raise KerasResnetError(
                f"tensor '{module}.{next(iter(parameters))}' of {source} has no place in keras_resnet's ResNets"
                f" ({family.name} layout): squeeze-excitation, anti-aliasing and other extras are not built")
        layer_weights[name] = _layer_arrays(kind, parameters, module, source)
        origins[name] = module
    stem_convs = [rule.theirs for rule in family.stems[stem] if rule.kind == CONV]
    pretrained = config.get("pretrained_cfg") or config
    return Checkpoint(
        source=source, family=family, stem_type=stem, projection_downsampling=projection,
        layer_weights=dict(sorted(layer_weights.items(), key=lambda item: _network_order(item[0]))),
        modules=origins, stage_units=_stage_units(family, modules),
        block="bottleneck" if f"{family.first_unit}.conv3" in modules else "basic",
        stem_filters=int(tensors[stem_convs[-1] + ".weight"].shape[0]),
        channels=int(tensors[stem_convs[0] + ".weight"].shape[1]),
        pixel_mean=tuple(pretrained.get("mean", IMAGENET_MEAN)), pixel_std=tuple(pretrained.get("std", IMAGENET_STD)),
        architecture=architecture)


def read_checkpoint(weights):
    """The :class:`Checkpoint` of ``weights``: timm:NAME / hf-hub:ORG/NAME (downloaded once, then from the hub's
    cache) or a local .safetensors / .pth / .bin / .pt state dict (with the timm config.json beside it, if any)."""
    source = os.fspath(weights)
    if source.startswith(HUB_PREFIXES):
        path, config = fetch_hub_files(source)
        label = source
    else:
        path, label = source, f"'{source}'"
        config = _read_config(os.path.join(os.path.dirname(os.path.abspath(path)), CONFIG_FILE))
    return checkpoint_from_tensors(read_state_dict(path), label, config)
