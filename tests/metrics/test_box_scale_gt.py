"""Ground truth whose box is the OKS scale (CrowdPose AP, COCO AP with ``use_area=False``), CrowdPose's
``crowdIndex``, and results that keypoint recall must check as the AP does.

Each case gave a wrong number without a word, or a bare traceback: a box of negative width made the OKS scale
negative, so every OKS was above 1 and the person fell out of every area range (predictions 40 px off scored
CrowdPose AP 1.0, the person silently left out); a NaN ``crowdIndex`` put its image into xtcocotools' hard split
while the split was reported as empty (None); keypoint recall failed in a ``reshape`` on a result of another
keypoint count and silently left out results of an image the ground truth does not have.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from test_coco_ap import coco_gt, crowdpose_gt, gt_as_results  # tests/metrics is on sys.path

from adaanchor.cli import main
from adaanchor.errors import DataError
from adaanchor.metrics.coco import coco_keypoint_ap, crowdpose_ap
from adaanchor.metrics.recall import keypoint_recall


def _sizeless(gt: dict) -> dict:
    """``gt`` without image sizes: a box that leaves its image is then not refused as such (no size to check)."""
    for img in gt["images"]:
        del img["width"], img["height"]
    return gt


def _moved(results: list[dict], dx: float) -> list[dict]:
    out = copy.deepcopy(results)
    for r in out:
        r["keypoints"] = [v + dx if j % 3 < 2 else v for j, v in enumerate(r["keypoints"])]
    return out


@pytest.mark.parametrize("width", [-140.0, 0.0])
def test_crowdpose_box_without_positive_size_is_refused(width):
    gt = _sizeless(crowdpose_gt())
    res = gt_as_results(gt)
    far = res[:2] + _moved(res[2:], 40.0)  # the third person's predictions 40 px off: AP about 0.5
    assert crowdpose_ap(gt, far)["AP"] < 0.7
    gt["annotations"][2]["bbox"][2] = width  # was AP 1.0 for width -140: the person left out
    with pytest.raises(DataError, match=r"annotations\[2\] id=12\] field 'bbox'.*OKS scale"):
        crowdpose_ap(gt, far)


def test_coco_ap_from_boxes_refuses_a_box_without_positive_size():
    gt = _sizeless(coco_gt())
    res = gt_as_results(gt)
    assert coco_keypoint_ap(gt, res, use_area=False)["AP"] == pytest.approx(1.0)
    gt["annotations"][1]["bbox"][3] = -250.0
    with pytest.raises(DataError, match=r"annotations\[1\] id=2\] field 'bbox'"):
        coco_keypoint_ap(gt, _moved(res, 40.0), use_area=False)
    assert coco_keypoint_ap(gt, res)["AP"] == pytest.approx(1.0)  # with areas the box is no scale: scored


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, -0.1, "0.3", None])
def test_crowd_index_must_be_a_finite_number_at_least_0(value):
    gt = crowdpose_gt()
    gt["images"][1]["crowdIndex"] = value
    with pytest.raises(DataError, match=r"images\[1\] id=6\] field 'crowdIndex'"):
        crowdpose_ap(gt, gt_as_results(gt))


@pytest.mark.parametrize("hard", [1.0, 1.196, 1.5])
def test_crowd_index_bounds_are_accepted(hard):
    # Above 1 too: others' keypoints in a person's box can outnumber its own; the crowd-faces benchmark has 1.196.
    gt = crowdpose_gt()
    gt["images"][0]["crowdIndex"], gt["images"][1]["crowdIndex"] = 0, hard
    out = crowdpose_ap(gt, gt_as_results(gt))
    assert out["AP_easy"] == pytest.approx(1.0) and out["AP_hard"] == pytest.approx(1.0) and out["AP_medium"] is None


def test_crowd_index_nan_through_score(tmp_path, capsys):
    gt = crowdpose_gt()
    gt["images"][1]["crowdIndex"] = float("nan")
    gt["categories"][0]["keypoints"] = ["left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
                                        "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee",
                                        "left_ankle", "right_ankle", "head", "neck"]  # CrowdPose-14's order
    g, r = tmp_path / "gt.json", tmp_path / "res.json"
    g.write_text(json.dumps(gt))
    r.write_text(json.dumps(gt_as_results(crowdpose_gt())))
    capsys.readouterr()
    assert main(["score", str(g), str(r), "--metric", "crowdpose"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "field 'crowdIndex'" in err and "gt.json" in err, err


def test_recall_checks_results_as_the_ap_does():
    gt = coco_gt()
    res = gt_as_results(gt)
    assert keypoint_recall(gt, res)["recall"] == pytest.approx(1.0)
    short = copy.deepcopy(res)
    short[1]["keypoints"] = short[1]["keypoints"][:-3]  # was: ValueError cannot reshape array of size 48
    with pytest.raises(DataError, match=r"record 1\] field 'keypoints'.*16 keypoints"):
        keypoint_recall(gt, short)
    other = copy.deepcopy(res)
    other[0]["image_id"] = 99  # was: left out without a word (recall 2/3 of a perfect result set)
    with pytest.raises(DataError, match=r"record 0\] field 'image_id'"):
        keypoint_recall(gt, other)
    other = copy.deepcopy(res)
    other[2]["category_id"] = 7
    with pytest.raises(DataError, match=r"record 2\] field 'category_id'"):
        keypoint_recall(gt, other)


def test_recall_without_annotations_is_zero_whatever_the_results():
    gt = coco_gt()
    res = gt_as_results(gt)
    gt["annotations"] = []
    res[0]["keypoints"] = res[0]["keypoints"][:-3]
    assert keypoint_recall(gt, res) == {"recall": 0.0, "matched": 0.0, "labelled": 0.0}
    assert np.isfinite(keypoint_recall(gt, [])["recall"])


def test_recall_needs_the_areas_as_the_ap_does():
    gt = coco_gt()
    del gt["annotations"][2]["area"]  # was: the full box w * h, a cut-off 1.37 times looser than 0.53 * w * h
    with pytest.raises(DataError, match=r"annotations\[2\] id=3\] field 'area': missing"):
        keypoint_recall(gt, gt_as_results(coco_gt()))
