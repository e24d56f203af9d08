"""Bad arguments to the Python API of the metrics are refused with one line naming the argument, never scored
into a silently wrong number (the audit of the metrics API; docs/metrics.md)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image
from test_coco_ap import coco_gt, crowdpose_gt, gt_as_results  # tests/metrics is on sys.path

from adaanchor.errors import AdaAnchorError, DataError
from adaanchor.metrics.coco import (
    COCO_SIGMAS,
    coco_keypoint_ap,
    crowdpose_ap,
    predictions_to_coco_results,
    write_results,
)
from adaanchor.metrics.keypoint import errors_by_keypoint, errors_by_visibility, single_keypoint_metrics
from adaanchor.metrics.nme import ced_auc, failure_rate, nme_metrics
from adaanchor.metrics.pckh import MPII_JOINTS, pckh
from adaanchor.metrics.recall import keypoint_recall
from adaanchor.metrics.score import score


def _shifted(res: list[dict], dx: float) -> list[dict]:
    """The results moved ``dx`` px in x and y (scores kept)."""
    return [dict(r, keypoints=[v + dx if j % 3 < 2 else v for j, v in enumerate(r["keypoints"])]) for r in res]


def _files(tmp_path, res: list[dict]) -> tuple[str, str]:
    gt, rp = tmp_path / "gt.json", tmp_path / "res.json"
    gt.write_text(json.dumps(coco_gt()))
    rp.write_text(json.dumps(res))
    return str(gt), str(rp)


# ---- 1. OKS sigmas --------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, 0.0, -0.1, 1e-30, 5.0])
def test_oks_sigmas_outside_the_usable_range_are_refused(bad):
    off = _shifted(gt_as_results(coco_gt()), 30.0)  # AP 0 with the real sigmas: NaN / inf made it 1.0
    assert coco_keypoint_ap(coco_gt(), off)["AP"] == 0.0
    with pytest.raises(AdaAnchorError, match=r"^sigmas\[0\]: expected an OKS sigma in \[0.001, 1\]"):
        coco_keypoint_ap(coco_gt(), off, sigmas=[bad] + [0.05] * 16)
    with pytest.raises(AdaAnchorError, match=r"^sigmas\[0\]"):
        crowdpose_ap(crowdpose_gt(), gt_as_results(crowdpose_gt()), sigmas=[bad] + [0.05] * 13)
    with pytest.raises(AdaAnchorError, match=r"^sigmas\[0\]"):
        keypoint_recall(coco_gt(), off, sigmas=[bad] + [0.05] * 16)
    # the bounds themselves are usable
    assert coco_keypoint_ap(coco_gt(), gt_as_results(coco_gt()), sigmas=[1e-3] * 8 + [1.0] * 9)["AP"] > 0.99


def test_oks_sigmas_through_score_and_as_strings(tmp_path):
    gt, res = _files(tmp_path, _shifted(gt_as_results(coco_gt()), 30.0))
    with pytest.raises(AdaAnchorError, match=r"^sigmas\[0\].*got nan$"):
        score(gt, res, "coco", sigmas=[math.nan] * 17)
    for bad in (["a"] * 17, ["0.05"] * 17, [True] * 17, np.ones(17, bool)):  # "0.05" and True were read as numbers
        with pytest.raises(AdaAnchorError, match=r"^sigmas: expected K numbers"):
            coco_keypoint_ap(gt, res, sigmas=bad)


def test_keypoint_recall_checks_the_number_of_sigmas():
    with pytest.raises(AdaAnchorError, match="17 keypoints but 5 OKS sigmas"):
        keypoint_recall(coco_gt(), gt_as_results(coco_gt()), sigmas=COCO_SIGMAS[:5])


# ---- 2. predictions_to_coco_results ---------------------------------------------------------------------

KP = np.random.default_rng(0).uniform(10, 50, (2, 17, 2))


@pytest.mark.parametrize(("kwargs", "exc", "msg"), [
    ({"image_ids": [1]}, ValueError, r"^image_ids: 1 ids for 2 predicted instances"),
    ({"image_ids": [1, 2, 3]}, ValueError, r"^image_ids: 3 ids for 2"),
    ({"keypoints": np.zeros((2, 17, 3))}, ValueError, r"^keypoints must be \(M, K, 2\)"),
    ({"ann_ids": [5, 6, 7]}, ValueError, r"^ann_ids: 3 ids for 2"),
    ({"ann_ids": [5]}, ValueError, r"^ann_ids: 1 ids for 2"),
    ({"image_ids": [1.7, 2]}, ValueError, r"^image_ids\[0\]: expected an integer id, got 1.7"),
    ({"image_ids": [True, 2]}, ValueError, r"^image_ids\[0\]: expected an integer id"),
    ({"image_ids": 5}, TypeError, r"^image_ids: expected a sequence of 2 integer ids"),
    ({"instance_scores": [0.5]}, ValueError, r"^instance_scores must be \(M,\) = \(2,\)"),
    ({"instance_scores": [0.5, 0.5, 0.5]}, ValueError, r"^instance_scores must be \(M,\)"),
    ({"scores": np.ones(34)}, ValueError, r"^scores must be \(M, K\) = \(2, 17\)"),
    ({"category_id": "x"}, TypeError, r"^category_id: expected an integer id"),
])
def test_predictions_to_coco_results_checks_shapes_and_lengths(kwargs, exc, msg):
    args = {"image_ids": [1, 2], "keypoints": KP, **kwargs}
    with pytest.raises(exc, match=msg):
        predictions_to_coco_results(**args)


def test_predictions_to_coco_results_accepts_whole_number_ids_and_nothing():
    res = predictions_to_coco_results(np.array([3.0, 4.0]), KP, ann_ids=np.array([7, 8]))
    assert [(r["image_id"], r["ann_id"]) for r in res] == [(3, 7), (4, 8)]
    assert predictions_to_coco_results([], np.zeros((0, 17, 2))) == []
    with pytest.raises(ValueError, match="image_ids: 1 ids for 0"):
        predictions_to_coco_results([1], np.zeros((0, 17, 2)))


# ---- 3. single keypoint metrics, errors by visibility / keypoint ----------------------------------------

G = np.random.default_rng(1).uniform(0, 100, (4, 5, 2))
V = np.array([[2, 2, 1, 1, 0]] * 4)
S = np.full(4, 100.0)


@pytest.mark.parametrize("size", [math.inf, math.nan])
def test_bbox_size_must_be_positive_and_finite(size):
    # inf made every normalised distance 0: PCK 1.0 for predictions 50 px off
    with pytest.raises(ValueError, match=r"^bbox_size must be positive and finite .* for instance 0"):
        single_keypoint_metrics(G + 50, None, G, V, [size, 100, 100, 100])


def test_non_finite_ground_truth_is_refused():
    g = G.copy()
    g[1, 2] = math.nan
    msg = r"^gt: non-finite coordinate \[nan, nan\] of labelled keypoint 2 of instance 1"
    for call in (lambda: single_keypoint_metrics(G + 1, None, g, V, S), lambda: errors_by_visibility(G + 1, g, V),
                 lambda: errors_by_keypoint(G + 1, g, V, list("abcde"))):
        with pytest.raises(ValueError, match=msg):
            call()
    g[1, 2] = G[1, 2]
    g[0, 4] = math.nan  # an unlabelled point may be anything
    assert errors_by_visibility(G + 1, g, V)["vis_error"] == pytest.approx(math.sqrt(2))


@pytest.mark.parametrize(("vis", "exc", "msg"), [
    (V > 0, TypeError, r"^vis: expected visibility flags 0, 1 or 2 .* got dtype bool \(for a mask"),
    (np.where(V == 2, 3, V), ValueError, r"^vis: expected visibility flags 0, 1 or 2, got 3 at \[0, 0\]"),
    (np.where(V == 1, 1.9, V), ValueError, r"^vis: .* got 1.9 at \[0, 2\]"),
    (np.where(V == 0, np.nan, V), ValueError, r"^vis: .* got nan at \[0, 4\]"),
    (V[0], ValueError, r"^vis must be \(M, K\) = \(4, 5\) like pred, got \(5,\)"),
])
def test_vis_must_be_flags_of_the_right_shape(vis, exc, msg):
    for call in (lambda: single_keypoint_metrics(G, None, G, vis, S), lambda: errors_by_visibility(G, G, vis),
                 lambda: errors_by_keypoint(G, G, vis, list("abcde"))):
        with pytest.raises(exc, match=msg):
            call()


@pytest.mark.parametrize("pred", [G[:1], G[0]])
def test_errors_by_visibility_and_keypoint_do_not_broadcast(pred):
    with pytest.raises(ValueError, match=r"^pred and gt must both be \(M, K, 2\)"):
        errors_by_visibility(pred, G, V)
    with pytest.raises(ValueError, match=r"^pred and gt must both be \(M, K, 2\)"):
        errors_by_keypoint(pred, G, V, list("abcde"))


@pytest.mark.parametrize(("outside", "msg"), [
    (np.zeros(5, bool), r"^outside must be \(M, K\) = \(4, 5\) like vis, got \(5,\)"),
    (np.full((4, 5), 0.3), r"^outside: expected True / False \(or 0 / 1\) per keypoint, got 0.3 at \[0, 0\]"),
    (0.3, r"^outside must be \(M, K\)"),
])
def test_outside_must_be_an_m_by_k_mask(outside, msg):
    with pytest.raises(ValueError, match=msg):
        errors_by_visibility(G + 1, G, V, outside)
    assert errors_by_visibility(G + 1, G, V, np.ones((4, 5), int))["counts_inv"] == {"in": 0, "out": 8}


def test_pck_thresholds_must_be_a_sequence_of_positive_numbers():
    with pytest.raises(TypeError, match=r"^pck_thresholds: expected a sequence of thresholds .* got 0.1$"):
        single_keypoint_metrics(G, None, G, V, S, pck_thresholds=0.1)
    with pytest.raises(ValueError, match=r"^pck_thresholds: expected positive finite numbers, got -1"):
        single_keypoint_metrics(G, None, G, V, S, pck_thresholds=[-1])


def test_thresholds_given_as_percentages_are_refused():
    """Every threshold is a fraction of a size: 50 for PCKh@0.5 passed every joint (100 %) without a word."""
    g = np.zeros((2, 16, 2))
    p = g + 3.0  # 4.2 px off with head size 1: PCKh@0.5 is 0, PCKh@50 would be 100
    args = (p, g, np.ones((2, 16)), np.ones(2))
    assert pckh(*args, thresholds=(0.5, 1.0))["PCKh@0.5"] == 0
    with pytest.raises(ValueError, match=r"^thresholds: thresholds are fractions .* at most 1, got 50 \(a percentage"):
        pckh(*args, thresholds=(50,))
    with pytest.raises(ValueError, match=r"^pck_thresholds: thresholds are fractions .* got 5"):
        single_keypoint_metrics(G, None, G, V, S, pck_thresholds=[0.05, 5])
    with pytest.raises(ValueError, match=r"^thr: thresholds are fractions .* got 8"):
        failure_rate([0.05], 8)
    with pytest.raises(ValueError, match=r"^auc_thr: thresholds are fractions .* got 10"):
        nme_metrics(F, F, FV, norm=(0, 1), auc_thr=10)


# ---- 4. NME: non-finite ground truth and errors ----------------------------------------------------------

F = np.random.default_rng(2).uniform(0, 100, (2, 6, 2))
FV = np.full((2, 6), 2)


def test_nme_refuses_non_finite_ground_truth():
    g = F.copy()
    g[:, 3] = math.nan  # was: FR 0.0 for predictions 50 px off, the NaN counted as non-finite predictions
    with pytest.raises(ValueError, match=r"^gt: non-finite coordinate \[nan, nan\] of labelled keypoint 3 of instance 0"):
        nme_metrics(F + 50, g, FV, norm=(0, 1))
    g = F.copy()
    g[1, 0] = math.inf  # an eye corner: not a "coincident eye points" problem
    with pytest.raises(ValueError, match=r"^gt: non-finite coordinate of normaliser keypoint 0 of face 1"):
        nme_metrics(F + 50, g, FV, norm=(0, 1))


@pytest.mark.parametrize("spec", [(0, 1), [0, 1]])
def test_nme_refuses_a_pair_given_as_the_spec(spec):
    """``nme_metrics(pred, gt, vis, (36, 45))`` put the pair in ``spec``'s place and raised ``AttributeError: 'tuple'
    object has no attribute 'nme'``; a spec name is read as load_spec reads it."""
    with pytest.raises(TypeError, match=r"^spec: expected a KeypointSpec, a spec name or None, got "
                                        rf"{type(spec).__name__} .*; a normaliser pair goes by keyword: norm="):
        nme_metrics(F + 1, F, FV, spec)
    g = np.random.default_rng(3).uniform(0, 100, (2, 68, 2))
    assert nme_metrics(g + 1, g, np.full((2, 68), 2), "face68") == nme_metrics(g + 1, g, np.full((2, 68), 2),
                                                                                norm=(36, 45))


def test_nme_refuses_an_unlabelled_normaliser_point(tmp_path):
    """An eye corner with v = 0 has placeholder coordinates (0, 0 in most files): the face's NME was divided by the
    distance to them without a word (score, nme_metrics and the evaluation alike)."""
    v = FV.copy()
    v[1, 1] = 0
    with pytest.raises(ValueError, match=r"^gt: normaliser keypoint 1 of face 1 is not labelled \(v = 0\)"):
        nme_metrics(F + 1, F, v, norm=(0, 1))
    assert nme_metrics(F + 1, F, v, norm=(0, 2))["count"] == 2  # another point unlabelled: scored as before
    gt, res = _files(tmp_path, gt_as_results(coco_gt()))  # person id=1 has keypoints 3 and 4 unlabelled
    with pytest.raises(DataError, match=r"gt\.json \[record ann_id=1\] field 'keypoints': keypoint 3 of the '\(5, 3\)' "
                       r"normaliser is not labelled \(v = 0\)"):
        score(gt, res, "nme", norm=(5, 3))
    from adaanchor.engine.evaluate import evaluate_predictions

    preds = {"pred": F + 1, "gt": F, "pred_orig": F + 1, "gt_orig": F, "score": None, "vis": v,
             "bbox_size": np.full(2, 60.0), "image_id": [7, 8], "ann_id": [70, 80]}
    with pytest.raises(AdaAnchorError, match=r"^NME: keypoint 1 of the inter-ocular normaliser is not labelled "
                       r"\(v = 0\) on the face ann_id 80 \(image_id 8\)"):
        evaluate_predictions(preds, nme_pair=(0, 1))


def test_a_nan_face_error_is_a_failure():
    assert failure_rate([math.nan]) == 1.0
    assert ced_auc([math.nan, 0.0]) == 0.5
    with pytest.raises(ValueError, match=r"^thr: expected positive finite numbers, got 0"):
        ced_auc([0.01], thr=0)
    p = F + 0.1
    p[0, 2] = math.nan  # a non-finite prediction: a failure, as docs/metrics.md says
    out = nme_metrics(p, F, FV, norm=(0, 1))
    assert out["FR@0.1"] == 0.5 and out["nonfinite"] == 1


# ---- 5. pckh exclude, NME norm and attributes -------------------------------------------------------------


def test_pckh_exclude_as_one_name_and_unknown_names():
    g = np.zeros((2, 16, 2))
    p = g.copy()
    p[:, 6:8] = 100  # pelvis and thorax far off
    args = (p, g, np.ones((2, 16)), np.ones(2))
    assert pckh(*args, exclude="pelvis")["PCKh@0.5"] == pckh(*args, exclude=["pelvis"])["PCKh@0.5"] == 100 * 14 / 15
    with pytest.raises(ValueError, match=r"^exclude: 'pelvic' is not one of the joint names"):
        pckh(*args, exclude=["pelvic"])
    assert pckh(p[:, :10], g[:, :10], np.ones((2, 10)), np.ones(2), joint_names=MPII_JOINTS[:10])["PCKh@0.5"] == 100


@pytest.mark.parametrize("norm", [(0, 1, 2), (0, -1), (0, 10), (0,), (0.0, 1.0), 5, ([], 1)])
def test_nme_norm_must_be_two_indices_in_range(norm):
    with pytest.raises(ValueError, match=r"^norm: expected two keypoint indices \(or two lists of indices\) in 0..5"):
        nme_metrics(F + 1, F, FV, norm=norm)


def test_score_nme_norm_out_of_range_is_one_line(tmp_path):
    gt, res = _files(tmp_path, gt_as_results(coco_gt()))
    assert score(gt, res, "nme", norm=(0, 1))["NME"] == 0.0
    with pytest.raises(AdaAnchorError, match=r"^norm: .* in 0..16, got \(0, 30\) \(spec 'coco' has 17 keypoints\)"):
        score(gt, res, "nme", norm=(0, 30))


def test_nme_attributes_one_per_face():
    with pytest.raises(ValueError, match=r"^attributes: expected one mapping .* \(2 faces\), got 1 entries"):
        nme_metrics(F + 1, F, FV, norm=(0, 1), attributes=[{"pose": 1}])
    with pytest.raises(ValueError, match=r"^attributes: .* got an entry 1"):
        nme_metrics(F + 1, F, FV, norm=(0, 1), attributes=[1, 0])


# ---- 6. write_results ------------------------------------------------------------------------------------


def test_write_results_refuses_a_folder_and_a_file_in_the_way(tmp_path):
    res = gt_as_results(coco_gt())
    with pytest.raises(DataError, match=r"cannot write the predictions \(it is a folder"):
        write_results(res, tmp_path)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DataError, match=r"afile/r.json: cannot write the predictions \(a parent of it is a file"):
        write_results(res, tmp_path / "afile" / "r.json")


def test_write_results_refuses_non_finite_values_and_writes_nothing(tmp_path):
    res = gt_as_results(coco_gt())
    res[1]["keypoints"][4] = math.nan
    out = tmp_path / "r.json"
    with pytest.raises(DataError, match=r"r.json \[record 1\] field 'keypoints': not written: non-finite y of keypoint 1"):
        write_results(res, out)
    assert not out.exists()
    res[1]["keypoints"][4] = 1.0
    res[1]["extra"] = math.inf
    with pytest.raises(DataError, match="not written: the results are not plain JSON"):
        write_results(res, out)
    assert not out.exists()


# ---- 7. bool options ---------------------------------------------------------------------------------------


def test_bool_options_must_be_bools(tmp_path):
    gt, res = _files(tmp_path, _shifted(gt_as_results(coco_gt()), 30.0))
    with pytest.raises(TypeError, match=r"^use_area: expected True or False, got 'no'"):
        score(gt, res, "coco", use_area="no")
    with pytest.raises(TypeError, match=r"^use_area: expected True or False"):
        coco_keypoint_ap(gt, res, use_area="no")
    with pytest.raises(TypeError, match=r"^verbose: expected True or False, got 'yes'"):
        crowdpose_ap(crowdpose_gt(), gt_as_results(crowdpose_gt()), verbose="yes")


def test_oks_ap_with_a_spec_without_sigmas_is_refused(tmp_path):
    """score(..., "coco", spec="mpii") scored with COCO-17's sigmas: a guess for another keypoint set."""
    from adaanchor.errors import AdaAnchorError
    from adaanchor.metrics.score import score

    kp = [v for j in range(16) for v in (10.0 + j, 20.0 + j, 2)]
    gt = {"images": [{"id": 1, "file_name": "a.png", "width": 100, "height": 80}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "keypoints": kp, "num_keypoints": 16,
                           "bbox": [5.0, 5.0, 60.0, 60.0], "area": 3600.0, "iscrowd": 0}],
          "categories": [{"id": 1, "name": "person", "keypoints": [f"k{j}" for j in range(16)]}]}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps([{"image_id": 1, "category_id": 1, "keypoints": kp, "score": 1.0}]))
    with pytest.raises(AdaAnchorError, match=r"^spec 'mpii' has no OKS sigmas, one per keypoint, which OKS AP needs: give a "
                                             r"spec YAML with a sigmas list \(--spec FILE; sigmas= in Python\)"):
        score(tmp_path / "gt.json", tmp_path / "res.json", "coco", spec="mpii")


