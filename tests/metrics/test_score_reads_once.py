"""``adaanchor score`` reads and checks its ground truth and its results once (it read and checked both twice and
deep-copied the results), with the same numbers as pycocotools on its own; a bottom-up evaluation checks its
ground truth once for the whole threshold sweep (it checked it twice per threshold)."""

from __future__ import annotations

import collections
import contextlib
import io
import json

import numpy as np
import pytest

from adaanchor.data.spec import load_spec
from adaanchor.metrics import results as results_module
from adaanchor.metrics.score import score
from adaanchor.metrics.sweep import gamma_sweep

NAMES = {"coco": list(load_spec("coco").keypoints), "crowdpose": list(load_spec("crowdpose").keypoints)}


def _gt(metric: str) -> dict:
    """Three images, four people, jitter-free keypoints; CrowdPose's with a crowdIndex per image."""
    rng = np.random.default_rng(1)
    k = len(NAMES[metric])
    anns = []
    for i, (img, x0) in enumerate([(1, 20), (1, 300), (2, 50), (3, 100)]):
        xy = np.stack([rng.uniform(x0, x0 + 150, k), rng.uniform(40, 400, k)], 1).round(2)
        kp = np.concatenate([xy, np.full((k, 1), 2.0)], 1).reshape(-1).tolist()
        anns.append({"id": i + 1, "image_id": img, "category_id": 1, "keypoints": kp, "num_keypoints": k,
                     "bbox": [x0, 40, 150, 360], "area": 0.6 * 150 * 360, "iscrowd": 0})
    images = [{"id": i, "file_name": f"{i}.jpg", "width": 640, "height": 480, "crowdIndex": 0.1 * i} for i in (1, 2, 3)]
    return {"images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "person", "keypoints": NAMES[metric], "skeleton": []}]}


def _results(gt: dict) -> list[dict]:
    rng = np.random.default_rng(2)
    out = []
    for a in gt["annotations"]:
        kp = np.asarray(a["keypoints"], np.float64).reshape(-1, 3)
        kp[:, :2] += rng.normal(0, 5, kp[:, :2].shape)
        kp[:, 2] = 1.0
        out.append({"image_id": a["image_id"], "category_id": 1, "keypoints": kp.reshape(-1).tolist(),
                    "score": float(rng.uniform(0.3, 1.0))})
    return out


def _files(tmp_path, metric: str) -> tuple:
    gt = _gt(metric)
    gt_file, res_file = tmp_path / "gt.json", tmp_path / "results.json"
    gt_file.write_text(json.dumps(gt))
    res_file.write_text(json.dumps(_results(gt)))
    return gt_file, res_file


@pytest.fixture
def reads(monkeypatch) -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    real = results_module.load_json

    def counted(path, *args, **kwargs):
        counts[str(path)] += 1
        return real(path, *args, **kwargs)

    monkeypatch.setattr(results_module, "load_json", counted)
    return counts


@pytest.mark.parametrize("metric", ["coco", "crowdpose"])
def test_score_reads_each_file_once(tmp_path, reads, metric):
    gt_file, res_file = _files(tmp_path, metric)
    out = score(gt_file, res_file, metric)
    assert reads[str(gt_file)] == 1 and reads[str(res_file)] == 1, dict(reads)
    assert 0.0 < out["AP"] <= 1.0 and out["num_results"] == 4


def test_score_equals_pycocotools_and_leaves_a_callers_list_alone(tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt_file, res_file = _files(tmp_path, "coco")
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO(str(gt_file))
        ev = COCOeval(cg, cg.loadRes(str(res_file)), "keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    names = ("AP", "AP50", "AP75", "APM", "APL", "AR", "AR50", "AR75", "ARM", "ARL")
    assert [score(gt_file, res_file, "coco")[n] for n in names] == [float(v) for v in ev.stats]
    given = json.loads(res_file.read_text())
    assert [score(gt_file, given, "coco")[n] for n in names] == [float(v) for v in ev.stats]
    assert given == json.loads(res_file.read_text())  # pycocotools got a copy of the caller's list


def test_a_threshold_sweep_checks_its_ground_truth_once(monkeypatch):
    checks: list[int] = []
    real = results_module.check_gt_ids
    monkeypatch.setattr(results_module, "check_gt_ids", lambda data, name: checks.append(1) or real(data, name))
    gt = _gt("coco")
    res = _results(gt)
    sweep = gamma_sweep(lambda g: [r for r in res if r["score"] >= g], gt, gammas=(0.1, 0.5, 0.9))
    assert len(checks) == 1 and set(sweep["ap_by_gamma"]) == {"0.1", "0.5", "0.9"}
