"""An empty results file scores as no detections, range by range as COCOeval scores any results: 0 where the
ground truth has people to find, -1 ("no ground-truth instance in this range") where it has none.

A shortcut returned 0 for every entry: ``APM 0.0`` for a ground truth without medium-sized people, where every
non-empty results file gets -1, and ``AP_hard 0.0`` for hard images with no one on them."""

from __future__ import annotations

import copy

from test_coco_ap import coco_gt, crowdpose_gt, gt_as_results  # tests/metrics is on sys.path

from adaanchor.metrics.coco import coco_keypoint_ap, crowdpose_ap


def test_coco_empty_results_keep_the_ranges_without_ground_truth():
    gt = coco_gt()  # three large people, no medium one
    some = coco_keypoint_ap(gt, gt_as_results(gt)[:1])
    empty = coco_keypoint_ap(gt, [])
    assert some["APM"] == some["ARM"] == -1.0
    assert empty["APM"] == empty["ARM"] == -1.0  # was 0.0
    assert all(empty[k] == 0.0 for k in ("AP", "AP50", "AP75", "APL", "AR", "AR50", "AR75", "ARL"))


def test_coco_empty_results_with_a_medium_person_score_zero_there():
    gt = coco_gt()
    gt["annotations"][1]["area"] = 50.0**2
    empty = coco_keypoint_ap(gt, [])
    assert empty["APM"] == empty["ARM"] == 0.0 and empty["AP"] == 0.0


def test_crowdpose_empty_results_keep_a_split_without_people():
    gt = crowdpose_gt()
    gt["images"].append({"id": 7, "width": 300, "height": 300, "file_name": "e.jpg", "crowdIndex": 0.9})
    res = gt_as_results(crowdpose_gt())
    assert crowdpose_ap(gt, res[:1])["AP_hard"] == -1.0  # hard images, no one on them
    empty = crowdpose_ap(copy.deepcopy(gt), [])
    assert empty["AP_hard"] == -1.0  # was 0.0
    assert empty["AP"] == empty["AP_easy"] == empty["AP_medium"] == empty["AR"] == 0.0
    assert crowdpose_ap(crowdpose_gt(), [])["AP_hard"] is None  # no hard image at all
