"""``adaanchor score`` where the official tools' conventions differ or a number went wrong without a word: a
``num_keypoints`` that disagrees with the keypoints (pycocotools reads the count, not the labels), CrowdPose's count
of visible keypoints, CrowdPose results without a keypoint confidence above 0 (xtcocotools leaves them out), a
coordinate so far off that its squared distance overflowed (the NME left the face out of its mean), a ``score`` that
PCKh and NME do not read but that must still be a number when given, ``--headboxes`` beside records with their own
head boxes (it was ignored), a 14-keypoint file scored as ``coco`` (the spec from the keypoint count, as documented),
and an ``ann_id`` written as a string."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adaanchor.cli import main
from adaanchor.errors import DataError
from adaanchor.metrics.arguments import point_distance
from adaanchor.metrics.score import score


def _person(ann_id: int, k: int, x0: float, flags: list[int] | None = None, nk: int | None = None) -> dict[str, Any]:
    rng = np.random.default_rng(ann_id)
    xs, ys = rng.uniform(x0, x0 + 40, k), rng.uniform(10, 70, k)
    flags = flags if flags is not None else [2] * k
    kp = [float(v) for x, y, f in zip(xs, ys, flags) for v in ((x, y, f) if f else (0.0, 0.0, 0))]
    a = {"id": ann_id, "image_id": 1, "category_id": 1, "keypoints": kp, "bbox": [x0, 10.0, 40.0, 60.0],
         "area": 2400.0, "iscrowd": 0}
    if nk is not None:
        a["num_keypoints"] = nk
    return a


def _gt(people: list[dict[str, Any]], k: int) -> dict[str, Any]:
    return {"images": [{"id": 1, "file_name": "a.png", "width": 200, "height": 80, "crowdIndex": 0.1}],
            "annotations": people, "categories": [{"id": 1, "name": "person", "keypoints": [f"k{j}" for j in range(k)]}]}


def _as_results(people: list[dict[str, Any]], conf: float = 1.0) -> list[dict[str, Any]]:
    return [{"image_id": a["image_id"], "category_id": 1, "score": 0.9,
             "keypoints": [conf if j % 3 == 2 else v for j, v in enumerate(a["keypoints"])]} for a in people]


def _files(tmp_path: Path, gt: dict, results: list) -> tuple[Path, Path]:
    g, r = tmp_path / "gt.json", tmp_path / "res.json"
    g.write_text(json.dumps(gt))
    r.write_text(json.dumps(results))
    return g, r


def _xtcoco_ap(gt_file: Path, res_file: Path, iou: str, sigmas: np.ndarray) -> float:
    import contextlib
    import io

    from xtcocotools.coco import COCO
    from xtcocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        c = COCO(str(gt_file))
        d = c.loadRes(str(res_file))
        e = COCOeval(c, d, iou, sigmas=sigmas, use_area=iou == "keypoints")
        e.evaluate()
        e.accumulate()
        e.summarize()
    return float(e.stats[0])


@pytest.mark.parametrize("metric,k", [("coco", 17), ("crowdpose", 14)])
def test_a_count_of_keypoints_on_a_person_without_any_is_refused(tmp_path, metric, k):
    """pycocotools took such a person as one to find, whose OKS falls back to the distance from its box: a perfect
    results file of the other person scored AP 0.505 (the documentation said such annotations are ignored)."""
    people = [_person(1, k, 5.0, nk=k), _person(2, k, 100.0, flags=[0] * k, nk=5)]
    g, r = _files(tmp_path, _gt(people, k), _as_results(people[:1]))
    with pytest.raises(DataError, match=r"gt\.json \[record annotations\[1\] id=2\] field 'num_keypoints': 5, but no "
                       "keypoint is labelled: the evaluation would count this person as one to find"):
        score(g, r, metric)
    people[1]["num_keypoints"] = 0
    g, r = _files(tmp_path, _gt(people, k), _as_results(people[:1]))
    assert score(g, r, metric)["AP"] == pytest.approx(1.0)


@pytest.mark.parametrize("nk", ["5", True, -1, 2.5, float("nan")])
def test_a_count_of_keypoints_that_is_not_a_count_is_refused(tmp_path, nk):
    people = [_person(1, 17, 5.0, nk=17)]
    people[0]["num_keypoints"] = nk
    g, r = _files(tmp_path, _gt(people, 17), _as_results(people))
    with pytest.raises(DataError, match=r"field 'num_keypoints': expected a count of keypoints"):
        score(g, r, "coco")


def test_crowdpose_counts_visible_keypoints_and_ignores_a_person_labelled_occluded_throughout(tmp_path):
    """CrowdPose's files count the keypoints of v = 2 in num_keypoints, and xtcocotools ignores a person whose count
    is 0: a person labelled v = 1 throughout with 0 is the official outcome, not an error (it was refused). 0 on a
    person with visible keypoints is refused under either convention, and COCO AP keeps refusing the first case."""
    k = 14
    people = [_person(1, k, 5.0, nk=k), _person(2, k, 100.0, flags=[1] * k, nk=0)]
    g, r = _files(tmp_path, _gt(people, k), _as_results(people[:1]))
    from adaanchor.metrics.coco import CROWDPOSE_SIGMAS

    ours = score(g, r, "crowdpose")["AP"]
    assert ours == pytest.approx(_xtcoco_ap(g, r, "keypoints_crowd", np.asarray(CROWDPOSE_SIGMAS))) == pytest.approx(1.0)
    people[1]["keypoints"][2] = 2  # one visible keypoint: 0 contradicts both conventions
    g, r = _files(tmp_path, _gt(people, k), _as_results(people[:1]))
    with pytest.raises(DataError, match=r"field 'num_keypoints': 0, but 1 keypoints are labelled visible \(v = 2\)"):
        score(g, r, "crowdpose")


def test_crowdpose_fills_in_a_missing_count_as_coco_does(tmp_path):
    """xtcocotools read the count unguarded: a KeyError traceback, while the same file scored under coco."""
    people = [_person(1, 14, 5.0), _person(2, 14, 100.0)]
    g, r = _files(tmp_path, _gt(people, 14), _as_results(people))
    assert score(g, r, "crowdpose")["AP"] == pytest.approx(1.0)


def test_crowdpose_counts_the_results_xtcocotools_leaves_out(tmp_path, capsys):
    """Results whose keypoint confidences are all <= 0 are left out of CrowdPose AP by xtcocotools (and kept by
    pycocotools under coco): the number of them is reported, and the AP is the reference's."""
    from adaanchor.metrics.coco import CROWDPOSE_SIGMAS

    people = [_person(1, 14, 5.0, nk=14), _person(2, 14, 100.0, nk=14)]
    res = _as_results(people[:1]) + _as_results(people[1:], conf=0.0)
    g, r = _files(tmp_path, _gt(people, 14), res)
    out = score(g, r, "crowdpose")
    assert out["results_without_keypoint_confidence"] == 1
    assert out["AP"] == pytest.approx(_xtcoco_ap(g, r, "keypoints_crowd", np.asarray(CROWDPOSE_SIGMAS)))
    assert out["AP"] < 0.9
    assert main(["score", str(g), str(r), "--metric", "crowdpose"]) == 0
    assert "results_without_keypoint_confidence: 1 (left out of the evaluation" in capsys.readouterr().out
    assert "results_without_keypoint_confidence" not in score(g, r, "coco", spec="crowdpose")


