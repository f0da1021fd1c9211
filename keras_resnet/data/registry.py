"""The registry of data sources: the one place that lists them, in the order they are recognised.

A new source is one module (a ``recognises(source)`` test and a ``load(source, **options)``)
plus one ``DataSource`` line in ``SOURCES``; ``source_kind``, the option checks, the "no such
dataset" error and the CLI's ``--data`` help (``sources_help()``) all come from here.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable

from keras_resnet.data.arrays import is_npz_file, load_npz
from keras_resnet.data.bundled import is_bundled, load_bundled
from keras_resnet.data.containers import DatasetSplits
from keras_resnet.data.folders import is_folder, load_folder
from keras_resnet.data.images import is_image_file
from keras_resnet.data.keras_datasets import KERAS_DATASETS, is_keras_dataset, load_keras_dataset
from keras_resnet.data.tfds_source import is_tfds_source, load_tfds
from keras_resnet.data.tfrecords import is_tfrecord_source, load_tfrecords
from keras_resnet.errors import KerasResnetError

# Options of load_dataset that only some sources take, with the value that means "not given".
SOURCE_OPTIONS = {"stream": False, "data_dir": None, "label_offset": 0}
# Options every source accepts: sources that decode files take them, load_dataset applies them to the rest.
IMAGE_OPTIONS = ("image_size", "channels", "on_bad_image")


@dataclasses.dataclass(frozen=True)
class DataSource:
    """One kind of source: how users write it, how it is recognised and loaded, which options it takes."""

    name: str  # the kind, as source_kind returns it
    usage: str  # how a user writes it, for help and errors: "tfds:NAME"
    help: str  # one line: what it is
    recognises: Callable[[str], bool]
    load: Callable[..., DatasetSplits]  # load(source, **{option: value for option in options})
    options: tuple[str, ...] = ()  # which load_dataset options ``load`` takes


SOURCES = (  # the first source that recognises a string wins: names before files before folders
    DataSource("bundled", "bundled", "5,000 MNIST digits shipped with the package",
               is_bundled, lambda source: load_bundled()),
    DataSource("tfds", "tfds:NAME", "a TensorFlow Datasets image set (pip install tensorflow-datasets)",
               is_tfds_source, load_tfds, ("data_dir",)),
    DataSource("keras", " | ".join(KERAS_DATASETS), "keras.datasets, downloaded once",
               is_keras_dataset, load_keras_dataset),
    DataSource("npz", "FILE.npz", "arrays x, y or x_train, y_train, x_test, y_test",
               is_npz_file, load_npz),
    DataSource("tfrecords", "TFRecords", "a TFRecord file, glob or folder (ImageNet layout)",
               is_tfrecord_source, load_tfrecords, (*IMAGE_OPTIONS, "label_offset", "stream")),
    DataSource("folder", "FOLDER", "one sub-folder of images per class, optionally under train/, val/, test/",
               is_folder, load_folder, (*IMAGE_OPTIONS, "stream")),
)


def sources_help() -> str:
    """Every source in one paragraph, ``usage: help; ...``: the CLI's ``--data`` help."""
    return "; ".join(f"{source.usage}: {source.help}" for source in SOURCES)


def find_source(source: str) -> DataSource:
    """The registry entry that recognises ``source``; a one-line error when none does."""
    for entry in SOURCES:
        if entry.recognises(source):
            return entry
    if os.path.isfile(source) and is_image_file(source):
        raise KerasResnetError(
            f"'{source}' is a single image: give a folder with one sub-folder of images per class"
        )
    usages = " | ".join(entry.usage for entry in SOURCES)
    raise KerasResnetError(f"no dataset '{source}': no such file or folder; give {usages}")


def source_kind(source: str) -> str:
    """The registry name of ``source``'s kind (``bundled``, ``tfds``, ``keras``, ``npz``, ``tfrecords``, ``folder``)."""
    return find_source(source).name


def check_options(source: str, **options) -> DataSource:
    """The registry entry of ``source``; a one-line error for any of ``SOURCE_OPTIONS`` given (not None and not
    its "not given" value) that this kind of source does not take."""
    entry = find_source(source)
    for option, value in options.items():
        if value not in (None, SOURCE_OPTIONS[option]) and option not in entry.options:
            *others, last = [other.usage for other in SOURCES if option in other.options]
            takers = f"{', '.join(others)} and {last}" if others else last
            raise KerasResnetError(f"{option}={value!r} applies only to {takers} sources, not '{source}': drop it")
    return entry


def load_source(source: str, **options) -> DatasetSplits:
    """The raw splits of ``source`` (validation only where it has its own); refuses options it does not take.

    ``options`` are all of ``SOURCE_OPTIONS`` and ``IMAGE_OPTIONS``; each loader gets the ones it lists.
    """
    entry = check_options(source, **{option: options[option] for option in SOURCE_OPTIONS})
    return entry.load(source, **{option: options[option] for option in entry.options})
