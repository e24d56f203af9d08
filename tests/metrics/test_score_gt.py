"""Ground truth that ``adaanchor score`` (and every other caller of ``metrics.results.load_coco_gt``: the AP of
``adaanchor eval``, keypoint recall, the multi-person metrics) must refuse naming the file, the record and the
field, or read with a documented default (docs/metrics.md, "Checked before scoring").

Each case here once gave a wrong or misleading number, or a bare traceback: a NaN ``area`` scored predictions
30 px off as AP 1.0, a negative or infinite one gave AP -1 ("no ground truth"), a string one a TypeError; a
missing ``iscrowd`` a KeyError inside pycocotools; an empty ``annotations`` list "annotations have different
numbers of keypoints []"; an annotation of an unlisted category AP 0.9; a ``width`` of -5 or "72" silently
turned the box-inside-image check off.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adaanchor.cli import main
from adaanchor.errors import DataError
from adaanchor.metrics.coco import coco_keypoint_ap

K = 17
SHIFT = 30.0  # px: far beyond the OKS tolerance of these people, so shifted predictions score AP 0
PROGRESS = re.compile(r"^\w[\w ]*:\s+\d+%\|")  # a tqdm progress bar line (eval shares stderr)


def _replace_cached(path: Path, data: Any) -> None:
    """A generated benchmark's annotation file replaced in place, its manifest told of the new size: a file of
    another size is taken for a cut one and the benchmark written again (bench/cache.py)."""
    path.write_text(json.dumps(data))
    manifest = path.parent / "manifest.json"
    m = json.loads(manifest.read_text())
    m["sizes"][path.name] = path.stat().st_size
    manifest.write_text(json.dumps(m))


def _person(ann_id: int, image_id: int, x0: float) -> dict[str, Any]:
    """A 17-keypoint person in a 40x60 box at ``(x0, 10)`` of a 100x80 image, every keypoint labelled."""
    rng = np.random.default_rng(ann_id)
    xs, ys = rng.uniform(x0, x0 + 40, K), rng.uniform(10, 70, K)
    kp = [float(round(v, 2)) for xy in zip(xs, ys, [2.0] * K) for v in xy]
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "keypoints": kp, "num_keypoints": K,
            "bbox": [x0, 10.0, 40.0, 60.0], "area": 2400.0, "iscrowd": 0}


def _gt() -> dict[str, Any]:
    """Two images, three people (two on the first image)."""
    return {"images": [{"id": 1, "file_name": "a.png", "width": 100, "height": 80},
                       {"id": 2, "file_name": "b.png", "width": 100, "height": 80}],
            "annotations": [_person(1, 1, 5.0), _person(2, 1, 55.0), _person(3, 2, 20.0)],
            "categories": [{"id": 1, "name": "person", "keypoints": [f"k{j}" for j in range(K)]}]}


def _results(gt: dict[str, Any], shift: float = 0.0) -> list[dict[str, Any]]:
    """The ground truth's people as predictions, moved right by ``shift`` px."""
    out = []
    for a in gt["annotations"]:
        kp = [v + shift if j % 3 == 0 else (1.0 if j % 3 == 2 else v) for j, v in enumerate(a["keypoints"])]
        out.append({"image_id": a["image_id"], "category_id": 1, "keypoints": kp, "score": 1.0})
    return out


def _write(tmp_path: Path, gt: dict[str, Any], shift: float = 0.0) -> tuple[Path, Path]:
    """``gt.json`` (NaN / Infinity as Python's json writes them) and the results of :func:`_results`."""
    g, r = tmp_path / "gt.json", tmp_path / "results.json"
    g.write_text(json.dumps(gt))
    r.write_text(json.dumps(_results(_gt(), shift)))
    return g, r


