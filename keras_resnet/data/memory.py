"""Whether a dataset fits in memory: its decoded size, estimated without decoding it, against free memory.

Training streams folders and TFRecord sets from disk when holding them decoded would take more than
``STREAM_FRACTION`` of the memory available now (the model, the optimizer and TensorFlow need the rest).
"""

from __future__ import annotations

import dataclasses
import os

from keras_resnet.data.images import normalize_image_size
from keras_resnet.data.tfrecords import compression_of, tfrecord_files

STREAM_FRACTION = 0.5


@dataclasses.dataclass(frozen=True)
class MemoryEstimate:
    """Decoded bytes of a dataset against the memory available when it was measured."""

    decoded_bytes: int
    available_bytes: int

    @property
    def fits(self) -> bool:
        return self.decoded_bytes <= STREAM_FRACTION * self.available_bytes

    def describe(self) -> str:
        return (f"about {_gib(self.decoded_bytes)} of decoded images against {_gib(self.available_bytes)} of "
                "free memory")


def _gib(size: int) -> str:
    return f"{size / 2 ** 30:.1f} GiB"


def available_memory() -> int:
    """Bytes of memory available to a new allocation now (MemAvailable; the whole RAM where unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _image_files(folder: str) -> list[str]:
    from keras_resnet.data.images import is_image_file

    return [os.path.join(parent, name) for parent, _, names in os.walk(folder)
            for name in names if not name.startswith(".") and is_image_file(name)]


def _pixels_per_image(size, sample_shape) -> int:
    height, width = size or sample_shape[:2]
    return int(height) * int(width)


def _folder_estimate(folder: str, size, channels: int) -> int:
    from PIL import Image

    files = _image_files(folder)
    if not files:
        return 0
    with Image.open(files[0]) as image:  # reads the header only
        width, height = image.size
    return len(files) * _pixels_per_image(size, (height, width)) * channels


def _tfrecords_estimate(source: str, size, channels: int) -> int:
    """Records counted in the first file and scaled by the files' total size (compressed or not alike); the
    image size, when not given, from the first record."""
    import tensorflow as tf

    files = [path for split in tfrecord_files(source).values() for path in split]
    first = tf.data.TFRecordDataset(files[:1], compression_type=compression_of(files[:1]))
    in_first = int(first.reduce(0, lambda count, _: count + 1))
    if not in_first:
        return 0
    shape = None
    if size is None:
        record = next(iter(first.take(1)))
        feature = tf.io.parse_single_example(record, {"image/encoded": tf.io.FixedLenFeature([], tf.string)})
        shape = tf.image.decode_image(feature["image/encoded"], expand_animations=False).shape
    count = in_first * sum(os.path.getsize(path) for path in files) / max(os.path.getsize(files[0]), 1)
    return int(count * _pixels_per_image(size, shape) * channels)


def estimate(source: str, image_size=None, channels=None) -> MemoryEstimate | None:
    """The decoded size of a folder or TFRecord ``source`` against free memory; None for other sources."""
    from keras_resnet.data.registry import source_kind

    size = normalize_image_size(image_size)
    channels = channels or 3
    kind = source_kind(source)
    if kind == "tfrecords":
        decoded = _tfrecords_estimate(source, size, channels)
    elif kind == "folder":
        decoded = _folder_estimate(source, size, channels)
    else:
        return None
    return MemoryEstimate(decoded, available_memory())