@pytest.mark.parametrize("names,says", [("ab", "expected a list of keypoint names, got the string 'ab'"),
                                        (["nose", "nose"], r"each keypoint needs its own name, \['nose'\] repeat")])
def test_errors_by_keypoint_names_are_a_list_of_distinct_names(names, says):
    from adaanchor.metrics.keypoint import errors_by_keypoint

    p = np.zeros((3, 2, 2))
    v = np.full((3, 2), 2)
    with pytest.raises(ValueError, match=says):
        errors_by_keypoint(p, p, v, names)
    assert list(errors_by_keypoint(p, p, v, ("a", "b"))) == ["a", "b"]


def test_the_evaluations_nme_of_occluded_landmarks_reads_the_annotations_flags():
    """A landmark the crop cuts off is invisible in the crop (v = 1 there, as the invisible error wants it), and it
    was counted as an occluded landmark in nme_inv: 'occluded 136.51 %' for faces without one occluded point."""
    from adaanchor.engine.evaluate import evaluate_predictions

    crop_vis = FV.copy()
    crop_vis[0, 2] = 1  # cut off by the crop, visible in the image
    preds = {"pred": F + 1, "gt": F, "pred_orig": F + 1, "gt_orig": F, "score": None, "vis": crop_vis,
             "vis_labelled": FV, "bbox_size": np.full(2, 60.0), "image_id": [7, 8], "ann_id": [70, 80]}
    m = evaluate_predictions(preds, nme_pair=(0, 1))
    assert m["nme_vis"] == pytest.approx(nme_metrics(F + 1, F, FV, norm=(0, 1))["NME_vis"])
    assert m["nme_inv"] is None or math.isnan(m["nme_inv"])  # no landmark is occluded


