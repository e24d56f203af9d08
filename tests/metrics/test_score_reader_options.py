"""``score`` with an option the ground truth's reader does not take is a one-line error naming the reader's
options (``--fmt coco --headboxes`` was a ``TypeError`` traceback), and head boxes are for ``pckh`` only."""

from __future__ import annotations

import json

import pytest

from adaanchor.errors import AdaAnchorError
from adaanchor.metrics.score import score


@pytest.fixture
def face_gt(tmp_path):
    kps = [v for j in range(68) for v in (10.0 + j, 20.0 + j % 7, 2)]
    gt = {"images": [{"id": 1, "file_name": "a.jpg", "width": 200, "height": 200}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [5, 5, 100, 100], "area": 1e4,
                           "keypoints": kps, "num_keypoints": 68, "iscrowd": 0}],
          "categories": [{"id": 1, "name": "face"}]}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps([{"image_id": 1, "category_id": 1, "keypoints": kps, "score": 1}]))
    return tmp_path / "gt.json", tmp_path / "res.json"


def test_option_the_reader_does_not_take_names_its_options(face_gt):
    gt, res = face_gt
    with pytest.raises(AdaAnchorError, match="format coco takes no option one_based .its options: keep_crowd"):
        score(gt, res, "nme", fmt="coco", spec="face68", reader_options={"one_based": True})
    with pytest.raises(AdaAnchorError, match="format coco takes no option headboxes"):
        score(gt, res, "pckh", fmt="coco", spec="face68", headboxes="heads.mat")
    assert score(gt, res, "nme", fmt="coco", spec="face68", reader_options={"keep_crowd": True})["num_instances"] == 1


def test_headboxes_only_for_pckh(face_gt):
    gt, res = face_gt
    with pytest.raises(AdaAnchorError, match="metric nme does not read them"):
        score(gt, res, "nme", fmt="coco", spec="face68", headboxes="heads.mat")


def test_readers_with_keyword_options_take_any():
    from adaanchor.data.readers.formats import check_reader_options

    check_reader_options("pts", {"anything": 1})
    check_reader_options("coco", {"check_image_size": False})


@pytest.mark.parametrize("option", ["--gt-format", "--fmt"])
def test_the_ground_truth_format_option_has_a_name_of_its_own_and_keeps_the_old_one(face_gt, option, capsys):
    """``score --fmt`` beside ``predict --format`` (the output's format): ``--gt-format`` says whose format it is."""
    from adaanchor.cli import main

    gt, res = face_gt
    assert main(["score", str(gt), str(res), "--metric", "nme", option, "coco", "--spec", "face68"]) == 0
    assert "NME" in capsys.readouterr().out
