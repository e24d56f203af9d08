"""Official OKS AP (pycocotools / xtcocotools) on tiny self-made ground truths."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from adaanchor.errors import AdaAnchorError, DataError
from adaanchor.metrics.coco import (
    CROWDPOSE_SIGMAS,
    coco_keypoint_ap,
    crowdpose_ap,
    load_results,
    predictions_to_coco_results,
)


def _person(rng: np.random.Generator, k: int, x0: float, y0: float, w: float, h: float, unlabelled=()) -> dict:
    xs = rng.uniform(x0, x0 + w, k)
    ys = rng.uniform(y0, y0 + h, k)
    vs = rng.choice([1, 2], k)
    kps = []
    for i in range(k):
        if i in unlabelled:
            kps += [0.0, 0.0, 0]
        else:
            kps += [float(round(xs[i], 2)), float(round(ys[i], 2)), int(vs[i])]
    return {"bbox": [x0, y0, w, h], "area": 0.6 * w * h, "iscrowd": 0, "category_id": 1, "keypoints": kps,
            "num_keypoints": sum(1 for v in kps[2::3] if v > 0)}


def coco_gt() -> dict:
    """Two images, three people (two on the first image), 17 keypoints, some unlabelled."""
    rng = np.random.default_rng(0)
    anns = [
        {"id": 1, "image_id": 1, **_person(rng, 17, 20, 30, 150, 300, unlabelled=(3, 4))},
        {"id": 2, "image_id": 1, **_person(rng, 17, 300, 60, 120, 250)},
        {"id": 3, "image_id": 2, **_person(rng, 17, 50, 50, 200, 380, unlabelled=(15, 16))},
    ]
    return {
        "images": [{"id": 1, "width": 640, "height": 480, "file_name": "a.jpg"},
                   {"id": 2, "width": 640, "height": 480, "file_name": "b.jpg"}],
        "annotations": anns,
        "categories": [{"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(17)], "skeleton": []}],
    }


def gt_as_results(gt: dict) -> list[dict]:
    anns = gt["annotations"]
    k = len(anns[0]["keypoints"]) // 3
    kp = np.array([a["keypoints"] for a in anns], dtype=np.float64).reshape(len(anns), k, 3)
    return predictions_to_coco_results([a["image_id"] for a in anns], kp[..., :2], np.full((len(anns), k), 0.9),
                                       ann_ids=[a["id"] for a in anns])


def test_results_format():
    gt = coco_gt()
    res = gt_as_results(gt)
    assert len(res) == 3 and res[0]["image_id"] == 1 and res[2]["image_id"] == 2 and res[1]["ann_id"] == 2
    assert len(res[0]["keypoints"]) == 51 and res[0]["keypoints"][2] == pytest.approx(0.9)
    assert res[0]["keypoints"][:2] == gt["annotations"][0]["keypoints"][:2]
    assert res[0]["score"] == pytest.approx(0.9)
    json.dumps(res)  # plain Python numbers


def test_ground_truth_as_predictions_scores_one():
    gt = coco_gt()
    stats = coco_keypoint_ap(gt, gt_as_results(gt))
    assert stats["AP"] == pytest.approx(1.0)
    assert stats["AP50"] == pytest.approx(1.0) and stats["AP75"] == pytest.approx(1.0)
    assert stats["AR"] == pytest.approx(1.0)
    # every person is "large" (area > 96^2): no medium ones
    assert stats["APL"] == pytest.approx(1.0) and stats["APM"] == -1.0


def test_an_annotation_numbered_0_is_found_like_any_other():
    # COCOeval took a detection matched to annotation id 0 for unmatched: the ground truth of a file numbered from
    # 0 (the DeepLabCut and SLEAP readers' numbering, through gt_from_instances) scored AP 0.44 against itself.
    gt = coco_gt()
    for a in gt["annotations"]:
        a["id"] -= 1
    stats = coco_keypoint_ap(gt, gt_as_results(gt))
    assert stats["AP"] == pytest.approx(1.0) and stats["AR"] == pytest.approx(1.0)
    assert coco_keypoint_ap(gt, gt_as_results(gt), use_area=False)["AP"] == pytest.approx(1.0)
    assert [a["id"] for a in gt["annotations"]] == [0, 1, 2]  # the caller's dict keeps its ids


def test_coco_ap_leaves_the_ground_truth_dict_alone():
    gt = coco_gt()
    coco_keypoint_ap(gt, gt_as_results(gt))
    assert gt == coco_gt()


def test_crowdpose_and_no_area_paths_leave_the_ground_truth_dict_alone():
    gt = coco_gt()
    coco_keypoint_ap(gt, gt_as_results(gt), use_area=False)
    assert gt == coco_gt()
    cp = crowdpose_gt()
    crowdpose_ap(cp, gt_as_results(cp))
    assert cp == crowdpose_gt()


def test_perturbation_lowers_ap():
    gt = coco_gt()
    res = gt_as_results(gt)
    perfect = coco_keypoint_ap(gt, res)["AP"]
    moved = copy.deepcopy(res)
    rng = np.random.default_rng(1)
    for r in moved:
        kp = np.array(r["keypoints"]).reshape(-1, 3)
        kp[:, :2] += rng.normal(0, 6.0, (len(kp), 2))
        r["keypoints"] = [float(v) for v in kp.reshape(-1)]
    noisy = coco_keypoint_ap(gt, moved)
    assert noisy["AP"] < perfect - 0.05
    far = copy.deepcopy(res)
    for r in far:
        r["keypoints"] = [v + 200.0 if i % 3 < 2 else v for i, v in enumerate(r["keypoints"])]
    assert coco_keypoint_ap(gt, far)["AP"] == pytest.approx(0.0)


def test_missing_instance_lowers_recall():
    gt = coco_gt()
    stats = coco_keypoint_ap(gt, gt_as_results(gt)[:2])
    assert stats["AR"] == pytest.approx(2 / 3)
    assert stats["AP"] < 1.0


def test_gt_file_and_use_area(tmp_path):
    gt = coco_gt()
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    res_path = tmp_path / "res.json"
    res_path.write_text(json.dumps(gt_as_results(gt)))
    assert coco_keypoint_ap(path, res_path)["AP"] == pytest.approx(1.0)
    no_area = copy.deepcopy(gt)
    for a in no_area["annotations"]:
        del a["area"]
    with pytest.raises(DataError, match="area"):
        coco_keypoint_ap(no_area, gt_as_results(gt))
    assert coco_keypoint_ap(no_area, gt_as_results(gt), use_area=False)["AP"] == pytest.approx(1.0)


def test_bad_inputs_are_named():
    gt = coco_gt()
    res = gt_as_results(gt)
    bad = copy.deepcopy(res)
    bad[1]["image_id"] = 99
    with pytest.raises(DataError, match="image_id"):
        coco_keypoint_ap(gt, bad)
    bad = copy.deepcopy(res)
    del bad[2]["score"]
    with pytest.raises(DataError, match=r"record 2.*score"):
        load_results(bad)
    bad = copy.deepcopy(res)
    bad[0]["keypoints"] = bad[0]["keypoints"][:-3]
    with pytest.raises(DataError, match="keypoints"):
        coco_keypoint_ap(gt, bad)
    with pytest.raises(AdaAnchorError, match="sigmas"):
        coco_keypoint_ap(gt, res, sigmas=np.ones(14))
    empty = coco_keypoint_ap(gt, [])  # no detections: 0 where there is ground truth, -1 (no medium people) elsewhere
    assert empty == {k: (-1.0 if k in ("APM", "ARM") else 0.0) for k in empty}


# ---- CrowdPose ----------------------------------------------------------------------------------


def crowdpose_gt() -> dict:
    rng = np.random.default_rng(3)
    anns = [
        {"id": 10, "image_id": 5, **_person(rng, 14, 30, 40, 140, 280)},
        {"id": 11, "image_id": 5, **_person(rng, 14, 250, 20, 160, 300, unlabelled=(0,))},
        {"id": 12, "image_id": 6, **_person(rng, 14, 100, 80, 180, 320)},
    ]
    for a in anns:
        del a["area"]  # CrowdPose has no areas: OKS uses the box
    return {
        "images": [{"id": 5, "width": 500, "height": 400, "file_name": "c.jpg", "crowdIndex": 0.1},
                   {"id": 6, "width": 500, "height": 420, "file_name": "d.jpg", "crowdIndex": 0.5}],
        "annotations": anns,
        "categories": [{"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(14)], "skeleton": []}],
    }


def test_crowdpose_ground_truth_scores_one():
    gt = crowdpose_gt()
    assert len(CROWDPOSE_SIGMAS) == 14
    stats = crowdpose_ap(gt, gt_as_results(gt))
    for key in ("AP", "AP50", "AP75", "AR", "AP_easy", "AP_medium"):
        assert stats[key] == pytest.approx(1.0), key
    assert stats["AP_hard"] is None  # no image with crowdIndex >= 0.8


def test_crowdpose_perturbation_and_checks():
    gt = crowdpose_gt()
    res = gt_as_results(gt)
    moved = copy.deepcopy(res)
    rng = np.random.default_rng(2)
    for r in moved:
        r["keypoints"] = [v + float(rng.normal(0, 8.0)) if i % 3 < 2 else v for i, v in enumerate(r["keypoints"])]
    assert crowdpose_ap(gt, moved)["AP"] < 0.95
    no_ci = copy.deepcopy(gt)
    del no_ci["images"][1]["crowdIndex"]
    with pytest.raises(DataError, match="crowdIndex"):
        crowdpose_ap(no_ci, res)
    with pytest.raises(DataError, match="14 keypoints"):
        crowdpose_ap(coco_gt(), gt_as_results(coco_gt()))
