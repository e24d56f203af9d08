"""Top-down geometry: box to centre/scale, the affine crop, its exact inverse, and augmentation.

All coordinates follow docs/conventions.md (pixel centres at integers). The crop is one 2x3 affine matrix
``A`` mapping original-image pixels to input-crop pixels; images are warped with it (OpenCV, bilinear)
and keypoints are mapped with it, so an image feature at original pixel ``p`` lands at crop pixel ``A p``
exactly. Predictions return to the original image with the inverse of ``A`` (:func:`invert_affine`).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

#: Padding applied to a person box before cropping (SimpleBaseline / HRNet use 1.25).
BOX_PADDING = 1.25


def box_to_center_scale(bbox: Sequence[float], aspect: float, padding: float = BOX_PADDING) -> tuple[np.ndarray, np.ndarray]:
    """``[x, y, w, h]`` to a centre ``(2,)`` and a size ``(2,)`` = ``(w, h)`` in pixels of the region to crop.

    The box is widened or heightened to the crop's aspect ratio ``aspect = W / H`` and then padded by
    ``padding``, so the whole box fits in the crop with a margin.
    """
    x, y, w, h = (float(v) for v in bbox)
    # A box's continuous extent [x, x + w] holds pixel centres x .. x + w - 1, centred at x + (w - 1) / 2.
    # (SimpleBaseline/HRNet use x + w / 2: their crops sit half a pixel away from ours. Accuracy does not
    # depend on it, since predictions return through the exact inverse of the same affine.)
    center = np.array([x + (w - 1) / 2.0, y + (h - 1) / 2.0], dtype=np.float64)
    if w > aspect * h:
        h = w / aspect
    else:
        w = h * aspect
    return center, np.array([w, h], dtype=np.float64) * padding


def image_region(image_hw: Sequence[int], out_wh: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Centre and size ``(w, h)`` of the region that fits a whole ``(H, W)`` image into an ``out_wh`` input,
    aspect preserved: the longer side fills the input, the rest is border."""
    h, w = float(image_hw[0]), float(image_hw[1])
    w_out, h_out = float(out_wh[0]), float(out_wh[1])
    center = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    size = np.array([w, w * h_out / w_out])
    if size[1] < h:
        size = np.array([h * w_out / h_out, h])
    return center, size


def crop_affine(center: np.ndarray, size: np.ndarray, out_wh: tuple[int, int], rot_deg: float = 0.0, flip: bool = False) -> np.ndarray:
    """The 2x3 affine mapping the region (``center``, ``size`` = (w, h) pixels, rotated by ``rot_deg``
    counter-clockwise) onto an ``out_wh = (W, H)`` crop, horizontally mirrored when ``flip``.

    Pixel-centre exact: the region's centre goes to the crop's centre ``((W - 1) / 2, (H - 1) / 2)`` and a
    length ``size[0]`` becomes ``W`` pixels.
    """
    out_w, out_h = out_wh
    s = out_w / float(size[0])
    t = np.deg2rad(rot_deg)
    c, si = np.cos(t), np.sin(t)
    # Rotate about the centre (image y points down, so counter-clockwise on screen is this matrix), scale.
    lin = s * np.array([[c, si], [-si, c]], dtype=np.float64)
    if flip:
        lin = np.array([[-1.0, 0.0], [0.0, 1.0]]) @ lin
    out_c = np.array([(out_w - 1) / 2.0, (out_h - 1) / 2.0])
    trans = out_c - lin @ np.asarray(center, dtype=np.float64)
    return np.hstack([lin, trans[:, None]])


def invert_affine(a: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine, as a 2x3 affine."""
    m = np.vstack([np.asarray(a, dtype=np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(m)[:2]


def apply_affine(a: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to points ``(..., 2)``."""
    a = np.asarray(a, dtype=np.float64)
    return np.asarray(xy, dtype=np.float64) @ a[:, :2].T + a[:, 2]


def warp_image(img: np.ndarray, a: np.ndarray, out_wh: tuple[int, int]) -> np.ndarray:
    """Warp ``img (H, W, C)`` uint8 with the affine ``a`` into an ``out_wh`` crop (bilinear, black border).

    OpenCV's warpAffine samples destination pixel ``(x, y)`` at ``A^-1 (x, y)`` with pixel centres at
    integers, which is our convention, so no half-pixel correction is needed.
    """
    return cv2.warpAffine(img, np.asarray(a, dtype=np.float64), tuple(int(v) for v in out_wh), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def flip_keypoints(vis: np.ndarray, kpts: np.ndarray, flip_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """After a mirror, left and right labels swap: reorder ``(..., K, 2)`` points and ``(..., K)`` visibility."""
    return vis[..., flip_index], kpts[..., flip_index, :]


def half_body_box(kpts: np.ndarray, vis: np.ndarray, upper: Sequence[int], lower: Sequence[int], rng: np.random.Generator,
                  min_points: int = 3, min_total: int | None = None) -> list[float] | None:
    """Half-body augmentation (the HRNet recipe): the box ``[x, y, w, h]`` of the labelled upper or lower body, or
    None when too few keypoints are labelled: ``min_points`` in neither half, or not more than ``min_total`` in
    all (default half of ``upper`` + ``lower``: HRNet's 8 of COCO's 17 and of MPII's 16; with fewer, a person with
    three labelled face points was cropped to a sliver around them). The box is the part's extent enlarged 1.5x
    around its centre: HRNet's whole margin for these crops, so crop it without the box padding."""
    up = [i for i in upper if vis[i] > 0]
    lo = [i for i in lower if vis[i] > 0]
    total = (len(upper) + len(lower)) // 2 if min_total is None else min_total
    part = up if (rng.random() < 0.5 and len(up) >= min_points) or len(lo) < min_points else lo
    if len(part) < min_points or len(up) + len(lo) <= total:
        return None
    pts = kpts[part]
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * 1.5, (y1 - y0) * 1.5
    w, h = max(w, 2.0), max(h, 2.0)
    return [cx - w / 2 + 0.5, cy - h / 2 + 0.5, w, h]
