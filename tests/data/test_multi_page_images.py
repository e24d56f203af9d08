"""A multi-page image file (a TIFF stack, an animated GIF) given as a dataset image: its first page is read, as
before, and the dataset now says so once instead of leaving the other pages out without a word."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from adaanchor.data.dataset import DatasetImages
from adaanchor.data.image_read import read_image


def _pages(path, n, fmt):
    frames = [Image.fromarray(np.full((6, 8, 3), 40 * i, dtype=np.uint8)) for i in range(n)]
    frames[0].save(path, format=fmt, save_all=n > 1, append_images=frames[1:])
    return path


@pytest.mark.parametrize("suffix, fmt", [(".tif", "TIFF"), (".gif", "GIF")])
def test_a_stack_is_read_as_its_first_page_and_reported_once(tmp_path, suffix, fmt):
    stack, other = _pages(tmp_path / f"a{suffix}", 3, fmt), _pages(tmp_path / f"b{suffix}", 2, fmt)
    info: dict = {"pages": 1}
    img, _ = read_image(stack, info=info)
    assert info["pages"] == 3 and int(img.max()) == 0  # page 0 is black
    unasked: dict = {}
    read_image(stack, info=unasked)
    assert "pages" not in unasked  # counted only when asked (it reads every page's header)
    images = DatasetImages()
    with pytest.warns(UserWarning, match=rf"a{suffix}: holds 3 pages .* reads its first page only") as rec:
        images(str(stack))
        images(str(other))  # reported once per dataset
    assert sum("pages" in str(w.message) for w in rec) == 1


def test_single_page_files_and_other_formats_are_quiet(tmp_path):
    single = _pages(tmp_path / "one.tif", 1, "TIFF")
    Image.fromarray(np.zeros((6, 8, 3), dtype=np.uint8)).save(tmp_path / "p.png")
    info: dict = {"pages": 1}
    read_image(tmp_path / "p.png", info=info)
    assert info["pages"] == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DatasetImages()(str(single))
        DatasetImages()(str(tmp_path / "p.png"))