def _score_error(capsys: pytest.CaptureFixture, argv: list[Any], *parts: str) -> str:
    """``adaanchor ARGV`` exits with 2 and prints one line ``error: ...`` holding every ``part``."""
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    lines = [ln for ln in re.split(r"[\r\n]", cap.err) if ln.strip() and not PROGRESS.match(ln)]
    assert rc == 2 and "Traceback" not in cap.err and len(lines) == 1 and lines[0].startswith("error: "), cap
    assert "AP:" not in cap.out, cap.out  # no number next to the error
    for part in parts:
        assert part in lines[0], (part, lines[0])
    return lines[0]


def _ap(capsys: pytest.CaptureFixture, gt: Path, res: Path) -> float:
    capsys.readouterr()
    assert main(["score", str(gt), str(res), "--metric", "coco"]) == 0
    return float(re.search(r"^AP: (\S+)$", capsys.readouterr().out, re.M).group(1))


# 1. area -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("area,shown", [
    (float("nan"), "got nan"),  # was: AP 1.0 for predictions 30 px off
    (-100, "got -100"),  # was: AP -1 "no ground-truth instance in this range"
    (float("inf"), "got inf"),  # same
    ("big", "got 'big'"),  # was: TypeError traceback
    (None, "got None"),  # same
    (0, "got 0: OKS divides by the area"),  # was: accepted; OKS becomes a test of exact equality
    (True, "got True"),
    (1e12, "area 1000000000000.0 is beyond COCOeval's largest area range (1e10 px^2)"),  # was: AP -1
])
def test_score_refuses_an_area_that_is_not_a_positive_finite_number(tmp_path, capsys, area, shown):
    clean, res = _write(tmp_path, _gt(), shift=SHIFT)
    assert _ap(capsys, clean, res) == 0.0  # what these predictions are worth
    gt = _gt()
    gt["annotations"][1]["area"] = area
    g, res = _write(tmp_path, gt, shift=SHIFT)
    _score_error(capsys, ["score", g, res, "--metric", "coco"],
                 f"error: {g} [record annotations[1] id=2] field 'area': ", shown)


def test_a_missing_area_keeps_its_error_now_naming_the_annotation_id(tmp_path, capsys):
    """It advised ``use_area=False``, an argument of the Python function that the command line does not have."""
    gt = _gt()
    del gt["annotations"][2]["area"]
    g, res = _write(tmp_path, gt)
    _score_error(capsys, ["score", g, res, "--metric", "coco"],
                 f"error: {g} [record annotations[2] id=3] field 'area': missing: OKS AP scales each person by its "
                 "area; add 'area' to every annotation (COCO's is the segmentation area; 0.53 * w * h of the box is "
                 "the usual stand-in), or score in Python with use_area=False")


def test_ground_truth_errors_name_the_annotation_ids_of_the_file(tmp_path, capsys):
    """COCO AP checked the areas and boxes after numbering its copy 1, 2, ...: a CrowdPose file's first annotation
    (id 123803) was named ``id=1``."""
    gt = _gt()
    for a, new in zip(gt["annotations"], (501, 7, 9000)):
        a["id"] = new
    del gt["annotations"][1]["area"]
    g, res = _write(tmp_path, gt)
    _score_error(capsys, ["score", g, res, "--metric", "coco"],
                 f"error: {g} [record annotations[1] id=7] field 'area': missing")
    gt["annotations"][1]["area"] = 100.0
    gt["annotations"][2]["bbox"][2] = 0.0
    with pytest.raises(DataError, match=r"\[record annotations\[2\] id=9000\] field 'bbox'"):
        coco_keypoint_ap(gt, _results(gt), use_area=False)


# 2. iscrowd --------------------------------------------------------------------------------------------------

def test_a_missing_iscrowd_means_zero(tmp_path, capsys):
    gt = _gt()
    for a in gt["annotations"]:
        del a["iscrowd"]  # was: KeyError: 'iscrowd' from COCOeval
    g, res = _write(tmp_path, gt)
    assert _ap(capsys, g, res) == pytest.approx(1.0)
    _, shifted = _write(tmp_path, gt, shift=SHIFT)
    assert _ap(capsys, g, shifted) == 0.0  # the people count (not ignored as crowds)


