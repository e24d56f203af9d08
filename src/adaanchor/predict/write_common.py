"""What every prediction writer shares: how an input file is named, and which keypoints a pose lacks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..metrics.keypoint import nonfinite_keypoints
from .result import Prediction


def input_path(path: Path) -> Path:
    """An input's absolute path as the user named it: its folder resolved, its own name kept. A symlinked
    file (git-annex, DataLad, DVC, the Hugging Face cache) was named by its target, a content hash
    (``.git/annex/objects/.../SHA256E-s...png``), not by the file the user gave."""
    return path.absolute().parent.resolve() / path.name


def individual_names(m: int) -> list[str]:
    """The names of ``m`` instance slots, ``individual1`` ... : the CSV's ``individuals`` row and the NWB tracks.
    From ten slots on the numbers have one width (``individual01`` ... ``individual12``), so that sorting the names
    keeps the slots' order: sleap-io's ``load_nwb`` returns a frame's instances sorted by name, and put
    ``individual10`` before ``individual2``."""
    width = len(str(m))
    return [f"individual{i + 1:0{width}d}" for i in range(m)]


def missing_keypoints(pred: Prediction) -> np.ndarray:
    """``(N, K)`` bool: the keypoints a pose does not have. A multi-person run marks them at (0, 0) with score 0
    (the exact pair no predicted point has); the CSV and ``.slp`` wrote them as points at the image's corner. A
    keypoint or score that is NaN or infinite (a diverged model) is missing too: the CSV wrote ``nan`` text."""
    bad = _nonfinite(pred)
    if pred.scores is None:
        return bad
    return bad | ((np.asarray(pred.scores) == 0) & (np.asarray(pred.keypoints) == 0).all(-1))


def finite_instances(pred: Prediction) -> np.ndarray:
    """``(N,)`` bool: the instances whose keypoints, keypoint scores and instance score are all finite (the others
    are left out of the COCO results, a miss, as ``adaanchor eval`` counts them)."""
    if len(pred) == 0:
        return np.zeros(0, bool)
    with np.errstate(invalid="ignore"):  # the mean of a NaN score: NaN, refused here
        return ~_nonfinite(pred).any(axis=1) & np.isfinite(pred.instance_scores())


def _nonfinite(pred: Prediction) -> np.ndarray:
    """``(N, K)`` bool: the keypoints with a NaN or infinite coordinate or score."""
    sc = None if pred.scores is None else np.asarray(pred.scores)
    return nonfinite_keypoints(np.asarray(pred.keypoints).reshape(len(pred), pred.num_keypoints, 2), sc)


class NonFiniteCount:
    """The predictions with NaN or infinite values of a ``predict`` run: ``instances`` (left out of the COCO
    results), and ``frames`` whose model outputs were not finite (``meta["nonfinite_outputs"]``: a multi-person
    run's head maps, where a NaN map gives no pose at all, so no instance shows it)."""

    def __init__(self) -> None:
        self.instances = self.frames = 0

    def add(self, pred: Prediction) -> None:
        self.instances += int((~finite_instances(pred)).sum())
        self.frames += bool(pred.meta.get("nonfinite_outputs"))

    def notes(self, instances: int, frames: int) -> list[str]:
        """The summary's lines on them (of ``instances`` and ``frames`` predicted)."""
        out = []
        if self.instances:
            out.append(f"{self.instances} of {instances} instance(s) had NaN or infinite keypoints or scores (diverged "
                       "weights?): left out of the COCO results (a miss, as adaanchor eval counts them) and written as "
                       "missing points in the other files")
        if self.frames:
            out.append(f"the model's outputs (its head maps) held NaN or infinite values on {self.frames} of {frames} "
                       "frame(s) (diverged weights?): no pose can be found where they are, so those frames' people "
                       "are missing from the files")
        return out
