"""The data an export or evaluation works on: rebuilt exactly as the run split it, checked, left on disk.

    data = load_export_data(None, (28, 28, 1), recorded=run_data("runs/r20"))   # the run's own held-out split
    data = load_export_data("photos/", (64, 64, 3))                            # named data, default recipe
    data.heldout, data.train      # splits: in memory, or on disk (read with ``reader``)

A run records its data recipe (``RunDirectory.data_recipe``: data, data_dir, image_size, channels,
validation_split, seed, on_bad_image, label_offset) and the fingerprint of the split it never trained on
(``RunDirectory.heldout_fingerprint``); an export records both again for ``evaluate``. With the recorded
recipe the splits are rebuilt as the run made them, the same held-out split is chosen and its fingerprint
checked: changed data or recipe stop with one line. Data named otherwise is loaded with the defaults; if
it has no test split, its held-out images are a validation split carved from it that the model may have
trained on, and ``note`` says so (the report card shows it).

Folders, and TFRecords unless their bad images are skipped (then only decoding finds them, which would
change the split), stay on disk (``stream``): only the images picked or evaluated are decoded.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from keras_resnet.errors import KerasResnetError

SPLIT_NAMES = ("train", "validation", "test")
HELDOUT_ORDER = ("test", "validation")  # the split to grade on when the run recorded none
FILE_SOURCES = ("npz", "tfrecords", "folder")  # source kinds named by a path
DEFAULT_RECIPE = {"data_dir": None, "image_size": None, "channels": None, "validation_split": 0.1, "seed": 0,
                  "on_bad_image": "error", "label_offset": 0}


@dataclasses.dataclass(frozen=True, eq=False)
class ExportData:
    """The splits an export uses, with where they came from and whether the held-out one was checked."""

    class_names: list
    train: object  # a Split (LabeledImages in memory, ImageFiles / ImageRecords on disk)
    heldout: object
    input_shape: tuple  # the model's (H, W, C): what images are read as
    source: str
    heldout_split: str
    recipe: dict  # the load_dataset options used, with "data": the source
    fingerprint: dict  # {"split", "count", "sha256"} of the held-out split as rebuilt
    check: str  # how the fingerprint was checked: "matches the run's", "not recorded by the run", ...
    note: str | None = None  # why the held-out images may include training images, if they may

    def describe(self) -> dict:
        """What the manifest, the sidecars and the report card record about the data."""
        return {"source": self.source, "split": self.heldout_split, "recipe": self.recipe,
                "heldout": self.fingerprint, "fingerprint_check": self.check,
                "may_overlap_training": self.note is not None, "note": self.note}

    @property
    def train_images(self) -> np.ndarray:
        return self._read(self.train)[0]

    @property
    def train_labels(self) -> np.ndarray:
        return self.train.labels

    @property
    def heldout_images(self) -> np.ndarray:
        return self._read(self.heldout)[0]

    @property
    def heldout_labels(self) -> np.ndarray:
        return self.heldout.labels

    def _read(self, split):
        from .reader import read_examples

        return read_examples(split, self.input_shape)


def same_source(first, second) -> bool:
    """Whether two ``--data`` values name the same dataset (the same path, however written, or name)."""
    if first is None or second is None:
        return False
    first, second = os.fspath(first), os.fspath(second)
    if first == second:
        return True
    if os.path.exists(first) and os.path.exists(second):
        return os.path.samefile(first, second)
    return False


def check_data(source, stream=None, label_offset=None) -> None:
    """Refuses, before any work, data that is not there and options its kind does not take."""
    from keras_resnet.data.registry import check_options

    check_options(os.fspath(source), stream=stream, label_offset=label_offset)


def load_export_data(source, input_shape, data_dir=None, split: str | None = None, *, recorded: dict | None = None,
                     label_offset: int | None = None, stream: bool | None = None) -> ExportData:
    """The splits of ``source`` for a model taking ``input_shape`` ``(H, W, C)``, held-out split chosen and checked.

    ``recorded``: ``{"recipe": ..., "heldout": ..., "origin": "run" or "export", "note": ...}`` what the run
    (or an export) wrote; its recipe applies when ``source`` is ``None`` or names the same data, and an
    export's note (held-out images that may overlap training) stays with it. ``split``: grade on this
    split instead of the held-out one. ``data_dir``, ``label_offset`` and ``stream`` override the recipe;
    ``stream=None``: on disk where that cannot change the splits. The images are read (``reader``) converted
    and resized to ``input_shape`` where the data differs.
    """
    from keras_resnet.data import check_fingerprint, load_dataset, source_kind, split_fingerprint

    recipe = (recorded or {}).get("recipe") or None
    if source is None:
        if not recipe:
            raise KerasResnetError("no data named or recorded: pass --data (e.g. bundled, or your dataset folder)")
        source = recipe["data"]
    source = os.fspath(source)
    own = bool(recipe) and same_source(source, recipe["data"])
    options = dict(DEFAULT_RECIPE)
    if own:
        options.update({key: recipe[key] for key in options if recipe.get(key) is not None})
    if data_dir:
        options["data_dir"] = os.fspath(data_dir)
    if label_offset is not None:
        options["label_offset"] = label_offset
    height, width, channels = input_shape
    kind = source_kind(source)
    if stream is None:  # on disk where that cannot change the splits, or where the run streamed them too
        stream = kind == "folder" or (kind == "tfrecords" and (options["on_bad_image"] != "skip"
                                                               or (own and recipe.get("stream") is True)))
    if not own:  # named data: loaded at the model's size (the run's recipe is kept as it is: arrays hash pixels)
        options["image_size"], options["channels"] = options["image_size"] or (height, width), channels
    elif stream and kind == "tfrecords" and not options["image_size"]:
        options["image_size"] = (height, width)  # streamed records need one; their fingerprint names members only
    splits = load_dataset(source, stream=bool(stream), **options)
    available = splits.splits()
    expected = (recorded or {}).get("heldout") if own else None
    chosen = split or (expected or {}).get("split") or next((name for name in HELDOUT_ORDER if name in available),
                                                            None)
    if chosen not in available:
        raise KerasResnetError(
            f"dataset '{source}' has no {chosen or 'test or validation'} split (it has {', '.join(available)}): "
            + ("choose one of those" if split else "add a test/ folder or use a source with one"))
    origin = (recorded or {}).get("origin", "run")
    if expected and chosen == expected.get("split"):
        check_fingerprint(splits, chosen, expected)
        fingerprint, check = {"count": expected["count"], "sha256": expected["sha256"]}, f"matches the {origin}'s"
    else:
        fingerprint = split_fingerprint(splits, chosen)
        check = (f"not recorded by the {origin}" if own and not expected else
                 f"not the split the {origin} held out" if own else "no recipe recorded for this data")
    note = _overlap_note(source, chosen, available, own, options) or (
        (recorded or {}).get("note") if own and chosen == (expected or {}).get("split", chosen) else None)
    where = os.path.abspath(source) if kind in FILE_SOURCES else source  # found again from any folder
    recipe_used = {"data": where, **{key: _plain(value) for key, value in options.items()}}
    return ExportData(list(splits.class_names), splits.train, available[chosen], tuple(input_shape), source, chosen,
                      recipe_used, {"split": chosen, **fingerprint}, check, note)


def _overlap_note(source, chosen, available, own, options) -> str | None:
    """Why the held-out images may include images the model trained on, or None when they cannot."""
    if chosen == "train":
        return "graded on the train split: the model trained on these images"
    if own or "test" in available:
        return None
    return (f"held-out images may overlap training: '{source}' has no test split, so these are its "
            f"{chosen} split (validation_split {options['validation_split']:g}, seed {options['seed']}), which "
            "the model may have trained on; export or evaluate from the run folder, or give data with a test split")


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def synthetic_images(count: int, input_shape, seed: int = 0) -> np.ndarray:
    """Deterministic smooth random images, for verifying float artifacts when no data is given."""
    rng = np.random.default_rng(seed)
    height, width, channels = input_shape
    coarse = rng.integers(0, 256, (count, max(1, height // 4), max(1, width // 4), channels)).astype(np.float32)
    from keras_resnet.data.images import resize_images

    return resize_images(coarse.astype(np.uint8), (height, width))
