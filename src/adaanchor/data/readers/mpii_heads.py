"""Head sizes of MPII persons, PCKh's normaliser: from a head box, a record's ``head_size``, the ``headboxes_src`` of
``mpii_gt_val.mat``, or the documented fall-back from the head segment (:mod:`.mpii` says which is preferred); a
head size that cannot be this person's is refused."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from ..headsize import SC_BIAS, head_size_from_box
from ..spec import KeypointSpec
from . import Collector, finite_number
from .checks import number_array


def head_size_from_segment(xy: np.ndarray, vis: np.ndarray, spec: KeypointSpec) -> float | None:
    """The documented fall-back without a head box: ``0.6 * sqrt(2) * ||head_top - upper_neck||``; None
    when the spec has no such joints or either is unlabelled."""
    names = spec.keypoints
    if "head_top" not in names or "upper_neck" not in names:
        return None
    a, b = names.index("head_top"), names.index("upper_neck")
    if vis[a] <= 0 or vis[b] <= 0:
        return None
    size = SC_BIAS * math.sqrt(2.0) * float(np.linalg.norm(xy[a] - xy[b]))
    return size if size > 0 else None


def load_headboxes(src: Any) -> np.ndarray:
    """Head boxes as ``(N, 2, 2)`` (``[n, 0] = (x1, y1)``, ``[n, 1] = (x2, y2)``) from an array of that shape
    or from a ``.mat`` with ``headboxes_src`` of shape ``(2, 2, N)`` (``mpii_gt_val.mat``)."""
    if isinstance(src, (str, Path)):
        from scipy.io import loadmat

        p = Path(src)
        if not p.is_file():
            raise DataError(p, "head-box file not found")
        try:
            mat = loadmat(str(p))
        except Exception as e:  # scipy raises several types for a non-.mat file
            raise DataError(p, f"cannot read as a MATLAB .mat file ({e})") from None
        if "headboxes_src" not in mat:
            raise DataError(p, "missing (expected an mpii_gt_val.mat-style file)", field="headboxes_src")
        hb = np.asarray(mat["headboxes_src"], dtype=np.float64)
        if hb.ndim != 3 or hb.shape[:2] != (2, 2):
            raise DataError(p, f"expected shape (2, 2, N), got {hb.shape}", field="headboxes_src")
        return np.transpose(hb, (2, 0, 1))
    hb = np.asarray(src, dtype=np.float64)
    if hb.ndim != 3 or hb.shape[1:] != (2, 2):
        raise ValueError(f"head boxes must be (N, 2, 2), got {hb.shape}")
    return hb


def record_head_size(col: Collector, rec: str, xy: np.ndarray, vis: np.ndarray, spec: KeypointSpec,
                     headbox: Any, head_size: Any, scale: float | None = None
                     ) -> tuple[float | None, str | None, list[float] | None] | None:
    """Head size and its source for one person (``scale``: MPII's person scale, box height / 200, when known); None
    after a recorded failure."""
    if headbox is not None:
        hb = number_array(headbox, (4,))
        if hb is None:
            col.fail("expected [x1, y1, x2, y2]", record=rec, field="headbox")
            return None
        if not np.all(np.isfinite(hb)) or head_size_from_box(hb) <= 0:
            col.fail(f"head box must be finite with a positive diagonal, got {hb.tolist()}", record=rec,
                     field="headbox")
            return None
        if _implausible_head(col, rec, xy, vis, head_size_from_box(hb), "headbox", scale):
            return None
        return head_size_from_box(hb), "headbox", hb.tolist()
    if head_size is not None:
        size = finite_number(head_size)
        if size is None or size <= 0:
            col.fail(f"expected a positive number, got {head_size!r}", record=rec, field="head_size")
            return None
        if _implausible_head(col, rec, xy, vis, size, "head_size", scale):
            return None
        return size, "record", None
    seg = head_size_from_segment(xy, vis, spec)
    return (seg, "head_segment", None) if seg is not None else (None, None, None)


#: The largest head size (PCKh's normaliser) as a multiple of the person's size: a head is a fraction of the body
#: (about 0.2 of a standing person's height), so ten times the body is no head of this person.
MAX_HEAD_TO_BODY = 10.0


def _implausible_head(col: Collector, rec: str, xy: np.ndarray, vis: np.ndarray, size: float, field: str,
                      scale: float | None = None) -> bool:
    """Record a failure for a head size beyond :data:`MAX_HEAD_TO_BODY` times the person's size: the larger of the
    diagonal of its labelled keypoints and its height from MPII's ``scale`` (200 px a unit), where either is known. A
    head box ``[1, 1, 1e308, 1e308]`` made every keypoint a hit, and PCKh@0.5 rose from 62.65 to 68.67 without a word;
    two close joints alone (thorax and neck, 5 px apart) are no measure of a person, hence the scale."""
    lab = np.asarray(xy, np.float64)[np.asarray(vis) > 0]
    extent = float(np.hypot(*np.ptp(lab, axis=0))) if len(lab) >= 2 else 0.0
    height = 200.0 * float(scale) if scale is not None and np.isfinite(scale) and scale > 0 else 0.0
    body = max(extent, height)
    if body <= 0 or size <= MAX_HEAD_TO_BODY * body:
        return False
    col.fail(f"head size {size:.4g} px is more than {MAX_HEAD_TO_BODY:g} times the person's size ({body:.4g} px: "
             "its labelled keypoints' extent or its scale): not this person's head", record=rec, field=field)
    return True


def head_extra(head: tuple[float | None, str | None, list[float] | None], off: float) -> dict[str, Any]:
    """The ``extra`` entries of a person's head (:func:`record_head_size`'s result): ``head_size``,
    ``head_size_source`` and, from a head box, ``headbox`` ``[x1, y1, x2, y2]`` less ``off`` (0-based)."""
    extra: dict[str, Any] = {"head_size": head[0], "head_size_source": head[1]}
    if head[2] is not None:
        extra["headbox"] = [v - off for v in head[2]]
    return extra


__all__ = ["MAX_HEAD_TO_BODY", "head_extra", "head_size_from_segment", "load_headboxes", "record_head_size"]