@pytest.mark.parametrize("value", ["no", "0", 2, None, [0]])
def test_score_refuses_an_iscrowd_other_than_0_or_1(tmp_path, capsys, value):
    gt = _gt()
    gt["annotations"][0]["iscrowd"] = value
    g, res = _write(tmp_path, gt)
    _score_error(capsys, ["score", g, res, "--metric", "coco"],
                 f"error: {g} [record annotations[0] id=1] field 'iscrowd': expected 0 or 1, got {value!r}")


# 3. no annotations -------------------------------------------------------------------------------------------

def test_score_refuses_ground_truth_without_annotations(tmp_path, capsys):
    gt = _gt()
    gt["annotations"] = []
    g, res = _write(tmp_path, gt)
    _score_error(capsys, ["score", g, res, "--metric", "coco"],
                 f"error: {g} field 'annotations': no annotations: there is no ground truth to score against")


# 4. category_id ----------------------------------------------------------------------------------------------

def test_score_refuses_an_annotation_of_an_unlisted_category(tmp_path, capsys):
    gt = _gt()
    gt["annotations"][2]["category_id"] = 2  # was: AP 0.9 for perfect predictions, no message
    g, res = _write(tmp_path, gt)
    _score_error(capsys, ["score", g, res, "--metric", "coco"],
                 f"error: {g} [record annotations[2] id=3] field 'category_id': category_id 2 is not among the "
                 "categories (ids 1): COCOeval would leave the annotation out")


# num_keypoints -----------------------------------------------------------------------------------------------

def test_score_refuses_num_keypoints_zero_on_a_labelled_person(tmp_path, capsys):
    """COCOeval ignores a person with num_keypoints 0: one perfect prediction among shifted ones scored less than
    with the clean file, without a word. Other disagreements stay accepted (Halpe's and CrowdPose's files count
    another subset there)."""
    gt = _gt()
    gt["annotations"][1]["num_keypoints"] = 0
    g, res = _write(tmp_path, gt)
    _score_error(capsys, ["score", g, res, "--metric", "coco"],
                 f"error: {g} [record annotations[1] id=2] field 'num_keypoints': 0, but 17 keypoints are labelled: "
                 "the evaluation would ignore this person")
    gt["annotations"][1]["num_keypoints"] = 14
    g, res = _write(tmp_path, gt)
    assert _ap(capsys, g, res) == pytest.approx(1.0)


# 5. image width / height -------------------------------------------------------------------------------------

@pytest.mark.parametrize("key,value", [("width", -5), ("width", "72"), ("height", 0), ("height", None),
                                       ("width", float("nan")), ("height", True)])
def test_score_refuses_an_image_size_that_is_not_a_positive_number(tmp_path, capsys, key, value):
    gt = _gt()
    gt["images"][1][key] = value  # was: accepted, and the box-outside-image check silently skipped
    g, res = _write(tmp_path, gt)
    _score_error(capsys, ["score", g, res, "--metric", "coco"],
                 f"error: {g} [record images[1] id=2] field '{key}': expected a positive number of pixels, "
                 f"got {value!r}")


# The same checks on the other paths that load COCO-style ground truth -----------------------------------------

def _nan_area_gt() -> dict[str, Any]:
    gt = _gt()
    gt["annotations"][0]["area"] = float("nan")
    return gt


def test_crowdpose_and_recall_and_multi_person_metrics_refuse_a_nan_area(tmp_path):
    from adaanchor.metrics.coco import COCO_SIGMAS, crowdpose_ap
    from adaanchor.metrics.recall import keypoint_recall
    from adaanchor.metrics.sweep import multi_person_metrics

    gt = _nan_area_gt()
    for img in gt["images"]:
        img["crowdIndex"] = 0.5
    calls = [lambda: crowdpose_ap(gt, _results(_gt()), sigmas=COCO_SIGMAS),
             lambda: keypoint_recall(gt, _results(_gt())), lambda: multi_person_metrics(gt, _results(_gt()))]
    for call in calls:
        with pytest.raises(DataError, match=re.escape("[record annotations[0] id=1] field 'area': expected a "
                                                      "positive finite number")):
            call()


