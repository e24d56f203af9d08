"""Argument checks of the array metrics (keypoint errors, PCK, PCKh, NME): shapes, visibility flags, scales,
thresholds and flags, each refused with a message naming the argument and what was expected, rather than
broadcast into a wrong number or failed on inside numpy."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np


def to_numpy(x: Any, dtype: Any = np.float64) -> np.ndarray:
    """Convert a numpy array, torch tensor or nested sequence to a numpy array of ``dtype``."""
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch here
        x = x.detach().cpu()
        if x.is_floating_point() and x.element_size() < 4:  # numpy has no bfloat16 ("expected an array of numbers")
            x = x.float()
        x = x.numpy()
    return np.asarray(x, dtype=dtype)


def describe(x: Any) -> str:
    """A short one-line description of a bad argument for an error message."""
    if isinstance(x, np.generic):
        x = x.item()
    if hasattr(x, "shape") and hasattr(x, "dtype") and len(x.shape):
        return f"{type(x).__name__} of shape {tuple(x.shape)} and dtype {x.dtype}"
    text = repr(x).replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


def as_float_array(x: Any, name: str) -> np.ndarray:
    """``x`` as a float64 array, or ValueError naming ``name`` (strings, ragged lists, None would otherwise
    fail inside numpy with a message that names nothing)."""
    try:
        raw = x if hasattr(x, "detach") else np.asarray(x)  # read once (numpy, in C), checked, then converted
        if _complex(raw):  # cast to float64 with only numpy's ComplexWarning: the imaginary part dropped
            raise ValueError(f"{name}: expected an array of real numbers, got complex values ({describe(x)})")
        return to_numpy(raw)
    except (TypeError, ValueError) as e:
        if "real numbers" in str(e):
            raise
        raise ValueError(f"{name}: expected an array of numbers, got {describe(x)}") from None


def _complex(x: Any) -> bool:
    """Whether ``x`` (an array, a tensor, a pandas object, a number or a nested list of them) holds complex numbers;
    numpy reads a list once, in C (a walk of every element in Python took 9 times the conversion)."""
    if hasattr(x, "is_complex"):
        return bool(x.is_complex())
    try:
        raw = np.asarray(x)
    except (TypeError, ValueError):  # ragged: the conversion names it
        return False
    if raw.dtype.kind == "O":
        return any(isinstance(v, (complex, np.complexfloating)) for v in raw.reshape(-1))
    return raw.dtype.kind == "c"


def check_flag(value: Any, name: str) -> bool:
    """``value`` if it is a bool, else TypeError naming ``name``: a string such as ``"no"`` is truthy and
    would silently mean True."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {describe(value)}")
    return bool(value)


def check_thresholds(values: Any, name: str) -> tuple[float, ...]:
    """``values`` as a tuple of thresholds in (0, 1], or TypeError / ValueError naming ``name``.

    Every threshold of these metrics is a fraction of a size (the box for PCK, the head for PCKh, the normaliser
    for NME's failure rate and AUC): a value above 1 is most often a percentage (PCKh@50 for 0.5), which passed
    every keypoint and scored 100 %."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name}: expected a sequence of thresholds such as (0.05, 0.1), got {describe(values)}")
    out = []
    for t in values:
        # numpy / torch scalars; a row of a 2-D array stays an array (its .item() said "can only convert an array of
        # size 1 to a Python scalar", naming nothing)
        t = t.item() if hasattr(t, "item") and np.size(t) == 1 else t
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not (math.isfinite(t) and t > 0):
            raise ValueError(f"{name}: expected positive finite numbers, got {describe(t)}")
        if t > 1:
            raise ValueError(f"{name}: thresholds are fractions of the normalising size, at most 1, got {describe(t)}"
                             f" (a percentage? PCKh@0.5 is 0.5)")
        out.append(float(t))
    return tuple(out)


def check_vis(vis: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``vis`` as int64 flags of ``shape``, every value 0, 1 or 2. Refused rather than cast: a bool mask
    would read True as ``v = 1`` (occluded), 1.9 would truncate to 1 and 3 would count in neither group."""
    try:
        raw = vis.detach().cpu().numpy() if hasattr(vis, "detach") else np.asarray(vis)
    except (TypeError, ValueError):
        raise ValueError(f"vis: expected an (M, K) array of flags 0, 1 or 2, got {describe(vis)}") from None
    if raw.dtype == bool or raw.dtype.kind not in "iuf":
        hint = " (for a mask of visible points pass 2 * mask)" if raw.dtype == bool else ""
        raise TypeError(f"vis: expected visibility flags 0, 1 or 2 (2 visible, 1 occluded, 0 unlabelled), got "
                        f"dtype {raw.dtype}{hint}")
    if raw.shape != shape:
        raise ValueError(f"vis must be (M, K) = {shape} like pred, got {raw.shape}")
    bad = np.argwhere(~np.isin(raw, (0, 1, 2)))
    if len(bad):
        idx = tuple(int(i) for i in bad[0])
        raise ValueError(f"vis: expected visibility flags 0, 1 or 2, got {raw[idx].item()!r} at {list(idx)}")
    return raw.astype(np.int64)


