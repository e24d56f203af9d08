"""YOLO pose labels: a visibility flag that is not 0, 1 or 2 and an image list that is not UTF-8 text are refused
naming the file (a fractional flag was rounded: 0.4 made a labelled point unlabelled; the list was a traceback)."""

from __future__ import annotations

import pytest
from test_yolo import make_yolo

from adaanchor.data.readers.yolo import read_yolo
from adaanchor.data.spec_source import load_spec
from adaanchor.errors import DataError


@pytest.mark.parametrize("flag", ["0.4", "1.6", "0.5", "2.2"])
def test_a_fractional_visibility_flag_is_refused(tmp_path, flag):
    make_yolo(tmp_path / "ds", n={"train": 1})
    spec = load_spec(tmp_path / "ds")
    lbl = tmp_path / "ds" / "labels" / "train" / "train0.txt"
    good = lbl.read_text().strip()
    lbl.write_text(good + "\n" + "0 0.5 0.5 0.8 0.9" + " 0.5 0.5 2" * 4 + f" 0.3 0.3 {flag}\n")
    with pytest.raises(DataError, match=r"train0.txt line 2\] field 'keypoints': visibility must be 0, 1 or 2"):
        read_yolo(tmp_path / "ds" / "images" / "train", spec)
    res = read_yolo(tmp_path / "ds" / "images" / "train", spec, skip_invalid=True)
    assert len(res.instances) == 1 and len(res.skipped) == 1


def test_written_flags_with_decimals_read_as_their_value(tmp_path):
    make_yolo(tmp_path / "ds", n={"train": 1})
    lbl = tmp_path / "ds" / "labels" / "train" / "train0.txt"
    lbl.write_text("0 0.5 0.5 0.8 0.9 0.5 0.5 2.000000 0.4 0.4 1.0 0.3 0.3 0.0 0.2 0.2 2 0.6 0.6 1\n")
    res = read_yolo(tmp_path / "ds" / "images" / "train", load_spec(tmp_path / "ds"))
    assert res.instances[0].visibility.tolist() == [2, 1, 0, 2, 1]


def test_an_image_list_that_is_not_utf8_names_the_file(tmp_path):
    make_yolo(tmp_path / "ds", n={"train": 1})
    lst = tmp_path / "ds" / "train.txt"
    lst.write_bytes(b"images/train/train0.png\nimages/train/\xff.png\n")
    with pytest.raises(DataError, match=r"train.txt: cannot read the image list \(UnicodeDecodeError"):
        read_yolo(lst, load_spec(tmp_path / "ds"))
