"""Colour image files of 16 bits a channel are read with their 16 bits and scaled by the one rule, as the same
pixels given as an array are: Pillow kept the high byte, and a 12-bit camera's frame came out nearly black."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from adaanchor.data.image_read import read_image
from adaanchor.data.pixels import rgb8
from adaanchor.data.wide_colour import oriented, read_sixteen_bit_colour

RNG = np.random.default_rng(0)
TWELVE_BIT = RNG.integers(0, 4096, (20, 30, 3)).astype(np.uint16)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("alpha", [False, True])
def test_a_16_bit_colour_file_reads_as_its_array_does(tmp_path, suffix, alpha):
    pixels = TWELVE_BIT if not alpha else np.concatenate([TWELVE_BIT, np.full((20, 30, 1), 65535, np.uint16)], 2)
    path = tmp_path / f"frame{suffix}"
    assert cv2.imwrite(str(path), np.ascontiguousarray(pixels[..., [2, 1, 0, *([3] if alpha else [])]]))
    img, _ = read_image(path)
    assert np.array_equal(img, rgb8(TWELVE_BIT))  # was the high byte: values up to 15
    assert int(img.max()) > 250
    sixteen, _ = read_image(path, bit_depth=16)  # a declared depth (data.bit_depth) scales it
    assert np.array_equal(sixteen, rgb8(TWELVE_BIT, bit_depth=16))


def test_an_8_bit_file_is_read_by_pillow_as_before(tmp_path):
    rgb = RNG.integers(0, 256, (20, 30, 3)).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    assert np.array_equal(read_image(tmp_path / "a.png")[0], rgb)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientations_turn_as_pillow_turns_them(orientation):
    rgb = RNG.integers(0, 256, (5, 7, 3)).astype(np.uint8)
    im = Image.fromarray(rgb)
    exif = im.getexif()
    exif[0x0112] = orientation
    im.info["exif"] = exif.tobytes()
    im._exif = exif  # what ImageOps.exif_transpose reads
    assert np.array_equal(oriented(rgb, orientation), np.asarray(ImageOps.exif_transpose(im)))


def test_the_16_bit_reading_turns_by_the_orientation_it_is_given(tmp_path):
    path = tmp_path / "f.png"
    cv2.imwrite(str(path), np.ascontiguousarray(TWELVE_BIT[..., ::-1]))
    assert np.array_equal(read_sixteen_bit_colour(path, 6), np.rot90(TWELVE_BIT, -1))


def test_a_file_name_that_is_not_utf8_is_read(tmp_path):
    """``cv2.imread`` of such a name crashed the process (a segmentation fault, under ``adaanchor train`` too)."""
    import os

    path = tmp_path / os.fsdecode(b"bad\xff.png")
    assert cv2.imwrite(str(tmp_path / "a.png"), np.ascontiguousarray(TWELVE_BIT[..., ::-1]))
    (tmp_path / "a.png").rename(path)
    assert np.array_equal(read_image(path)[0], rgb8(TWELVE_BIT))


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("wide", [False, True], ids=["8-bit", "16-bit"])
@pytest.mark.parametrize("compression", [None, "zlib"])
def test_a_tiff_with_an_orientation_tag_reads_stored_or_displayed_as_asked(tmp_path, orientation, wide, compression):
    """Pillow turns a TIFF by its tag as it loads it and drops the tag: ``exif="ignore"`` (the stored frame, where
    annotations are made) got the turned image and the tag read as 1; a 16-bit one of orientation 5-8 failed in
    OpenCV and fell back to the high byte."""
    import tifffile

    rgb = RNG.integers(0, 256, (6, 8, 3)).astype(np.uint8)
    pixels = rgb.astype(np.uint16) * 16 if wide else rgb
    path = tmp_path / "o.tif"
    tifffile.imwrite(path, pixels, photometric="rgb", compression=compression, extratags=[(274, "H", 1, orientation, False)])
    want = rgb8(pixels)
    stored, tag = read_image(path, exif="ignore")
    assert tag == orientation and np.array_equal(stored, want)
    assert np.array_equal(read_image(path, exif="apply")[0], oriented(want, orientation))


@pytest.mark.parametrize("orientation", [1, 6])
def test_the_pages_of_a_16_bit_colour_stack_keep_their_bits(tmp_path, orientation):
    import tifffile

    from adaanchor.predict.stacks import read_stack

    pages = np.stack([TWELVE_BIT, TWELVE_BIT[::-1]])
    path = tmp_path / "s.tif"
    with tifffile.TiffWriter(path) as tw:
        for page in pages:
            tw.write(page, photometric="rgb", extratags=[(274, "H", 1, orientation, False)])
    for how, turn in (("displayed", orientation), ("stored", 1)):
        got = [f.image for f in read_stack(path, how)]
        assert all(np.array_equal(g, oriented(rgb8(p), turn)) for g, p in zip(got, pages, strict=True)), how