def check_pred_gt(pred: Any, gt: Any, vis: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``pred``/``gt`` ``(M, K, 2)`` and ``vis`` ``(M, K)`` as numpy arrays, or ValueError naming what does not
    fit. The ground truth is the caller's input: a non-finite labelled point is refused (it would make an
    error NaN, or hide a miss), while a non-finite prediction is a counted miss (docs/metrics.md)."""
    p, g = as_float_array(pred, "pred"), as_float_array(gt, "gt")
    if p.shape != g.shape or p.ndim != 3 or p.shape[-1] != 2:
        raise ValueError(f"pred and gt must both be (M, K, 2), got {p.shape} and {g.shape}")
    v = check_vis(vis, p.shape[:2])
    bad = np.argwhere(~np.isfinite(g).all(axis=-1) & (v > 0))
    if len(bad):
        m, k = (int(i) for i in bad[0])
        raise ValueError(f"gt: non-finite coordinate {g[m, k].tolist()} of labelled keypoint {k} of instance {m}: "
                         "ground truth must be finite where v > 0 (set v = 0 for an unlabelled point)")
    return p, g, v


def check_arrays(pred: Any, gt: Any, vis: Any, per_instance: Any, name: str) -> tuple[np.ndarray, ...]:
    """``pred``/``gt`` ``(M, K, 2)``, ``vis`` ``(M, K)`` (as :func:`check_pred_gt`) and a per-instance ``(M,)``
    array (named ``name`` in errors) as numpy arrays, or ValueError naming what does not fit."""
    p, g, v = check_pred_gt(pred, gt, vis)
    d = as_float_array(per_instance, name).reshape(-1)
    if d.shape != p.shape[:1]:
        raise ValueError(f"{name} must be (M,) = ({p.shape[0]},), one per instance, got {d.shape}")
    return p, g, v, d


def check_scales(d: np.ndarray, need: np.ndarray, name: str) -> None:
    """Every ``d[m]`` with ``need[m]`` is a positive finite number, else ValueError naming ``name`` and the
    instance. An infinite scale makes every normalised error 0 (PCK 1 for predictions 50 px off), NaN makes
    every keypoint wrong, 0 divides by zero."""
    bad = np.flatnonzero(need & ~(np.isfinite(d) & (d > 0)))
    if bad.size:
        raise ValueError(f"{name} must be positive and finite for every instance with labelled keypoints, got "
                         f"{d[bad[0]]:g} for instance {bad[0]}")


def nonfinite_keypoints(pred: np.ndarray, scores: np.ndarray | None = None) -> np.ndarray:
    """``(M, K)`` True where a predicted keypoint has a non-finite coordinate (or a non-finite confidence,
    when ``scores (M, K)`` is given). Such a prediction is a miss, never a hit: see docs/metrics.md."""
    bad = ~np.isfinite(pred).all(axis=-1)
    if scores is not None:
        bad |= ~np.isfinite(scores)
    return bad


def point_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``||a - b||`` over the last axis (x, y), ``(...)``. numpy's norm, the square root of the summed squares as the
    official evaluations compute it (the same numbers to the last bit), and where the squares overflow while the
    difference is finite (beyond about 1e154 px) ``hypot``, which does not: a finite point 1e200 px off was
    infinitely far, and the NME left its face out of the mean as non-finite."""
    with np.errstate(over="ignore", invalid="ignore"):
        d = np.asarray(a, dtype=np.float64) - b
        dist = np.linalg.norm(d, axis=-1)
    over = np.isinf(dist) & np.isfinite(d).all(axis=-1)
    if over.any():
        dist[over] = np.hypot(d[..., 0], d[..., 1])[over]
    return dist


def check_outside(outside: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``outside`` as an ``(M, K)`` bool array; 0 / 1 pass, other numbers are refused (0.3 would read as True)
    and so is any other shape (a ``(K,)`` array would broadcast over the instances)."""
    try:
        raw = outside.detach().cpu().numpy() if hasattr(outside, "detach") else np.asarray(outside)
    except (TypeError, ValueError):
        raise ValueError(f"outside: expected an (M, K) bool array, got {describe(outside)}") from None
    if raw.shape != shape:
        raise ValueError(f"outside must be (M, K) = {shape} like vis, got {raw.shape}")
    if raw.dtype == bool:
        return raw
    bad = np.argwhere(~np.isin(raw, (0, 1))) if raw.dtype.kind in "iuf" else np.zeros((1, raw.ndim), int)
    if len(bad):
        idx = tuple(int(i) for i in bad[0])
        raise ValueError(f"outside: expected True / False (or 0 / 1) per keypoint, got {describe(raw[idx])} at "
                         f"{list(idx)}")
    return raw.astype(bool)