def test_point_distance_does_not_overflow_and_keeps_numpys_numbers():
    a = np.array([[1e200, 3.0], [3.0, 4.0], [np.nan, 0.0], [1e308, 0.0]])
    b = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [-1e308, 0.0]])
    d = point_distance(a, b)
    assert d[0] == pytest.approx(1e200) and d[1] == 5.0 and math.isnan(d[2]) and d[3] == math.inf
    rng = np.random.default_rng(0)
    p, q = rng.normal(0, 100, (50, 17, 2)), rng.normal(0, 100, (50, 17, 2))
    assert np.array_equal(point_distance(p, q), np.linalg.norm(p - q, axis=-1))  # bit for bit


def test_nme_of_a_face_with_a_point_absurdly_far_is_in_the_mean(tmp_path):
    """A finite x of 1e200 overflowed the squared distance to inf: the face was taken as non-finite and left out of
    the mean NME (0.0 for a set whose other face is perfect), with numpy's overflow warning on stderr."""
    rng = np.random.default_rng(0)
    faces = [rng.uniform(100, 300, (68, 2)) for _ in range(2)]
    anns = [{"id": i + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0, "bbox": [99.0, 99.0, 202.0, 202.0],
             "area": 40000.0, "keypoints": [float(v) for x, y in f for v in (x, y, 2)]} for i, f in enumerate(faces)]
    preds = [faces[0].copy(), faces[1] + 5.0]
    preds[1][0, 0] = 1e200
    gt = {"images": [{"id": i, "file_name": f"{i}.png", "width": 600, "height": 600} for i in (1, 2)],
          "annotations": anns, "categories": [{"id": 1, "name": "face"}]}
    res = [{"image_id": i + 1, "category_id": 1, "score": 1.0, "keypoints": [float(v) for x, y in p for v in (x, y, 1)]}
           for i, p in enumerate(preds)]
    g, r = _files(tmp_path, gt, res)
    with np.errstate(all="raise"):  # no overflow warning either
        out = score(g, r, "nme")
    d = math.hypot(*(faces[1][36] - faces[1][45]))
    face2 = sum(math.hypot(*(p - q)) for p, q in zip(preds[1], faces[1])) / 68 / d
    assert out["nonfinite"] == 0 and out["NME"] == pytest.approx(face2 / 2)


