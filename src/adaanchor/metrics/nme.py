"""Face-landmark NME, failure rate and CED AUC (WFLW, 300W and any face set with a ``nme`` spec entry).

For one face with labelled points ``L`` (``v > 0``; every point in the face sets)::

    NME = mean_{k in L} ||pred_k - gt_k|| / d

where ``d`` is the normaliser measured on the ground truth: ``interocular`` = distance between the two
outer eye corners (WFLW points 60 and 72; 300W / iBUG-68 points 36 and 45, 0-based), or ``interpupil`` =
distance between the two pupil centres (means of the spec's index lists). The dataset NME is the mean
over faces. ``FR@t`` (failure rate) is the fraction of faces with ``NME > t``. ``AUC@t`` is the area under
the cumulative error distribution (CED: fraction of faces with ``NME <= x``) for ``x`` from 0 to ``t``,
divided by ``t`` so that it lies in [0, 1]; for the empirical CED it equals exactly
``mean_i max(0, t - NME_i) / t`` (computed in closed form, no sampling of the curve). All three are
fractions (multiply by 100 for the usual "4.60 %" style).

WFLW subsets: faces whose ``extra["attributes"][name] == 1`` for each of ``pose, expression,
illumination, make_up, occlusion, blur`` (official annotation text file only).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..data.spec import KeypointSpec, load_spec
from .keypoint import (
    as_float_array,
    check_arrays,
    check_thresholds,
    describe,
    nonfinite_keypoints,
    point_distance,
    threshold_key,
)

FR_THRESHOLD = 0.1
AUC_THRESHOLD = 0.1


def _is_index(i: Any) -> bool:
    return isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_))


def norm_pair(pair: Any, k: int) -> tuple[Any, Any]:
    """``pair`` checked against ``K = k`` keypoints: two sides, each a keypoint index or a non-empty list of
    indices in ``0..K-1``; ValueError naming ``norm`` otherwise (a third side would be ignored, a negative
    index would count from the end, one beyond K would fail inside numpy)."""
    what = f"norm: expected two keypoint indices (or two lists of indices) in 0..{k - 1}, got {describe(pair)}"
    try:
        sides = None if isinstance(pair, (str, bytes)) else list(pair)
    except TypeError:
        sides = None
    if sides is None or len(sides) != 2:
        raise ValueError(what)
    out: list[Any] = []
    for side in sides:
        try:
            idx = [side] if _is_index(side) else list(side)
        except TypeError:
            raise ValueError(what) from None
        if not idx or not all(_is_index(i) and 0 <= i < k for i in idx):
            raise ValueError(what)
        out.append(int(side) if _is_index(side) else [int(i) for i in idx])
    return out[0], out[1]


def normaliser(gt: Any, pair: Sequence[Any]) -> np.ndarray:
    """``(M,)`` distance between two keypoints (indices) or two point means (index lists) of ``gt (M, K, 2)``."""
    g = as_float_array(gt, "gt")
    if g.ndim != 3 or g.shape[-1] != 2:
        raise ValueError(f"gt must be (M, K, 2), got {g.shape}")
    sides = []
    for side in norm_pair(pair, g.shape[1]):
        idx = [side] if isinstance(side, int) else side
        pts = g[:, idx, :]
        bad = np.argwhere(~np.isfinite(pts).all(axis=-1))
        if len(bad):  # the ground truth is the caller's input: a NaN eye corner is not a "coincident" one
            raise ValueError(f"gt: non-finite coordinate of normaliser keypoint {idx[bad[0][1]]} of face {bad[0][0]}")
        sides.append(pts.mean(axis=1))
    return point_distance(sides[0], sides[1])


def unlabelled_normaliser(vis: np.ndarray, pair: Sequence[Any]) -> tuple[int, int] | None:
    """``(face, keypoint)`` of the first normaliser point (of the checked ``pair``) that is not labelled (``v = 0``),
    or None. Such a point's coordinates are a placeholder (0, 0 in most files), not an eye corner: the face's NME
    was divided by the distance to it without a word."""
    for side in pair:
        idx = [side] if isinstance(side, int) else list(side)
        bad = np.argwhere(np.asarray(vis)[:, idx] <= 0)
        if len(bad):
            return int(bad[0][0]), int(idx[bad[0][1]])
    return None


def nme_per_instance(pred: Any, gt: Any, vis: Any, norm: Any) -> np.ndarray:
    """``(M,)`` NME of each face: mean over its labelled points of error / ``norm``. A face with a non-finite
    predicted point gets ``inf`` (a miss: a failure at every threshold, never a good score)."""
    return _point_errors(pred, gt, vis, norm)[0]


def _point_errors(pred: Any, gt: Any, vis: Any, norm: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(per-face NME (M,), normalised point errors (M, K) with inf for non-finite predictions, vis (M, K))``."""
    p, g, v, d = check_arrays(pred, gt, vis, norm, "norm")
    lab = v > 0
    if np.any(lab.sum(axis=1) == 0):
        raise ValueError("every face needs at least one labelled point")
    if np.any(~np.isfinite(d)) or np.any(d <= 0):
        raise ValueError("the normalising distance must be positive for every face (coincident eye points?)")
    bad = nonfinite_keypoints(p)
    err = np.where(bad, np.inf, point_distance(np.where(bad[..., None], 0.0, p), g)) / d[:, None]
    per_face = np.where(lab, err, 0.0).sum(axis=1) / lab.sum(axis=1)
    return per_face, err, v