def _predictions(gt: dict[str, Any]) -> dict[str, Any]:
    """What ``engine.evaluate.predict`` returns, for predictions equal to the ground truth."""
    anns = gt["annotations"]
    kp = np.array([a["keypoints"] for a in anns], dtype=np.float64).reshape(len(anns), K, 3)
    vis = kp[..., 2].astype(int)
    return {"pred": kp[..., :2], "gt": kp[..., :2], "pred_orig": kp[..., :2], "gt_orig": kp[..., :2],
            "score": np.full(vis.shape, 0.9), "vis": vis, "bbox_size": np.full(len(anns), 60.0),
            "image_id": [a["image_id"] for a in anns], "ann_id": [a["id"] for a in anns],
            "det_score": np.ones(len(anns)), "outside": np.zeros(vis.shape, bool)}


def test_the_evaluation_scores_its_val_file_through_the_same_checks(tmp_path):
    """``adaanchor eval`` (``engine.evaluate.evaluate_predictions``) hands the val annotation file to the same
    ground-truth loading: a NaN area is refused, a missing iscrowd reads as 0."""
    from adaanchor.engine.evaluate import evaluate_predictions

    g = tmp_path / "val.json"
    g.write_text(json.dumps(_nan_area_gt()))
    with pytest.raises(DataError, match=re.escape(f"{g} [record annotations[0] id=1] field 'area'")):
        evaluate_predictions(_predictions(_gt()), str(g))
    gt = _gt()
    for a in gt["annotations"]:
        del a["iscrowd"]
    g.write_text(json.dumps(gt))
    assert evaluate_predictions(_predictions(gt), str(g))["ap"] == pytest.approx(1.0)


@pytest.mark.slow  # a one-step training run (about 5 s)
def test_adaanchor_eval_refuses_a_nan_area_in_its_val_file(tmp_path, capsys):
    from adaanchor.config import build_config
    from adaanchor.demo import DEMO_CONFIG
    from adaanchor.engine.train import train

    over = [f"data.root={tmp_path / 'bench'}", "data.synth.n_train=8", "data.synth.n_val=4",
            f"out_dir={tmp_path / 'run'}", "model.tiny_width=8", "train.batch_size=8", "train.progress=false",
            "eval.batch_size=4", "train.max_steps=1", "train.eval_every=0"]
    run = Path(train(build_config(DEMO_CONFIG, over))["run_dir"])
    val = tmp_path / "bench" / "val.json"
    data = json.loads(val.read_text())
    data["annotations"][1]["area"] = float("nan")  # the reader falls back to the box; the AP must not
    _replace_cached(val, data)
    _score_error(capsys, ["eval", run], f"error: {val} [record annotations[1] id=2] field 'area': expected a "
                 "positive finite number")


@pytest.mark.parametrize("area, message", [
    ("nan", "field 'area'"),  # the reader takes a NaN area (the box stands in), the scorer does not
    (None, "field 'area': missing: OKS AP"),  # no area at all: AP cannot scale, and the CLI has no use_area=False
])
def test_training_refuses_the_val_ground_truth_before_its_first_step(tmp_path, area, message):
    """A val file the AP cannot score: the run trained to the end (or epochs in) and stopped at its first
    evaluation; the check now runs with the data, before any step."""
    from adaanchor.bench.synth import write_benchmark
    from adaanchor.config import build_config
    from adaanchor.demo import DEMO_CONFIG
    from adaanchor.engine.train import train

    over = [f"data.root={tmp_path / 'bench'}", "data.synth.n_train=8", "data.synth.n_val=4",
            f"out_dir={tmp_path / 'run'}", "model.tiny_width=8", "train.batch_size=8", "train.progress=false",
            "eval.batch_size=4", "train.max_steps=1", "train.eval_every=1"]
    cfg = build_config(DEMO_CONFIG, over)
    val = write_benchmark(tmp_path / "bench", dict(cfg.data.synth), progress=False)["val"]
    data = json.loads(val.read_text())
    if area is None:
        del data["annotations"][1]["area"]
    else:
        data["annotations"][1]["area"] = float(area)
    _replace_cached(val, data)
    with pytest.raises(DataError, match=re.escape(f"{val} [record annotations[1] id=2] {message}")):
        train(cfg)
    assert not (tmp_path / "run" / "checkpoints" / "last.pt").exists()


