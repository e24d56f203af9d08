"""The result of one image: N instances of K keypoints each, in original image pixels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(repr=False)
class Prediction:
    """Predictions on one image (or video frame).

    ``N`` is the number of instances: 1 in whole-image mode, the number of boxes in top-down mode (0 when
    an image has no box), the number of people found by a multi-person run (bottom-up), best first. Coordinates are ``(x, y)`` in original image pixels, pixel centres at integers
    (docs/conventions.md).

    Attributes:
        keypoints: ``(N, K, 2)`` float64.
        scores: ``(N, K)`` float32 confidences in [0, 1], or None for a strategy without confidence
            (regression).
        anchors: ``(N, K, 2)`` float64, the centre of the output cell each keypoint was decoded from (the
            anchor of ``fixanchor``/``adaanchor``, the argmax cell of ``heatmap``), or None (regression).
        boxes: ``(N, 4)`` float64 ``[x, y, w, h]``: the given box, or the whole image ``[0, 0, W, H]``.
        box_scores: ``(N,)`` float64 detection scores (1.0 where none was given).
        affines: ``(N, 2, 3)`` float64, original image pixels -> model input pixels, one per instance.
        image_hw: ``(H, W)`` of the original image.
        meta: a mapping the caller may add its own information to (a source file, a frame index); a
            :class:`Predictor` sets ``"orientation"`` (how a file or PIL image with an EXIF orientation was read)
            and, for a multi-person run whose head maps held non-finite values, ``"nonfinite_outputs"``. Which
            source and frame a prediction belongs to is the ``tag`` that :meth:`Predictor.predict_stream` yields
            with it, or its place in :meth:`Predictor.predict`'s list.
        pose_scores: ``(N,)`` float64 pose scores of a multi-person run (the mean keypoint confidence over all
            ``K`` types, a missing keypoint counting 0), or None. A missing keypoint of a pose is ``(0, 0)``
            with score 0.
    """

    keypoints: np.ndarray
    scores: np.ndarray | None
    anchors: np.ndarray | None
    boxes: np.ndarray
    box_scores: np.ndarray
    affines: np.ndarray
    image_hw: tuple[int, int]
    meta: dict[str, Any] = field(default_factory=dict)
    pose_scores: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])

    def __repr__(self) -> str:
        """A one-line summary (N, K, the image size, the scores' range, the boxes), not every coordinate: the
        dataclass's repr printed all ``N * K * 2`` of them, dozens of lines for one person."""
        n, k = (int(v) for v in self.keypoints.shape[:2])
        h, w = (int(v) for v in self.image_hw)

        def span(a: np.ndarray | None) -> str:
            if a is None:
                return "None"
            fin = np.asarray(a, np.float64)[np.isfinite(a)]
            return f"{fin.min():.3g}..{fin.max():.3g}" if fin.size else "none" if np.size(a) == 0 else "none finite"

        if n and np.allclose(self.boxes, [0.0, 0.0, w, h]):
            boxes = "the whole image"
        else:
            shown = [[float(f"{v:.4g}") for v in b] for b in self.boxes[:3].tolist()]
            boxes = str(shown)[:-1] + (f", ... ({n} in all)]" if n > 3 else "]")
        parts = [f"N={n} x K={k} keypoints, image_hw=({h}, {w})", f"scores {span(self.scores)}",
                 f"anchors {'None' if self.anchors is None else 'yes'}", f"boxes [x, y, w, h] {boxes}"]
        if self.pose_scores is not None:
            parts.append(f"pose_scores {span(self.pose_scores)}")
        if self.meta:
            parts.append(f"meta={self.meta!r}")
        return f"Prediction({', '.join(parts)})"

    @property
    def num_keypoints(self) -> int:
        return int(self.keypoints.shape[1])

    def instance_scores(self) -> np.ndarray:
        """``(N,)``: mean keypoint confidence times the box score (the COCO results ``score``); the box
        score alone when there is no keypoint confidence; the pose scores of a multi-person run."""
        if self.pose_scores is not None:
            return self.pose_scores.astype(np.float64)
        if self.scores is None:
            return self.box_scores.astype(np.float64)
        if len(self) == 0:
            return np.zeros(0)
        return self.scores.astype(np.float64).mean(axis=1) * self.box_scores

    def select(self, keep: Any) -> Prediction:
        """The instances ``keep`` names: a boolean mask ``(N,)`` (e.g. the instances scored above a threshold for
        drawing; their order kept), or integer indices ``(M,)`` in ``[-N, N)`` (in the order given, e.g.
        ``np.argsort(-pred.instance_scores())`` to sort them best first).

        Raises:
            TypeError: ``keep`` is neither (None, a scalar, floats, strings, more dimensions).
            ValueError: a mask of another length than ``N``, or an index out of range.
        """
        idx = self._indices(keep)

        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx]

        return Prediction(self.keypoints[idx], pick(self.scores), pick(self.anchors), self.boxes[idx],
                          self.box_scores[idx], self.affines[idx], self.image_hw, dict(self.meta),
                          pick(self.pose_scores))

    def _indices(self, keep: Any) -> np.ndarray:
        """``keep`` of :meth:`select` as integer indices ``(M,)``; a mask is never cast from integers (``[0, 1, 2]``
        is instances 0, 1 and 2, not a mask keeping 1 and 2)."""
        n = len(self)
        arr = None if keep is None or isinstance(keep, (str, bytes)) else np.asarray(keep)
        if arr is None or arr.ndim != 1:
            got = "None" if keep is None else f"{type(keep).__name__} of shape {np.shape(keep)}" if arr is not None \
                else type(keep).__name__
            raise TypeError(f"keep: expected a boolean mask of shape ({n},) or a 1-D array of integer indices, got {got}")
        if arr.size == 0 and not (arr.dtype == bool and n):  # [] is float64 to numpy: no instance either way
            return np.zeros(0, np.intp)
        if arr.dtype == bool:
            if arr.shape[0] != n:
                raise ValueError(f"keep: a boolean mask needs one entry per instance ({n}), got {arr.shape[0]}")
            return np.flatnonzero(arr)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"keep: expected a boolean mask of shape ({n},) or integer indices, got dtype {arr.dtype}")
        if arr.min() < -n or arr.max() >= n:
            raise ValueError(f"keep: index {int(arr.max() if arr.max() >= n else arr.min())} out of range for {n} "
                             f"instance(s)")
        return arr.astype(np.intp)

    @classmethod
    def empty(cls, k: int, image_hw: tuple[int, int], with_scores: bool, with_anchors: bool,
              meta: dict[str, Any] | None = None) -> Prediction:
        """An image without any instance (no box given for it)."""
        return cls(np.zeros((0, k, 2)), np.zeros((0, k), np.float32) if with_scores else None,
                   np.zeros((0, k, 2)) if with_anchors else None, np.zeros((0, 4)), np.zeros(0), np.zeros((0, 2, 3)),
                   image_hw, dict(meta or {}))


def stack_instances(parts: list[dict[str, np.ndarray]], image_hw: tuple[int, int], meta: dict[str, Any] | None = None) -> Prediction:
    """One :class:`Prediction` from per-instance dicts (``keypoints (K, 2)``, ``scores (K,)`` or None,
    ``anchors (K, 2)`` or None, ``box (4,)``, ``box_score``, ``affine (2, 3)``), in order."""
    scores = [p["scores"] for p in parts]
    anchors = [p["anchors"] for p in parts]
    return Prediction(
        keypoints=np.stack([p["keypoints"] for p in parts]),
        scores=None if scores[0] is None else np.stack(scores).astype(np.float32),
        anchors=None if anchors[0] is None else np.stack(anchors),
        boxes=np.stack([np.asarray(p["box"], np.float64) for p in parts]),
        box_scores=np.array([float(p["box_score"]) for p in parts]),
        affines=np.stack([p["affine"] for p in parts]),
        image_hw=image_hw,
        meta=dict(meta or {}),
    )