def _face_errors(errors: Any, thr: Any, name: str) -> np.ndarray:
    """Per-face NMEs as a flat array with NaN read as ``inf`` (a face without a finite NME is a failure, as a
    non-finite prediction is: ``nan > thr`` is False and would count it as a success); a threshold that is not
    a positive finite number is refused (0 or less fails every face, ``AUC`` divides by it)."""
    check_thresholds((thr,), name)
    e = as_float_array(errors, "errors").reshape(-1)
    if np.any(e < 0):
        raise ValueError(f"errors: expected per-face NMEs >= 0, got {e[e < 0][0]:g}")
    return np.where(np.isnan(e), np.inf, e)


def failure_rate(errors: Any, thr: float = FR_THRESHOLD) -> float | None:
    """Fraction of faces with NME ``> thr`` (a NaN or infinite NME is a failure); None without faces (nothing to
    measure, as everywhere in the metrics: NaN was refused by the JSON writers)."""
    e = _face_errors(errors, thr, "thr")
    return float(np.mean(e > thr)) if e.size else None


def ced_auc(errors: Any, thr: float = AUC_THRESHOLD) -> float | None:
    """Area under the CED curve on ``[0, thr]`` divided by ``thr``: ``mean(max(0, thr - e)) / thr`` (a NaN or
    infinite NME adds 0); None without faces."""
    e = _face_errors(errors, thr, "thr")
    return float(np.mean(np.clip(thr - e, 0.0, None)) / thr) if e.size else None


def _summary(e: np.ndarray, fr_thr: float, auc_thr: float) -> dict[str, Any]:
    """NME over the faces with finite predictions; FR and AUC over all (a non-finite face fails)."""
    fin = np.isfinite(e)
    return {"NME": float(e[fin].mean()) if fin.any() else None, f"FR@{threshold_key(fr_thr)}": failure_rate(e, fr_thr),
            f"AUC@{threshold_key(auc_thr)}": ced_auc(e, auc_thr), "count": int(e.size), "nonfinite": int((~fin).sum())}


def _point_mean(err: np.ndarray, mask: np.ndarray) -> float | None:
    """Mean of the finite normalised point errors under ``mask`` (None when there are none)."""
    x = err[mask & np.isfinite(err)]
    return float(x.mean()) if x.size else None


def nme_metrics(
    pred: Any,
    gt: Any,
    vis: Any,
    spec: KeypointSpec | str | os.PathLike | Mapping[str, Any] | None = None,
    norm: str | Sequence[Any] = "interocular",
    attributes: Sequence[Mapping[str, int] | None] | None = None,
    fr_thr: float = FR_THRESHOLD,
    auc_thr: float = AUC_THRESHOLD,
    outside: Any = None,
) -> dict[str, Any]:
    """NME, FR and AUC of a face set, and of each attribute subset.

    Args:
        pred, gt: ``(M, K, 2)``; vis: ``(M, K)``.
        spec: a KeypointSpec, a spec name (``face68``, ``wflw``), a spec file or mapping: gives the normaliser by
            name (``spec.nme[norm]``); not needed when ``norm`` is a pair. Its keypoint count must be ``K``.
        norm: a normaliser name of the spec (``interocular``, ``interpupil``) or a pair of indices / lists.
        attributes: per face, a mapping ``attribute -> 0/1`` (WFLW), or None.
        outside: optional ``(M, K)`` bool, True where a point lies outside the model's input (a crop that cuts
            the face off): adds ``NME_vis_in`` / ``NME_inv_in`` (visible / occluded points inside the input) and
            ``NME_out`` (labelled points outside it; None without such points).

    Returns:
        ``{"NME", "FR@0.1", "AUC@0.1", "count", "nonfinite", "NME_vis", "NME_inv", "norm": [a, b],
        "subsets": {attr: {...}}}`` (fractions). ``NME`` is the mean over faces whose predicted points are
        all finite; a face with a non-finite point is a failure in ``FR`` and adds 0 to ``AUC`` (counted in
        ``nonfinite``). ``NME_vis`` / ``NME_inv``: mean normalised error over all visible / occluded points
        (None without such points). ``subsets`` only when attributes are given; an empty subset gives
        ``count = 0`` and None values.
    """
    check_thresholds((fr_thr,), "fr_thr")
    check_thresholds((auc_thr,), "auc_thr")
    pair = _normaliser_pair(spec, norm, as_float_array(gt, "gt").shape)
    d = normaliser(gt, pair)
    pair = norm_pair(pair, as_float_array(gt, "gt").shape[1])
    e, err, v = _point_errors(pred, gt, vis, d)
    bad = unlabelled_normaliser(v, pair)
    if bad is not None:
        raise ValueError(f"gt: normaliser keypoint {bad[1]} of face {bad[0]} is not labelled (v = 0): the face has no "
                         "normalising distance")
    attrs = _check_attributes(attributes, len(e))
    out = _summary(e, fr_thr, auc_thr)
    # Point-level NME of visible (v = 2) and occluded (v = 1) points, as in the paper's Table 4.
    out["NME_vis"], out["NME_inv"] = _point_mean(err, v == 2), _point_mean(err, v == 1)
    if outside is not None:
        out.update(_edge_split(err, v, outside))
    out["norm"] = list(pair)
    if attrs is not None and any(a for a in attrs):
        out["subsets"] = _subsets(e, attrs, fr_thr, auc_thr)
    return out


