"""Single keypoint metrics on examples small enough to work out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from adaanchor.metrics.keypoint import error_by_visibility_table, single_keypoint_metrics, threshold_key

# Two instances, three keypoint types.
GT = np.array([[[10, 10], [20, 20], [30, 30]],
               [[0, 0], [0, 0], [0, 0]]], dtype=np.float64)
PRED = np.array([[[13, 14], [20, 21], [100, 100]],   # distances 5, 1, (v=0)
                 [[6, 8], [0, 3], [0, 0.5]]])        # distances 10, 3, 0.5
VIS = np.array([[2, 1, 0], [2, 2, 1]])
SIZE = np.array([200.0, 50.0])  # normalised distances: 0.025, 0.005, -- / 0.2, 0.06, 0.01
SCORES = np.array([[0.9, 0.3, 0.99], [0.5, 0.7, 0.2]])


def test_errors_scores_and_pck_by_hand():
    m = single_keypoint_metrics(PRED, SCORES, GT, VIS, SIZE)
    assert m["counts"] == {"vis": 3, "inv": 2}
    assert m["vis_error"] == pytest.approx((5 + 10 + 3) / 3)
    assert m["inv_error"] == pytest.approx((1 + 0.5) / 2)
    assert m["vis_score"] == pytest.approx((0.9 + 0.5 + 0.7) / 3)
    assert m["inv_score"] == pytest.approx((0.3 + 0.2) / 2)
    # labelled: 0.025 y, 0.005 y, 0.2 n, 0.06 n, 0.01 y at 0.05; at 0.1 also 0.06 passes
    assert m["pck"] == {"0.05": pytest.approx(3 / 5), "0.1": pytest.approx(4 / 5)}
    assert m["pck_vis"] == pytest.approx(1 / 3)  # 0.025 y, 0.2 n, 0.06 n
    assert m["pck_inv"] == pytest.approx(1.0)  # 0.005, 0.01
    # correct (<= 0.05): scores 0.9, 0.3, 0.2; wrong: 0.5, 0.7.
    # pairs (correct > wrong): 0.9 beats both, 0.3 and 0.2 beat neither -> 2 of 6
    assert m["score_auc"] == pytest.approx(2 / 6)


def test_score_auc_four_points():
    gt = np.zeros((1, 4, 2))
    pred = np.array([[[1, 0], [0, 2], [20, 0], [0, 30]]], dtype=np.float64)  # 0.01, 0.02 correct; 0.2, 0.3 wrong
    scores = np.array([[0.9, 0.4, 0.6, 0.1]])
    m = single_keypoint_metrics(pred, scores, gt, np.full((1, 4), 2), np.array([100.0]))
    # correct {0.9, 0.4} vs wrong {0.6, 0.1}: 0.9>0.6, 0.9>0.1, 0.4<0.6, 0.4>0.1 -> 3 of 4 pairs
    assert m["score_auc"] == pytest.approx(0.75)
    # a tie between a correct and a wrong keypoint counts one half
    m = single_keypoint_metrics(pred, np.array([[0.9, 0.6, 0.6, 0.1]]), gt, np.full((1, 4), 2), np.array([100.0]))
    assert m["score_auc"] == pytest.approx(3.5 / 4)


def test_unlabelled_keypoints_are_ignored():
    base = single_keypoint_metrics(PRED, SCORES, GT, VIS, SIZE)
    pred2, gt2, scores2 = PRED.copy(), GT.copy(), SCORES.copy()
    pred2[0, 2] = [-500, 7]
    gt2[0, 2] = [3, 3]
    scores2[0, 2] = 0.0
    assert single_keypoint_metrics(pred2, scores2, gt2, VIS, SIZE) == base
    # making it labelled does change the result
    vis = VIS.copy()
    vis[0, 2] = 2
    assert single_keypoint_metrics(pred2, scores2, gt2, vis, SIZE)["vis_error"] != base["vis_error"]


def test_without_scores_and_missing_groups_give_none():
    m = single_keypoint_metrics(PRED, None, GT, VIS, SIZE)
    assert m["vis_score"] is None and m["inv_score"] is None and m["score_auc"] is None
    assert m["vis_error"] == pytest.approx(6.0)  # errors do not need scores
    only_vis = np.where(VIS == 1, 0, VIS)
    m = single_keypoint_metrics(PRED, SCORES, GT, only_vis, SIZE)
    assert m["inv_error"] is None and m["inv_score"] is None and m["pck_inv"] is None
    assert m["counts"] == {"vis": 3, "inv": 0}
    # only one class (all correct): no AUC
    m = single_keypoint_metrics(GT, SCORES, GT, VIS, SIZE)
    assert m["score_auc"] is None and m["vis_error"] == 0.0 and m["pck"]["0.05"] == 1.0


def test_torch_inputs_and_custom_thresholds():
    m_np = single_keypoint_metrics(PRED, SCORES, GT, VIS, SIZE, pck_thresholds=(0.02, 0.5))
    m_t = single_keypoint_metrics(torch.tensor(PRED), torch.tensor(SCORES), torch.tensor(GT), torch.tensor(VIS),
                                  torch.tensor(SIZE), pck_thresholds=(0.02, 0.5))
    assert m_np == m_t
    # at 0.02: 0.005 and 0.01 pass of five; at 0.5 everything passes
    assert m_np["pck"] == {"0.02": pytest.approx(2 / 5), "0.5": pytest.approx(1.0)}
    assert m_np["pck_vis"] == pytest.approx(0.0)  # first threshold, v=2: 0.025, 0.2, 0.06
    assert threshold_key(0.1) == "0.1" and threshold_key(0.05) == "0.05"


def test_pck_threshold_is_inclusive():
    gt = np.zeros((1, 1, 2))
    pred = np.array([[[3.0, 4.0]]])  # distance 5, size 100 -> exactly 0.05
    m = single_keypoint_metrics(pred, None, gt, np.array([[2]]), np.array([100.0]))
    assert m["pck"]["0.05"] == 1.0


def test_shape_errors():
    with pytest.raises(ValueError):
        single_keypoint_metrics(PRED[:, :2], SCORES, GT, VIS, SIZE)
    with pytest.raises(ValueError):
        single_keypoint_metrics(PRED, SCORES[:, :2], GT, VIS, SIZE)
    with pytest.raises(ValueError):
        single_keypoint_metrics(PRED, SCORES, GT, VIS, SIZE[:1])
    with pytest.raises(ValueError):
        single_keypoint_metrics(PRED, SCORES, GT, VIS, np.array([0.0, 50.0]))


def test_table_layout():
    m = single_keypoint_metrics(PRED, SCORES, GT, VIS, SIZE)
    table = error_by_visibility_table({"ours": {**m, "AP": 0.713}, "reg": single_keypoint_metrics(PRED, None, GT, VIS, SIZE)})
    lines = table.splitlines()
    assert lines[0].startswith("| Method | Vis.Error")
    assert lines[2] == "| ours | 6.00 | 0.700 | 0.75 | 0.250 | 0.333 | 71.3 | 60.0 |"
    assert lines[3] == "| reg | 6.00 | N/A | 0.75 | N/A | N/A | N/A | 60.0 |"
    split = error_by_visibility_table({"ours": {**m, "inv_error_in": 0.5, "inv_error_out": 12.25}, "reg": m})
    assert split.splitlines()[0] == ("| Method | Vis.Error | Vis.Score | Inv.Error | Inv.In | Inv.Out | Inv.Score | "
                                     "Score AUC | AP | PCK@0.05 |")
    assert split.splitlines()[2].startswith("| ours | 6.00 | 0.700 | 0.75 | 0.50 | 12.25 | 0.250 |")
    assert split.splitlines()[3].startswith("| reg | 6.00 | 0.700 | 0.75 | N/A | N/A | 0.250 |")


def test_table_pck_column_follows_the_thresholds_computed():
    """``eval.pck=[0.1, 0.2]``: the PCK column said N/A under a PCK@0.05 header, for a PCK that was computed."""
    m = single_keypoint_metrics(PRED, SCORES, GT, VIS, SIZE, pck_thresholds=(0.1, 0.2))
    lines = error_by_visibility_table({"ours": m}).splitlines()
    assert lines[0].endswith("| AP | PCK@0.1 |")
    assert lines[2].endswith(f"| {100 * m['pck']['0.1']:.1f} |") and "N/A |" not in lines[2].rsplit("|", 2)[1]


def test_errors_by_visibility_split_inside_and_outside_the_image_by_hand():
    from adaanchor.metrics.keypoint import errors_by_keypoint, errors_by_visibility, per_keypoint_table

    gt = np.zeros((2, 3, 2))
    pred = gt.copy()
    pred[:, 0, 0] = 1.0  # keypoint a: 1 px off
    pred[:, 1, 0] = 3.0  # keypoint b: 3 px off
    pred[:, 2, 0] = 5.0  # keypoint c: 5 px off
    vis = np.array([[2, 1, 1], [2, 1, 0]])
    outside = np.array([[False, False, True], [False, True, True]])
    e = errors_by_visibility(pred, gt, vis, outside)
    assert e["vis_error"] == 1.0 and e["inv_error"] == pytest.approx((3 + 5 + 3) / 3)
    assert e["inv_error_in"] == 3.0 and e["inv_error_out"] == 4.0 and e["counts_inv"] == {"in": 1, "out": 2}
    assert "inv_error_in" not in errors_by_visibility(pred, gt, vis)
    pred[1, 1] = np.nan  # a miss: out of the means
    e = errors_by_visibility(pred, gt, vis, outside)
    assert e["inv_error_out"] == 5.0 and e["counts_inv"]["out"] == 2
    per = errors_by_keypoint(pred, gt, vis, ["a", "b", "c"])
    assert per["a"] == {"vis_error": 1.0, "inv_error": None, "vis": 2, "inv": 0}
    assert per["b"] == {"vis_error": None, "inv_error": 3.0, "vis": 0, "inv": 2}
    assert per["c"]["inv_error"] == 5.0 and per["c"]["inv"] == 1
    table = per_keypoint_table(per, {k: {**v, "vis_error": None if v["vis_error"] is None else 2 * v["vis_error"]}
                                     for k, v in per.items()})
    assert "| a | 2 | 1.00 | 2.00 | 0 | N/A | N/A |" in table
    with pytest.raises(ValueError, match="2 keypoint names for 3 keypoints"):
        errors_by_keypoint(pred, gt, vis, ["a", "b"])
