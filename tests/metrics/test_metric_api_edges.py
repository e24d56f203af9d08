"""The metrics as a library user calls them, at the edges an audit found: a spec of another keypoint count, empty
face sets, no PCK threshold, recall's counts, and the names importable from ``adaanchor.metrics``."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest

from adaanchor.metrics.keypoint import single_keypoint_metrics
from adaanchor.metrics.nme import ced_auc, failure_rate, nme_metrics
from adaanchor.metrics.recall import keypoint_recall


def _faces(k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    gt = np.random.default_rng(0).uniform(0, 100, (2, k, 2))
    return gt + 1.0, gt, np.full((2, k), 2)


@pytest.mark.parametrize("spec, k", [("face68", 98), ("wflw", 68), ("face68", 50)])
def test_a_spec_of_another_keypoint_count_is_refused(spec, k):
    """98 WFLW points scored with face68 were normalised by WFLW points 36 and 45 (NME 0.0236 against 0.0231);
    68 points with wflw blamed ``norm``, which was not given."""
    with pytest.raises(ValueError, match=rf"spec: '{spec}' has \d+ keypoints, gt has {k} per face: give the spec"):
        nme_metrics(*_faces(k), spec=spec)
    assert nme_metrics(*_faces(98), spec="wflw")["NME"] == pytest.approx(nme_metrics(*_faces(98), norm=(60, 72))["NME"])


def test_an_empty_face_set_gives_none_everywhere_and_writes_as_json():
    """FR and AUC were NaN beside an NME of None, and NaN is refused by the JSON writers (allow_nan=False)."""
    m = nme_metrics(np.zeros((0, 68, 2)), np.zeros((0, 68, 2)), np.zeros((0, 68), int), spec="face68")
    assert m["NME"] is None and m["FR@0.1"] is None and m["AUC@0.1"] is None and m["count"] == 0
    json.dumps(m, allow_nan=False)
    assert failure_rate([]) is None and ced_auc([]) is None
    assert failure_rate([0.05, 0.2]) == 0.5 and ced_auc([0.0]) == 1.0


def test_no_pck_threshold_is_refused():
    """``pck`` came back empty while ``pck_vis`` / ``pck_inv`` were computed at 0.05, a threshold not asked for."""
    g = np.zeros((1, 2, 2))
    with pytest.raises(ValueError, match=r"pck_thresholds: expected at least one threshold"):
        single_keypoint_metrics(g, None, g, np.array([[2, 1]]), np.array([10.0]), pck_thresholds=())


def test_recall_counts_are_integers():
    gt = {"images": [{"id": 1, "width": 50, "height": 50}], "categories": [{"id": 1, "keypoints": ["a"]}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "keypoints": [10, 10, 2], "area": 100.0,
                           "bbox": [0, 0, 20, 20], "num_keypoints": 1, "iscrowd": 0}]}
    res = [{"image_id": 1, "category_id": 1, "keypoints": [10, 10, 1.0], "score": 1.0}]
    r = keypoint_recall(gt, res, sigmas=[0.1])
    assert r == {"recall": 1.0, "matched": 1, "labelled": 1} and isinstance(r["matched"], int)


def test_the_main_functions_import_from_the_package():
    """``adaanchor.metrics`` exported nothing (and ``from adaanchor.metrics import pckh`` gave the module)."""
    metrics = importlib.import_module("adaanchor.metrics")
    for name in metrics.__all__:
        fn = getattr(metrics, name)
        assert callable(fn) and fn.__name__ == name, name
    assert {"single_keypoint_metrics", "nme_metrics", "coco_keypoint_ap", "keypoint_recall"} <= set(metrics.__all__)
    with pytest.raises(AttributeError, match=r"has no attribute 'no_such_metric'"):
        metrics.no_such_metric  # noqa: B018