def _normaliser_pair(spec: Any, norm: str | Sequence[Any], shape: tuple[int, ...]) -> Any:
    """The normalising pair of ``norm``: a spec's named pair (``spec`` a KeypointSpec, name, path or mapping) or
    ``norm`` itself when it is a pair. A spec of another keypoint count than ``shape`` (``gt``'s, ``(M, K, 2)``) is
    refused: 98 WFLW points scored with ``face68`` were normalised by WFLW points 36 and 45, silently."""
    if spec is not None and not isinstance(spec, KeypointSpec):
        if not isinstance(spec, (str, os.PathLike, Mapping)):  # a pair in spec's place: "'tuple' object has no attribute 'nme'"
            raise TypeError(f"spec: expected a KeypointSpec, a spec name or None, got {type(spec).__name__} {spec!r}"
                            f"{'; a normaliser pair goes by keyword: norm=' + repr(spec) if isinstance(spec, (list, tuple)) else ''}")
        spec = load_spec(spec)
    if spec is not None and len(shape) == 3 and shape[1] != spec.num_keypoints:
        raise ValueError(f"spec: {spec.name!r} has {spec.num_keypoints} keypoints, gt has {shape[1]} per face: give "
                         "the spec of the data scored")
    if isinstance(norm, str):
        if spec is None or norm not in spec.nme:
            have = sorted(spec.nme) if spec is not None else []
            raise ValueError(f"normaliser '{norm}' is not defined by the spec (has {have})")
        return spec.nme[norm]
    return norm


def _edge_split(err: np.ndarray, v: np.ndarray, outside: Any) -> dict[str, float | None]:
    """Point NME split by the input's edge. err, v: ``(M, K)``; outside: ``(M, K)`` bool, True off the input."""
    from .arguments import check_outside

    off = check_outside(outside, v.shape)  # 0.3 and NaN were read as True: every point counted as outside
    return {"NME_vis_in": _point_mean(err, (v == 2) & ~off), "NME_inv_in": _point_mean(err, (v == 1) & ~off),
            "NME_out": _point_mean(err, (v > 0) & off)}


def _check_attributes(attributes: Any, m: int) -> list[Mapping[str, int] | None] | None:
    """One mapping (or None) per face: a shorter list would fail inside numpy, a longer one be cut."""
    if attributes is None:
        return None
    what = f"attributes: expected one mapping attribute -> 0/1 (or None) per face ({m} faces), got"
    try:
        attrs = list(attributes)
    except TypeError:
        raise ValueError(f"{what} {describe(attributes)}") from None
    if len(attrs) != m:
        raise ValueError(f"{what} {len(attrs)} entries")
    bad = next((a for a in attrs if a is not None and not isinstance(a, Mapping)), None)
    if bad is not None:
        raise ValueError(f"{what} an entry {describe(bad)}")
    for i, a in enumerate(attrs):  # "0" is truthy: the face was counted in the subset; 2 and 0.5 were taken too
        value = next(((k, v) for k, v in (a or {}).items()
                      if isinstance(v, (str, bytes)) or not (isinstance(v, (bool, np.bool_)) or v in (0, 1))), None)
        if value is not None:
            raise ValueError(f"attributes[{i}][{value[0]!r}]: expected 0 / 1 (or False / True), got {value[1]!r}")
    return attrs


def _subsets(e: np.ndarray, attrs: list[Mapping[str, int] | None], fr_thr: float, auc_thr: float) -> dict[str, Any]:
    """The summary of the faces with each attribute set (an empty subset: ``count = 0`` and None values)."""
    names: list[str] = []
    for a in attrs:
        for n in a or {}:
            if n not in names:
                names.append(n)
    subsets = {}
    for n in names:
        mask = np.array([bool(a and a.get(n)) for a in attrs])
        if mask.any():
            subsets[n] = _summary(e[mask], fr_thr, auc_thr)
        else:
            subsets[n] = {"NME": None, f"FR@{threshold_key(fr_thr)}": None, f"AUC@{threshold_key(auc_thr)}": None,
                          "count": 0, "nonfinite": 0}
    return subsets


__all__ = ["FR_THRESHOLD", "AUC_THRESHOLD", "norm_pair", "normaliser", "unlabelled_normaliser", "nme_per_instance",
           "failure_rate", "ced_auc", "nme_metrics"]