def test_the_visible_and_invisible_errors_read_the_crops_flags():
    """The paper's Vis / Inv split (appendix A.2) as the model sees the keypoint (docs/metrics.md): a landmark
    labelled visible that the crop cuts off is an invisible keypoint of the table, while NME keeps the annotation's
    own flag (the test above)."""
    from adaanchor.engine.evaluate import evaluate_predictions

    crop_vis = FV.copy()
    crop_vis[0, 2] = 1  # cut off by the crop, visible in the image
    pred = F.copy()
    pred[0, 2, 0] += 3.0  # its error, 3 px; every other point exact
    preds = {"pred": pred, "gt": F, "pred_orig": pred, "gt_orig": F, "score": None, "vis": crop_vis,
             "vis_labelled": FV, "bbox_size": np.full(2, 60.0), "image_id": [7, 8], "ann_id": [70, 80]}
    m = evaluate_predictions(preds)
    assert m["inv_error"] == pytest.approx(3.0) and m["vis_error"] == pytest.approx(0.0)


def test_a_dataset_item_keeps_the_annotations_own_visibility(tmp_path):
    from adaanchor.data.dataset import TopDownDataset
    from adaanchor.data.records import Instance
    from adaanchor.data.spec import load_spec

    Image.new("RGB", (100, 100)).save(tmp_path / "a.png")
    kp = np.array([[10.0, 10.0], [90.0, 90.0], [50.0, 50.0], [0, 0], [20, 30]] + [[30, 30]] * 12)
    vis = np.array([2, 2, 1, 0, 2] + [2] * 12)
    inst = Instance(image_path=str(tmp_path / "a.png"), image_id=1, ann_id=3, keypoints=kp, visibility=vis,
                    bbox=np.array([5.0, 5.0, 30.0, 30.0]), area=900.0)  # the point at (90, 90) is outside the crop
    item = TopDownDataset([inst], load_spec("coco"), (48, 64))[0]
    assert item["meta"]["labelled_visibility"] == vis.tolist()
    assert int(item["visibility"][0, 1]) == 1  # the crop's flag: invisible there


