"""``tfds:NAME``: a TensorFlow Datasets image classification set (optional dependency).

Uses the prepared copy in ``data_dir`` (TFDS's default ``~/tensorflow_datasets``)
and prepares it when missing, which needs internet once. The ``train`` split is
train; ``test`` (or else ``validation``) is test. Everything is read into memory.
"""

from __future__ import annotations

import numpy as np

from keras_resnet.data.containers import DatasetSplits, LabeledImages
from keras_resnet.errors import KerasResnetError, first_line

TFDS_PREFIX = "tfds:"


def is_tfds_source(source: str) -> bool:
    """Whether ``source`` is ``tfds:NAME``."""
    return source.startswith(TFDS_PREFIX)


def _import_tfds():
    try:
        import tensorflow_datasets
    except ImportError:
        raise KerasResnetError(
            "source 'tfds:...' needs TensorFlow Datasets: pip install tensorflow-datasets"
        ) from None
    return tensorflow_datasets


def _split(tfds, builder, split: str, name: str) -> LabeledImages:
    images, labels = [], []
    for image, label in tfds.as_numpy(builder.as_dataset(split=split, as_supervised=True)):
        images.append(image)
        labels.append(label)
    if not images:
        raise KerasResnetError(f"split '{split}' of tfds:{name} is empty: pick another dataset")
    try:
        stacked = np.stack(images)
    except ValueError:
        raise KerasResnetError(
            f"images of tfds:{name} differ in size: this loader needs equal sizes; "
            "use an image-folder or TFRecord copy with image_size"
        ) from None
    return LabeledImages.from_arrays(stacked, np.asarray(labels), f"tfds:{name} ({split})")


def load_tfds(name: str, *, data_dir=None) -> DatasetSplits:
    """Loads ``tfds:NAME`` or ``NAME`` (e.g. ``mnist``, ``cifar10:3.0.2``) with ``as_supervised=True``."""
    name = name.removeprefix(TFDS_PREFIX)
    tfds = _import_tfds()
    try:
        builder = tfds.builder(name, data_dir=data_dir)
        builder.download_and_prepare()  # reuses a prepared copy without network access
    except Exception as error:  # DatasetNotFoundError, network errors, ...
        raise KerasResnetError(
            f"cannot load tfds:{name} ({first_line(error)}): check the name at "
            "tensorflow.org/datasets/catalog, or prepare it online once into data_dir"
        ) from None
    label = builder.info.supervised_keys and builder.info.features[builder.info.supervised_keys[1]]
    if label is None or not hasattr(label, "names"):
        raise KerasResnetError(
            f"tfds:{name} is not an image classification dataset (no supervised class label): pick another"
        )
    splits = list(builder.info.splits) or ["train", "test"]  # empty only under tfds.testing.mock_data
    test_split = next((split for split in ("test", "validation") if split in splits), None)
    return DatasetSplits(
        list(label.names),
        _split(tfds, builder, "train", name),
        test=_split(tfds, builder, test_split, name) if test_split else None,
        source=f"tfds:{name}",
    )
