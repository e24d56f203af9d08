"""Options of ``adaanchor score`` that the chosen metric does not read are refused, not dropped: ``--headboxes``
with ``--metric coco`` gave the same AP as without it (exit 0), ``sigmas=`` with ``crowdpose`` was ignored."""

from __future__ import annotations

import json

import pytest
from test_coco_ap import coco_gt, crowdpose_gt, gt_as_results  # tests/metrics is on sys.path

from adaanchor.cli import main
from adaanchor.errors import AdaAnchorError
from adaanchor.metrics.coco import CROWDPOSE_SIGMAS
from adaanchor.metrics.score import score


def _files(tmp_path, gt):
    g, r = tmp_path / "gt.json", tmp_path / "res.json"
    g.write_text(json.dumps(gt))
    r.write_text(json.dumps(gt_as_results(gt)))
    return g, r


def test_headboxes_with_an_ap_metric_is_refused(tmp_path, capsys):
    g, r = _files(tmp_path, coco_gt())
    capsys.readouterr()
    assert main(["score", str(g), str(r), "--metric", "coco", "--headboxes", str(tmp_path / "gt_val.mat")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "headboxes" in err and "pckh" in err, err
    assert score(g, r, "coco")["AP"] == pytest.approx(1.0)


@pytest.mark.parametrize("kwargs", [{"sigmas": CROWDPOSE_SIGMAS * 2}, {"use_area": False}])
def test_crowdpose_options_of_coco_are_refused(tmp_path, kwargs):
    gt = crowdpose_gt()
    gt["categories"][0]["keypoints"] = ["left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
                                        "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
                                        "right_knee", "left_ankle", "right_ankle", "head", "neck"]
    g, r = _files(tmp_path, gt)
    assert score(g, r, "crowdpose")["AP"] == pytest.approx(1.0)
    with pytest.raises(AdaAnchorError, match="options of metric coco"):
        score(g, r, "crowdpose", **kwargs)