def _mpii(tmp_path: Path, headbox: list[float]) -> tuple[Path, np.ndarray]:
    joints = np.array([[50.0 + 3 * j, 40.0 + 2 * j] for j in range(16)])
    rec = {"image": "a.jpg", "center": [60.0, 60.0], "scale": 1.0, "joints": joints.tolist(),
           "joints_vis": [1] * 16, "headbox": headbox}
    g = tmp_path / "mpii.json"
    g.write_text(json.dumps([rec]))
    return g, joints


def test_pckh_and_nme_refuse_a_score_that_is_not_a_number_but_take_none(tmp_path):
    g, joints = _mpii(tmp_path, [0, 0, 100, 100])
    rec = {"image_id": 0, "category_id": 1, "keypoints": [float(v) for x, y in joints for v in (x, y, 1.0)]}
    r = tmp_path / "res.json"
    for bad in (float("nan"), "high", None):
        r.write_text(json.dumps([{**rec, "score": bad}]))
        with pytest.raises(DataError, match=r"res\.json \[record 0\] field 'score': expected a finite number"):
            score(g, r, "pckh")
    r.write_text(json.dumps([rec]))  # left out: these metrics do not read it
    assert score(g, r, "pckh")["PCKh@0.5"] == pytest.approx(100.0)


def test_headboxes_given_override_the_records_own(tmp_path):
    """A record's 10 px head box and a 100 px one in the .mat: the option was read only for records without a box,
    and the file scored the same with and without it."""
    from scipy.io import savemat

    g, joints = _mpii(tmp_path, [0, 0, 10, 10])
    pred = joints + [20.0, 0.0]
    r = tmp_path / "res.json"
    r.write_text(json.dumps([{"image_id": 0, "category_id": 1, "score": 1.0,
                              "keypoints": [float(v) for x, y in pred for v in (x, y, 1.0)]}]))
    mat = tmp_path / "mpii_gt_val.mat"
    savemat(mat, {"headboxes_src": np.array([[0.0, 0.0], [100.0, 100.0]]).reshape(2, 2, 1)})
    own = score(g, r, "pckh")
    given = score(g, r, "pckh", headboxes=mat)
    assert own["PCKh@0.5"] == 0.0 and own["head_size_source"] == {"headbox": 1}
    assert given["PCKh@0.5"] == 100.0 and given["head_size_source"] == {"headboxes": 1}


