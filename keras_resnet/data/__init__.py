"""Data layer: load any image source into uint8 splits, then feed ``model.fit`` through tf.data.

    from keras_resnet.data import load_dataset, make_pipeline, write_labels
    splits = load_dataset("photos/", image_size=64)        # or "bundled", "cifar10", "x.npz", ...
    train = make_pipeline(splits.train, batch_size=128, training=True, augment="cifar")
    validation = make_pipeline(splits.validation, batch_size=128, training=False)
    write_labels("run/labels.txt", splits.class_names)

By default splits are held in memory as uint8 ``[N, H, W, C]`` (a 224x224 RGB
image is 150 KB): fine for the bundled set, keras.datasets and folders of some
tens of thousands of images. For more, ``load_dataset(..., stream=True)`` keeps
folders and TFRecords on disk and ``make_pipeline`` (or ``read_split``, in order, for
evaluation) decodes them as it reads.

Sources are listed in ``registry.SOURCES`` (``sources_help()`` describes them);
``split_fingerprint`` identifies a held-out split so later steps can check it.
"""

from keras_resnet.data.augment import CROP_RATIO, CROP_SCALE, PAD_PIXELS
from keras_resnet.data.bundled import BUNDLED_PATH, load_bundled
from keras_resnet.data.containers import DatasetSplits, ImageFiles, ImageRecords, LabeledImages, Split
from keras_resnet.data.fingerprint import check_fingerprint, split_fingerprint
from keras_resnet.data.images import IMAGE_EXTENSIONS, MAX_IMAGE_PIXELS, BadImageError, decode_image, read_image
from keras_resnet.data.keras_datasets import KERAS_DATASETS
from keras_resnet.data.labels import read_labels, write_labels
from keras_resnet.data.pipeline import AUGMENTATIONS, DEFAULT_SHUFFLE_BUFFER, make_pipeline, read_split
from keras_resnet.data.registry import SOURCES, DataSource, source_kind, sources_help
from keras_resnet.data.sources import load_dataset
from keras_resnet.data.splits import stratified_split

__all__ = [
    "AUGMENTATIONS", "BUNDLED_PATH", "BadImageError", "CROP_RATIO", "CROP_SCALE", "DEFAULT_SHUFFLE_BUFFER",
    "DataSource", "DatasetSplits", "IMAGE_EXTENSIONS", "ImageFiles", "ImageRecords", "KERAS_DATASETS",
    "LabeledImages", "MAX_IMAGE_PIXELS", "PAD_PIXELS", "SOURCES", "Split",
    "check_fingerprint", "decode_image", "load_bundled", "load_dataset", "make_pipeline", "read_image",
    "read_labels", "read_split", "source_kind", "sources_help", "split_fingerprint", "stratified_split",
    "write_labels",
]
