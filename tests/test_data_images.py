"""Decoding single image files: formats, modes, corrupt files, decompression bombs."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from keras_resnet.data import MAX_IMAGE_PIXELS, BadImageError, decode_image, read_image
from keras_resnet.errors import KerasResnetError


def _pattern(mode, size=(8, 6)):
    """A small image with distinct pixel values (width 8, height 6)."""
    values = (np.arange(size[0] * size[1]) * 5 % 256).astype(np.uint8).reshape(size[1], size[0])
    gray = Image.fromarray(values, "L")
    if mode == "L":
        return gray
    rgb = Image.merge("RGB", (gray, gray.point(lambda v: 255 - v), gray.point(lambda v: v // 2)))
    return rgb if mode == "RGB" else rgb.convert(mode)


@pytest.mark.parametrize(
    "mode, suffix, channels",
    [("L", "png", 1), ("RGB", "png", 3), ("RGBA", "png", 3), ("L", "jpg", 1), ("RGB", "jpeg", 3),
     ("RGB", "bmp", 3), ("L", "bmp", 1), ("P", "gif", 3), ("L", "gif", 1)],
)
def test_decodes_formats_and_modes(tmp_path, mode, suffix, channels):
    path = tmp_path / f"image.{suffix}"
    _pattern(mode).save(path)
    image = decode_image(path)
    assert image.dtype == np.uint8 and image.shape == (6, 8, channels)


def test_lossless_pixels_survive_and_alpha_is_dropped(tmp_path):
    rgba = _pattern("RGB").convert("RGBA")
    rgba.putalpha(7)
    rgba.save(tmp_path / "a.png")
    np.testing.assert_array_equal(decode_image(tmp_path / "a.png"), np.asarray(_pattern("RGB")))


def test_sixteen_bit_png_is_scaled_to_eight_bits(tmp_path):
    Image.fromarray(np.full((4, 4), 65535, np.uint16)).save(tmp_path / "deep.png")
    image = decode_image(tmp_path / "deep.png")
    assert image.shape == (4, 4, 1) and image.max() == 255


def test_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees for display
    _pattern("RGB").save(tmp_path / "phone.jpg", exif=exif)
    assert decode_image(tmp_path / "phone.jpg").shape == (8, 6, 3)


def test_truncated_jpeg_is_a_bad_image(tmp_path):
    _pattern("RGB", (64, 64)).save(tmp_path / "full.jpg", quality=95)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadImageError, match=r"cut\.jpg.*truncated.*on_bad_image='skip'"):
        decode_image(tmp_path / "cut.jpg")


def test_text_renamed_png_is_a_bad_image(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(KerasResnetError, match=r"notes\.png.*not a JPEG, PNG, BMP or GIF"):
        decode_image(tmp_path / "notes.png")


def _png_header_only(width, height):
    """A PNG whose header claims ``width`` x ``height`` pixels: a decompression bomb in 60 bytes."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow warns, we refuse
@pytest.mark.parametrize("side", [10_000, 20_000])  # over the limit, and over twice it
def test_decompression_bomb_is_refused_before_decoding(tmp_path, side):
    assert side * side > MAX_IMAGE_PIXELS
    (tmp_path / "bomb.png").write_bytes(_png_header_only(side, side))
    with pytest.raises(BadImageError, match=r"bomb\.png.*decompression bomb"):
        decode_image(tmp_path / "bomb.png")


def test_missing_file(tmp_path):
    with pytest.raises(KerasResnetError, match="no image file at"):
        decode_image(tmp_path / "nope.png")


def test_read_image_converts_channels_and_size(tmp_path):
    _pattern("RGB").save(tmp_path / "c.png")
    assert read_image(tmp_path / "c.png", channels=1, image_size=(3, 4)).shape == (3, 4, 1)
    assert read_image(tmp_path / "c.png", channels=3, image_size=5).shape == (5, 5, 3)
    with pytest.raises(KerasResnetError, match="channels=2"):
        read_image(tmp_path / "c.png", channels=2)
    with pytest.raises(KerasResnetError, match="image_size"):
        read_image(tmp_path / "c.png", image_size=(0, 4))