def test_coco_ap_of_a_14_keypoint_file_takes_crowdpose_spec(tmp_path):
    """The spec comes from the keypoint count when none is given (docs/metrics.md): a CrowdPose-14 file under
    coco was refused as 'keypoints in another order than the spec'."""
    names = ["left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
             "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "head", "neck"]
    people = [_person(1, 14, 5.0)]
    gt = _gt(people, 14)
    gt["categories"][0]["keypoints"] = names
    g, r = _files(tmp_path, gt, _as_results(people))
    assert score(g, r, "coco")["AP"] == pytest.approx(score(g, r, "coco", spec="crowdpose")["AP"]) == 1.0


def test_an_ann_id_written_as_a_string_is_named(tmp_path):
    g, joints = _mpii(tmp_path, [0, 0, 100, 100])
    r = tmp_path / "res.json"
    r.write_text(json.dumps([{"image_id": 0, "ann_id": "0", "category_id": 1, "score": 1.0,
                              "keypoints": [float(v) for x, y in joints for v in (x, y, 1.0)]}]))
    with pytest.raises(DataError, match=r"\[record 0\] field 'ann_id': no prediction for the ground-truth instance "
                       r"with ann_id 0 \(this record names '0', a string where the ground truth has a number\)"):
        score(g, r, "pckh")


def test_results_of_part_of_the_images_say_so(tmp_path, capsys):
    """Results of a subset of the images (predict on a few, eval.max_images) scored every other image's people as
    missed without a word: AP 0.019 where the ground truth of those images gave 0.19."""
    people = [_person(1, 17, 5.0, nk=17), {**_person(2, 17, 100.0, nk=17), "image_id": 2}]
    gt = _gt(people, 17)
    gt["images"].append({"id": 2, "file_name": "b.png", "width": 200, "height": 80})
    g, r = _files(tmp_path, gt, _as_results(people[:1]))
    out = score(g, r, "coco")
    assert out["gt_images_without_results"] == [1, 2] and out["AP"] < 0.6
    assert main(["score", str(g), str(r), "--metric", "coco"]) == 0
    assert "note: 1 of the 2 ground-truth images with people to find have no result" in capsys.readouterr().out
    g, r = _files(tmp_path, gt, _as_results(people))
    assert "gt_images_without_results" not in score(g, r, "coco")


def test_pckh_and_nme_results_of_part_of_the_instances_name_the_cover():
    """``eval --predictions`` of a face set split into train and val, scored against the whole file: "no prediction
    for the ground-truth instance with ann_id 1", with no hint that the results cover the val split alone."""
    from types import SimpleNamespace

    from adaanchor.metrics.score_instances import match_results

    insts = [SimpleNamespace(ann_id=i, image_id=i, image_path=f"{i}.png") for i in range(3)]
    res = [{"image_id": i, "ann_id": i, "category_id": 1, "score": 1.0, "keypoints": [1.0, 2.0, 1.0]} for i in (0, 2)]
    with pytest.raises(DataError, match=r"no prediction for the ground-truth instance with ann_id 1 \(the results "
                                        r"cover 2 of the file's 3 instances: results of one split"):
        match_results(insts, res, "res.json", 1)
    with pytest.raises(DataError, match=r"with ann_id 0$"):  # nothing covered: another file altogether, no hint
        match_results(insts, [{**res[0], "ann_id": 7, "image_id": 7}], "res.json", 1)
