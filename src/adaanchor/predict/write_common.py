"""What every prediction writer shares: how an input file is named, and which keypoints a pose lacks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .result import Prediction


def input_path(path: Path) -> Path:
    """An input's absolute path as the user named it: its folder resolved, its own name kept. A symlinked
    file (git-annex, DataLad, DVC, the Hugging Face cache) was named by its target, a content hash
    (``.git/annex/objects/.../SHA256E-s...png``), not by the file the user gave."""
    return path.absolute().parent.resolve() / path.name



def missing_keypoints(pred: Prediction) -> np.ndarray:
    """``(N, K)`` bool: the keypoints a pose does not have. A multi-person run marks them at (0, 0) with score 0
    (the exact pair no predicted point has); the CSV and ``.slp`` wrote them as points at the image's corner. A
    keypoint or score that is NaN or infinite (a diverged model) is missing too: the CSV wrote ``nan`` text."""
    kp = np.asarray(pred.keypoints)
    bad = ~np.isfinite(kp).all(-1) if len(pred) else np.zeros((0, pred.num_keypoints), bool)
    if pred.scores is None or len(pred) == 0:
        return bad
    sc = np.asarray(pred.scores)
    return bad | ~np.isfinite(sc) | ((sc == 0) & (kp == 0).all(-1))


def finite_instances(pred: Prediction) -> np.ndarray:
    """``(N,)`` bool: the instances whose keypoints, keypoint scores and instance score are all finite (the others
    are left out of the COCO results, a miss, as ``adaanchor eval`` counts them)."""
    if len(pred) == 0:
        return np.zeros(0, bool)
    ok = np.isfinite(np.asarray(pred.keypoints, np.float64)).all(axis=(1, 2))
    if pred.scores is not None:
        ok &= np.isfinite(np.asarray(pred.scores, np.float64)).all(axis=1)
    with np.errstate(invalid="ignore"):  # the mean of a NaN score: NaN, refused here
        return ok & np.isfinite(pred.instance_scores())
