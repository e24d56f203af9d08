"""Non-finite predictions are never scored as good: refused with the record named (results files), or
counted as misses (arrays, model evaluation), on every metric path (docs/metrics.md)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from test_coco_ap import coco_gt, gt_as_results  # the same small ground truth (tests/metrics on sys.path)

from adaanchor.cli import main
from adaanchor.data.spec import load_spec
from adaanchor.engine.evaluate import coco_results, evaluate_predictions
from adaanchor.errors import DataError
from adaanchor.metrics.coco import coco_keypoint_ap, crowdpose_ap, load_results, predictions_to_coco_results
from adaanchor.metrics.keypoint import single_keypoint_metrics
from adaanchor.metrics.nme import nme_metrics
from adaanchor.metrics.pckh import MPII_JOINTS, pckh

BAD = (math.nan, math.inf, -math.inf)


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize("where", ["x", "y", "s"])
def test_results_with_a_non_finite_keypoint_are_refused_naming_the_record(tmp_path, value, where):
    res = gt_as_results(coco_gt())
    res[2]["keypoints"][3 * 5 + "xys".index(where)] = value
    p = tmp_path / "res.json"
    p.write_text(json.dumps(res))  # NaN / Infinity, as Python's json writes them
    with pytest.raises(DataError) as e:
        coco_keypoint_ap(coco_gt(), str(p))
    msg = str(e.value)
    assert str(p) in msg and "[record 2]" in msg and "field 'keypoints'" in msg and "keypoint 5" in msg


@pytest.mark.parametrize("value", BAD)
def test_results_with_a_non_finite_score_are_refused(value):
    res = gt_as_results(coco_gt())
    res[1]["score"] = value
    with pytest.raises(DataError, match=r"\[record 1\] field 'score': expected a finite number"):
        load_results(res)


def test_all_nan_results_through_the_cli_exit_2_not_ap_1(tmp_path, capsys):
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps(coco_gt()))
    res = gt_as_results(coco_gt())
    for r in res:
        r["keypoints"] = [math.nan] * len(r["keypoints"])
    p = tmp_path / "res.json"
    p.write_text(json.dumps(res))
    for metric in ("coco", "crowdpose"):
        assert main(["score", str(gt), str(p), "--metric", metric]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {p} [record 0] field 'keypoints': non-finite x") and "AP" not in err


def test_crowdpose_refuses_non_finite_results():

    res = [{"image_id": 1, "category_id": 1, "keypoints": [math.nan, 1.0, 1.0] * 14, "score": 1.0}]
    with pytest.raises(DataError, match="non-finite x"):
        crowdpose_ap({"images": [], "annotations": [], "categories": []}, res)


def test_the_results_writer_refuses_non_finite_predictions():
    kp = np.zeros((2, 17, 2))
    kp[1, 3, 0] = math.nan
    with pytest.raises(ValueError, match="instance 1"):
        predictions_to_coco_results([1, 2], kp)
    with pytest.raises(ValueError, match="instance 0"):
        predictions_to_coco_results([1, 2], np.zeros((2, 17, 2)), scores=np.full((2, 17), math.inf))


def test_single_keypoint_metrics_count_non_finite_as_misses():
    gt = np.array([[[10.0, 10.0], [20.0, 20.0]], [[30.0, 30.0], [40.0, 40.0]]])
    pred = gt + 1.0
    vis = np.array([[2, 1], [2, 2]])
    score = np.full((2, 2), 0.8)
    good = single_keypoint_metrics(pred, score, gt, vis, np.array([100.0, 100.0]))
    pred[1, 0] = (math.nan, 3.0)
    score[0, 1] = math.inf
    m = single_keypoint_metrics(pred, score, gt, vis, np.array([100.0, 100.0]))
    assert m["nonfinite"] == {"vis": 1, "inv": 1, "instances": 2}
    assert m["pck"]["0.05"] == pytest.approx(0.5) and good["pck"]["0.05"] == 1.0  # two of four are misses
    assert m["vis_error"] == pytest.approx(math.sqrt(2)) and m["inv_error"] is None  # the misses have no distance
    assert m["vis_score"] == pytest.approx(0.8)
    all_nan = single_keypoint_metrics(np.full_like(gt, math.nan), np.full((2, 2), math.nan), gt, vis, np.array([9.0, 9.0]))
    assert all_nan["pck"] == {"0.05": 0.0, "0.1": 0.0} and all_nan["vis_error"] is None
    assert all_nan["nonfinite"]["instances"] == 2


def test_nme_counts_a_non_finite_face_as_a_failure():
    gt = np.zeros((3, 68, 2))
    gt[:, 36], gt[:, 45] = (0.0, 0.0), (40.0, 0.0)
    pred = gt + 0.4  # NME 0.01 * sqrt(2)
    pred[2, 7] = (math.inf, 0.0)
    d = nme_metrics(pred, gt, np.full((3, 68), 2), spec=load_spec("face68"))
    assert d["nonfinite"] == 1 and d["count"] == 3
    assert d["FR@0.1"] == pytest.approx(1 / 3)
    assert d["AUC@0.1"] == pytest.approx(2 / 3 * (0.1 - 0.01 * math.sqrt(2)) / 0.1)
    assert d["NME"] == pytest.approx(0.01 * math.sqrt(2))  # over the two finite faces
    every = nme_metrics(np.full_like(gt, math.nan), gt, np.full((3, 68), 2), spec=load_spec("face68"))
    assert every["NME"] is None and every["FR@0.1"] == 1.0 and every["AUC@0.1"] == 0.0


def test_pckh_counts_non_finite_as_wrong():
    gt = np.tile(np.arange(16, dtype=float)[None, :, None] * 10, (2, 1, 2))
    pred = gt.copy()
    pred[0, 0] = (math.nan, math.nan)
    pred[1, 1] = (math.inf, 0.0)
    out = pckh(pred, gt, np.full((2, 16), 2), np.array([10.0, 10.0]))
    assert out["nonfinite"] == 2
    assert out["per_joint"]["0.5"][MPII_JOINTS[0]] == 50.0 and out["per_joint"]["0.5"][MPII_JOINTS[1]] == 50.0
    assert out["PCKh@0.5"] == pytest.approx(100 * 26 / 28)


def _preds_of_gt(gt: dict, nan_instances=()) -> dict:
    anns = gt["annotations"]
    kp = np.array([a["keypoints"] for a in anns], dtype=np.float64).reshape(len(anns), 17, 3)
    vis = kp[..., 2].astype(int)
    pred = kp[..., :2].copy()
    for i in nan_instances:
        pred[i] = math.nan
    return {"pred": pred, "gt": kp[..., :2], "pred_orig": pred, "gt_orig": kp[..., :2], "score": np.full(vis.shape, 0.9),
            "vis": vis, "bbox_size": np.full(len(anns), 300.0), "image_id": [a["image_id"] for a in anns],
            "ann_id": [a["id"] for a in anns], "det_score": np.ones(len(anns)), "outside": np.zeros(vis.shape, bool)}


def test_evaluation_leaves_non_finite_instances_out_of_the_ap(tmp_path):
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps(coco_gt()))
    full = evaluate_predictions(_preds_of_gt(coco_gt()), str(gt))
    assert full["ap"] == pytest.approx(1.0)
    one = evaluate_predictions(_preds_of_gt(coco_gt(), [0]), str(gt))
    assert one["nonfinite"]["instances"] == 1 and one["ap"] < 0.75 and one["coco"]["AR"] == pytest.approx(2 / 3)
    every = evaluate_predictions(_preds_of_gt(coco_gt(), [0, 1, 2]), str(gt))
    assert every["ap"] == 0.0 and every["pck"]["0.05"] == 0.0 and every["nonfinite"]["instances"] == 3
    assert coco_results(_preds_of_gt(coco_gt(), [0, 2])) == coco_results(_preds_of_gt(coco_gt()))[1:2]


def test_score_auc_ranks_a_non_finite_confidence_lowest_and_counts_its_keypoint_wrong():
    gt = np.zeros((1, 4, 2))
    pred = gt.copy()
    pred[0, 2:] += 50.0  # two wrong keypoints
    vis = np.full((1, 4), 2)
    score = np.array([[0.9, 0.8, 0.3, math.nan]])  # a correct one would rank the NaN last as well
    m = single_keypoint_metrics(pred, score, gt, vis, np.array([100.0]))
    assert m["score_auc"] == 1.0 and m["nonfinite"]["vis"] == 1
    score[0, 1] = math.nan  # a correct keypoint with a NaN confidence is a miss: wrong and ranked lowest
    m = single_keypoint_metrics(pred, score, gt, vis, np.array([100.0]))
    assert m["pck"]["0.05"] == 0.25 and m["score_auc"] == 1.0 and m["nonfinite"]["vis"] == 2


@pytest.mark.parametrize("metric", ["coco", "crowdpose"])
def test_a_keypoint_far_off_the_image_is_a_miss_without_an_overflow_warning(metric, recwarn):
    """1e300 is finite, so it is scored: its squared distance overflows to inf and its OKS is 0; pycocotools'
    numpy overflow warning reached the user's terminal."""
    from test_coco_ap import crowdpose_gt

    gt = coco_gt() if metric == "coco" else crowdpose_gt()
    perfect = (coco_keypoint_ap if metric == "coco" else crowdpose_ap)(gt, gt_as_results(gt))["AP"]
    res = gt_as_results(gt)
    for r in res:
        r["keypoints"][0] = 1e300
    far = (coco_keypoint_ap if metric == "coco" else crowdpose_ap)(gt, res)["AP"]
    assert far < perfect and not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
