"""TFRecord files in the common ImageNet layout: ``image/encoded`` (JPEG/PNG bytes),
``image/class/label`` (int64) and optionally ``image/class/text``.

``source`` is a file, a glob, or a folder. In a folder, files whose names start
with ``validation``, ``val`` or ``test`` are the test split, the rest train
(ImageNet shards: ``train-00000-of-01024``, ``validation-00000-of-00128``).
GZIP-compressed files are detected by their first bytes. ImageNet TFRecords
number classes 1..1000: pass ``label_offset=1`` to make them 0..999 (nothing
is guessed; a warning says so when no record has label 0). Records are read
into memory, or with ``stream=True`` decoded by the pipeline as it reads them.
"""

from __future__ import annotations

import glob
import os
import re
import warnings

import numpy as np

from keras_resnet.data.containers import DatasetSplits, ImageRecords, LabeledImages
from keras_resnet.data.images import decode_many, is_image_file, normalize_image_size
from keras_resnet.errors import KerasResnetError, first_line

TFRECORD_NAME = re.compile(r"(\.tfrecords?|\.tfrec)(\.gz)?$|-\d+-of-\d+$", re.IGNORECASE)
TEST_PREFIXES = ("validation", "val", "test")


def looks_like_tfrecord(path: str) -> bool:
    """``*.tfrecord``, ``*.tfrecords``, ``*.tfrec`` (optionally ``.gz``) or ``name-00000-of-00010``."""
    return bool(TFRECORD_NAME.search(os.path.basename(path)))


def is_tfrecord_source(source: str) -> bool:
    """A glob, a folder of TFRecord files (and no sub-folders), or any other file that is not an image.

    Names and ``.npz`` files are recognised before this, so other files are read as TFRecords.
    """
    if glob.has_magic(source):
        return True
    if os.path.isdir(source):
        entries = [os.path.join(source, name) for name in os.listdir(source) if not name.startswith(".")]
        return any(map(looks_like_tfrecord, entries)) and not any(map(os.path.isdir, entries))
    return os.path.isfile(source) and not is_image_file(source)


def tfrecord_files(source: str) -> dict[str, list[str]]:
    """The files of ``source`` by split: ``{"train": [...], "test": [...]}`` (test may be empty)."""
    if os.path.isdir(source):
        files = sorted(
            os.path.join(source, name) for name in os.listdir(source)
            if looks_like_tfrecord(name) and os.path.isfile(os.path.join(source, name))
        )
        test = [path for path in files if os.path.basename(path).lower().startswith(TEST_PREFIXES)]
        train = [path for path in files if path not in test]
        if not train:
            raise KerasResnetError(
                f"folder '{source}' has no training TFRecord files: add train-*-of-* or *.tfrecord files"
            )
        return {"train": train, "test": test}
    files = sorted(glob.glob(source)) if glob.has_magic(source) else [source]
    files = [path for path in files if os.path.isfile(path)]
    if not files:
        raise KerasResnetError(f"no files match '{source}': check the TFRecord path or pattern")
    return {"train": files, "test": []}


def compression_of(files) -> str:
    """``"GZIP"`` if the files are gzip-compressed (by their first bytes), else ``""``."""
    kinds = set()
    for path in files:
        with open(path, "rb") as file:
            kinds.add("GZIP" if file.read(2) == b"\x1f\x8b" else "")
    if len(kinds) > 1:
        raise KerasResnetError(
            f"TFRecord files {', '.join(files[:3])}... mix GZIP-compressed and plain files: "
            "compress all or none"
        )
    return kinds.pop()