def test_recall_pckh_and_nme_arguments_of_the_api_audit():
    """oks_cutoff -1, 2, NaN (recall 0 after a numpy warning), True or "0.5"; pckh joint names repeated (later joints
    overwrote earlier ones in per_joint) or one string; nme ``outside`` of 0.3 (read as True)."""
    from adaanchor.metrics.nme import nme_metrics
    from adaanchor.metrics.pckh import pckh
    from adaanchor.metrics.recall import keypoint_recall

    for bad in (-1, 2, float("nan"), True, "0.5", None, 0):
        with pytest.raises(ValueError, match=r"oks_cutoff: expected a number in \(0, 1\]"):
            keypoint_recall({}, [], oks_cutoff=bad)
    p = np.zeros((2, 16, 2))
    for names, says in ((["a"] * 15 + ["b"], r"each joint needs its own name, \['a'\] repeat"),
                        ("abcdefghijklmnop", "got the string")):
        with pytest.raises(ValueError, match=says):
            pckh(p, p, np.ones((2, 16)), np.ones(2), joint_names=names)
    f = np.random.default_rng(0).uniform(0, 100, (2, 68, 2))
    with pytest.raises(ValueError, match=r"outside: expected True / False \(or 0 / 1\) per keypoint, got 0.3"):
        nme_metrics(f, f, np.full((2, 68), 2), "face68", outside=np.full((2, 68), 0.3))


