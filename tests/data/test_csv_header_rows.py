"""Landmark CSV header detection: a first data row whose file name has no image suffix is data, not a header
(its face was dropped without a word and every later ``ann_id`` moved by one)."""

from __future__ import annotations

import numpy as np
import pytest

from adaanchor.data.readers.formats import FORMATS
from adaanchor.data.spec import load_spec

FACE68 = load_spec("face68")


def _rows(names: list[str]) -> tuple[list[str], np.ndarray]:
    xy = np.random.default_rng(0).uniform(10, 90, size=(len(names), 68, 2)).round(2)
    return [",".join([n, *(f"{v:g}" for v in p.ravel())]) for n, p in zip(names, xy)], xy


@pytest.mark.parametrize("names", [["face0", "face1", "face2"], ["a.gif", "b.gif", "c.gif"]])
def test_headerless_rows_without_image_suffix_are_all_read(tmp_path, names):
    lines, xy = _rows(names)
    f = tmp_path / "faces.csv"
    f.write_text("\n".join(lines) + "\n")
    res = FORMATS["csv"](f, FACE68)
    assert [i.ann_id for i in res.instances] == [0, 1, 2]
    np.testing.assert_allclose(res.instances[0].keypoints, xy[0])


@pytest.mark.parametrize("first", ["", "filename", "image"])
@pytest.mark.parametrize("start", [0, 1])
def test_headers_of_column_numbers_are_still_recognised(tmp_path, first, start):
    lines, xy = _rows(["face0.jpg", "face1.jpg"])
    f = tmp_path / "faces.csv"
    f.write_text(",".join([first, *(str(start + i) for i in range(136))]) + "\n" + "\n".join(lines) + "\n")
    res = FORMATS["csv"](f, FACE68)
    assert [i.ann_id for i in res.instances] == [0, 1]
    np.testing.assert_allclose(res.instances[1].keypoints, xy[1])
