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
    (the exact pair no predicted point has); the CSV and ``.slp`` wrote them as points at the image's corner."""
    if pred.scores is None or len(pred) == 0:
        return np.zeros((len(pred), pred.num_keypoints), bool)
    return (np.asarray(pred.scores) == 0) & (np.asarray(pred.keypoints) == 0).all(-1)