def test_complex_numbers_are_refused_not_cast():
    """Boxes, the metrics and the results writer cast complex input to real with only numpy's ComplexWarning."""
    from adaanchor.errors import AdaAnchorError
    from adaanchor.metrics.keypoint import single_keypoint_metrics
    from adaanchor.metrics.results import predictions_to_coco_results
    from adaanchor.predict.boxes import as_boxes

    z = np.zeros((1, 2, 2)) + 1j
    with pytest.raises(ValueError, match="pred: expected an array of real numbers, got complex values"):
        single_keypoint_metrics(z, None, np.zeros((1, 2, 2)), np.ones((1, 2)), np.ones(1))
    with pytest.raises(ValueError, match="keypoints: expected an array of real numbers"):
        predictions_to_coco_results([0], z)
    for boxes in (np.array([[10 + 5j, 10, 40, 60]]), [[10 + 5j, 10, 40, 60]]):
        with pytest.raises(AdaAnchorError, match="box coordinates must be numbers, got complex"):
            as_boxes(boxes)


@pytest.mark.parametrize("value", ["0", 2, 0.5, None])
def test_nme_attribute_values_are_0_or_1(value):
    """``{"pose": "0"}`` counted the face in the pose subset (a non-empty string is truthy)."""
    from adaanchor.metrics.nme import nme_metrics

    f = np.random.default_rng(0).uniform(0, 100, (2, 68, 2))
    with pytest.raises(ValueError, match=r"attributes\[0\]\['pose'\]: expected 0 / 1"):
        nme_metrics(f, f, np.full((2, 68), 2), "face68", attributes=[{"pose": value}, {"pose": 1}])
    assert nme_metrics(f, f, np.full((2, 68), 2), "face68", attributes=[{"pose": 0}, {"pose": True}])["NME"] == 0


def test_a_zero_dimensional_cutoff_is_a_number():
    from adaanchor.metrics.recall import keypoint_recall

    with pytest.raises(ValueError, match="oks_cutoff"):  # the check comes first: a 0-d 2.0 is out of range
        keypoint_recall({}, [], oks_cutoff=np.array(2.0))
    with pytest.raises(Exception) as e:  # 0.5 as a 0-d array passes the check and reaches the ground truth
        keypoint_recall({}, [], oks_cutoff=np.array(0.5))
    assert "oks_cutoff" not in str(e.value)


def test_a_numpy_scalar_score_is_named_for_its_type(tmp_path):
    """"expected a finite number, got np.float32(0.5)": the value is finite, its type is the matter."""
    from adaanchor.errors import DataError
    from adaanchor.metrics.coco import write_results

    rec = {"image_id": 1, "category_id": 1, "keypoints": [1.0, 2.0, 1.0], "score": np.float32(0.5)}
    with pytest.raises(DataError, match=r"field 'score': not written: a float32, not a Python number \(convert it with "
                       r"float\(\)\)"):
        write_results([rec], tmp_path / "r.json")
