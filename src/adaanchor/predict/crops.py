"""The crops' geometry: one affine per instance from original image pixels to model input pixels, the same as
training and evaluation (:mod:`adaanchor.data.transforms`), and the input normalisation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..data.transforms import box_to_center_scale, crop_affine, image_region, invert_affine
from ..data.types import IMAGENET_MEAN, IMAGENET_STD
from ..errors import AdaAnchorError


def fit_image_affine(image_hw: Sequence[int], input_size: Sequence[int]) -> np.ndarray:
    """The affine that fits a whole image of ``image_hw = (H, W)`` pixels into a model input of ``input_size =
    (W, H)`` pixels, centred, aspect preserved (the crop of ``TopDownDataset(crop="image")``): a ``(2, 3)`` float64
    matrix from original image pixels to input pixels, pixel centres at integers (docs/conventions.md)."""
    _positive_pair(image_hw, "image_hw", "(H, W)")
    _positive_pair(input_size, "input_size", "(W, H)")
    center, size = image_region(image_hw, input_size)
    return crop_affine(center, size, (int(input_size[0]), int(input_size[1])))


def _positive_pair(value: Any, name: str, what: str) -> None:
    """``value`` two finite sizes > 0 (pixels), or ValueError naming ``name``: a size of 0 gave a division by
    zero, or an affine that maps a 0-pixel image onto the whole input."""
    try:
        pair = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        pair = np.zeros(0)
    if pair.shape != (2,) or not (np.isfinite(pair).all() and (pair > 0).all()):
        raise ValueError(f"{name}: expected {what}, two sizes > 0 in pixels, got {value!r}")


def box_affine(box: Sequence[float], input_size: Sequence[int]) -> np.ndarray:
    """The affine of a box ``[x, y, w, h]`` in original image pixels (padded 1.25x to the input's aspect, as
    ``crop="box"``) into a model input of ``input_size = (W, H)`` pixels: a ``(2, 3)`` float64 matrix from original
    image pixels to input pixels."""
    _positive_pair(input_size, "input_size", "(W, H)")
    b = np.asarray(box, dtype=np.float64) if not isinstance(box, (str, bytes)) else np.zeros(0)
    if b.shape != (4,) or not (np.isfinite(b).all() and (b[2:] > 0).all()):  # 5 values: "too many to unpack"
        raise ValueError(f"box: expected [x, y, w, h] with w, h > 0 (the detection score apart), got {b.tolist() if b.size else box!r}")
    w, h = int(input_size[0]), int(input_size[1])
    center, size = box_to_center_scale(b, w / h)
    return crop_affine(center, size, (w, h))


def finite_box_affine(box: np.ndarray, input_size: Sequence[int], index: int) -> np.ndarray:
    """:func:`box_affine` of ``boxes[index]``, refused when it or its inverse is not finite: a box that is itself
    finite can still overflow the crop's scale (a 1e-320 px box), which gave NaN or infinite keypoints."""
    with np.errstate(all="ignore"):  # the overflow is reported below, as one error, not as numpy warnings
        a = box_affine(box, input_size)
        ok = bool(np.isfinite(a).all() and np.isfinite(invert_affine(a)).all())
    if not ok:
        raise AdaAnchorError(f"boxes[{index}]: {box.tolist()} gives a crop of no finite size")
    return a


def normalise(crops: np.ndarray) -> np.ndarray:
    """``(B, H, W, 3)`` uint8 RGB to ``(B, 3, H, W)`` float32, ImageNet-normalised: element for element the
    arithmetic of :func:`adaanchor.data.types.to_tensor_image`."""
    x = (crops.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


__all__ = ["box_affine", "fit_image_affine", "finite_box_affine", "normalise"]