def _records(path: str, label_offset: int, texts: dict):
    """``(name, encoded bytes, label)`` per record; fills ``texts`` with label -> class text."""
    import tensorflow as tf

    features = {
        "image/encoded": tf.io.FixedLenFeature([], tf.string),
        "image/class/label": tf.io.FixedLenFeature([], tf.int64),
        "image/class/text": tf.io.FixedLenFeature([], tf.string, default_value=""),
    }
    records = tf.data.TFRecordDataset(path, compression_type=compression_of([path]))
    records = records.map(lambda record: tf.io.parse_single_example(record, features))
    index = -1
    try:
        for index, example in enumerate(records.as_numpy_iterator()):
            raw_label = int(example["image/class/label"])
            label = raw_label - label_offset
            if label < 0:
                raise KerasResnetError(
                    f"record {index} of '{path}' has label {raw_label}, below label_offset={label_offset}: "
                    "set label_offset to the smallest label (0 or 1)"
                )
            text = example["image/class/text"].decode("utf-8", "replace")
            if text and texts.setdefault(label, text) != text:
                raise KerasResnetError(
                    f"record {index} of '{path}' names label {raw_label} '{text}' but earlier records "
                    f"named it '{texts[label]}': make image/class/text agree with image/class/label"
                )
            yield f"{path}#{index}", example["image/encoded"], label
    except tf.errors.OpError as error:
        reason = first_line(error)
        raise KerasResnetError(
            f"cannot read record {index + 1} of '{path}' as a TFRecord image example ({reason}): "
            "give TFRecords with 'image/encoded' (bytes) and 'image/class/label' (int64) features"
        ) from None


def _load_files(files, texts, options, stream):
    """One split: decoded into memory, or (``stream``) only its labels read."""
    if stream:
        labels = [[label for _, _, label in _records(path, options["label_offset"], texts)] for path in files]
        counts = tuple(len(file_labels) for file_labels in labels)
        if not sum(counts):
            raise KerasResnetError(f"no records in {', '.join(files[:3])}: check the files")
        shape = (*options["image_size"], options["channels"] or 3)
        return ImageRecords(
            tuple(files), counts, compression_of(files), np.ones(sum(counts), bool),
            np.array([label for file_labels in labels for label in file_labels], np.int32), shape,
            options["label_offset"], options["on_bad_image"] == "skip",
        ), []
    items = (item for path in files for item in _records(path, options["label_offset"], texts))
    decoded = decode_many(
        items, image_size=options["image_size"], channels=options["channels"],
        on_bad_image=options["on_bad_image"],
    )
    if decoded.images is None:
        raise KerasResnetError(f"no readable image records in {', '.join(files[:3])}: check the files")
    return LabeledImages(decoded.images, decoded.labels, np.array(decoded.names)), decoded.skipped


def load_tfrecords(source: str, *, image_size=None, channels=None, on_bad_image="error",
                   label_offset: int = 0, stream: bool = False) -> DatasetSplits:
    """Reads every record into memory as uint8 arrays; class names from ``image/class/text``.

    With ``stream`` only labels are read now (``image_size`` is then required,
    images are RGB unless ``channels=1``); the pipeline decodes the records.
    """
    size = normalize_image_size(image_size)
    if stream and size is None:
        raise KerasResnetError(
            f"streaming TFRecords from '{source}' needs image_size (--image-size), e.g. 224: "
            "their images are not checked up front"
        )
    options = {"image_size": size, "channels": channels, "on_bad_image": on_bad_image,
               "label_offset": label_offset}
    files, texts = tfrecord_files(source), {}
    train, skipped = _load_files(files["train"], texts, options, stream)
    test = None
    if files["test"]:
        test, more = _load_files(files["test"], texts, {**options, "channels": train.image_shape[2]}, stream)
        skipped += more
        if test.image_shape != train.image_shape:
            raise KerasResnetError(
                f"test records in '{source}' are {test.image_shape} but training records "
                f"{train.image_shape}: pass image_size (--image-size) to resize them all"
            )
    largest = max(int(split.labels.max()) for split in (train, test) if split is not None)
    if label_offset == 0 and 0 not in set(np.unique(train.labels).tolist()):
        warnings.warn(
            f"no training record in '{source}' has label 0; if labels start at 1 "
            "(ImageNet TFRecords), pass label_offset=1", stacklevel=4
        )
    class_names = [texts.get(label, str(label)) for label in range(largest + 1)]
    return DatasetSplits(class_names, train, test=test, skipped_files=tuple(skipped), source=source)