@pytest.mark.parametrize("metric", ["coco", "crowdpose"])
def test_ground_truth_naming_the_keypoints_in_another_order_is_refused(tmp_path, capsys, metric):
    """The OKS sigmas are taken by position: a ground truth listing the set's names in another order was scored with
    the sigmas of other keypoints (COCO's nose sigma on the right ankles) without a word."""
    from adaanchor.data.spec import load_spec

    spec = load_spec(metric)
    k = spec.num_keypoints
    gt = _gt()
    for a in gt["annotations"]:
        a["keypoints"] = a["keypoints"][: 3 * k]
        a["num_keypoints"] = k
    gt["images"] = [{**im, "crowdIndex": 0.5} for im in gt["images"]]
    names = list(spec.keypoints)[::-1]
    gt["categories"][0]["keypoints"] = names
    g, r = tmp_path / "gt.json", tmp_path / "results.json"
    g.write_text(json.dumps(gt))
    r.write_text(json.dumps([{**x, "keypoints": x["keypoints"][: 3 * k]} for x in _results(gt)]))
    assert main(["score", str(g), str(r), "--metric", metric]) == 2
    err = capsys.readouterr().err
    assert f"gt.json [record categories[0]] field 'keypoints': keypoint 0 is {names[0]!r}, keypoint {k - 1} of spec " \
           f"'{metric}': the file lists its keypoints in another order" in err
    gt["categories"][0]["keypoints"] = list(spec.keypoints)  # the same file in the spec's order scores 1.0
    g.write_text(json.dumps(gt))
    assert main(["score", str(g), str(r), "--metric", metric]) == 0
    assert "AP: 1.0000" in capsys.readouterr().out


@pytest.mark.parametrize("value", [12, ["a.png"], True])
def test_score_refuses_a_file_name_that_is_not_a_string(tmp_path, capsys, value):
    gt = _gt()
    gt["images"][1]["file_name"] = value  # was: accepted, and the file-name checks of the results silently off
    g, res = _write(tmp_path, gt)
    _score_error(capsys, ["score", g, res, "--metric", "coco"],
                 f"error: {g} [record images[1] id=2] field 'file_name': expected the image's file name as a string, "
                 f"got {value!r}")


def _nested_face_gt() -> dict[str, Any]:
    return {"images": [{"id": 1, "file_name": "a.png", "width": 10, "height": 10}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "keypoints": [[1, 2, 2]] * 68}],
            "categories": [{"id": 1, "name": "face"}]}


@pytest.mark.parametrize("gt,metric,says", [
    # a JSON list, and nested keypoints: "cannot tell the keypoint spec of 0- (22-)keypoint annotations"
    ([1, 2], "nme", "gt.json: expected a COCO-style JSON object with an 'annotations' list, got a JSON list"),
    (_nested_face_gt(), "nme", "gt.json [record annotations[0]] field 'keypoints': keypoints given as nested lists"),
    (None, "coco", "a folder, not a COCO-style ground-truth file (metric coco)"),  # was "file not found"
])
def test_ground_truth_of_another_shape_is_named_for_what_it_is(tmp_path, capsys, gt, metric, says):
    res = tmp_path / "res.json"
    res.write_text("[]")
    path = tmp_path / "gt.json"
    if gt is None:
        path.mkdir()
    else:
        path.write_text(json.dumps(gt))
    assert main(["score", str(path), str(res), "--metric", metric]) == 2
    assert says in capsys.readouterr().err
