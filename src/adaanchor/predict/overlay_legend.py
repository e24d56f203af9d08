"""The overlay's legend (the confidence colour bar, or the "no confidence" label of a strategy without one) and the
corner it is drawn in: of the four, the one that covers the fewest keypoints and anchors, so that it does not hide
the feet of a person standing at the bottom of the picture (it was always drawn bottom-left)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

#: The corners a legend may take, in the order of preference where several cover as few marks.
LEGEND_CORNERS = ("bottom-left", "bottom-right", "top-left", "top-right")
NO_SCORE_TEXT = "keypoints: no confidence"
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _font_scale(t: int) -> float:
    return 0.35 + 0.1 * t


def label(img: np.ndarray, text: str, org: tuple[int, int], t: int) -> None:
    """White text outlined in black at ``org`` (its baseline's left end)."""
    fs = _font_scale(t)
    cv2.putText(img, text, org, _FONT, fs, (0, 0, 0), t + 2, cv2.LINE_AA)
    cv2.putText(img, text, org, _FONT, fs, (255, 255, 255), max(1, t), cv2.LINE_AA)


def _bar_layout(hw: Sequence[int], t: int) -> dict[str, int] | None:
    """The colour bar's geometry in the bottom-left corner of an ``(H, W)`` drawing: ``x0, y0`` (the bar's top-left),
    ``bw, bh`` (its size), ``tw, th`` (a digit's size) and the box ``left, top, right, bottom`` that the bar and its
    labels fill; None where the drawing is too small to hold it."""
    h, w = int(hw[0]), int(hw[1])
    (tw, th), _ = cv2.getTextSize("0", _FONT, _font_scale(t), 1)
    bw, bh = max(60, w // 3), max(6, 4 * t)
    x0, y0 = 4 * t + tw + 3 * t, h - bh - 4 * t
    if x0 + bw + 2 * tw + 6 * t >= w or y0 - 3 * th <= 0:
        return None
    return {"x0": x0, "y0": y0, "bw": bw, "bh": bh, "tw": tw, "th": th,
            "left": 0, "top": y0 - 3 * th - 2 * t, "right": x0 + bw + 2 * tw + 6 * t, "bottom": h}


def _text_box(hw: Sequence[int], t: int) -> dict[str, int]:
    """The "no confidence" label's box in the bottom-left corner (its baseline at ``4 t`` above the bottom)."""
    (tw, th), _ = cv2.getTextSize(NO_SCORE_TEXT, _FONT, _font_scale(t), t + 2)
    h = int(hw[0])
    return {"left": 0, "top": h - 4 * t - th - t, "right": 4 * t + tw + 2 * t, "bottom": h}


def _shift(box: dict[str, int], corner: str, hw: Sequence[int]) -> tuple[int, int]:
    """How far to move a bottom-left ``box`` to put it in ``corner`` of an ``(H, W)`` drawing: ``(dx, dy)``."""
    h, w = int(hw[0]), int(hw[1])
    dx = w - box["right"] - box["left"] if corner.endswith("right") else 0
    dy = -(box["top"] - (h - box["bottom"])) if corner.startswith("top") else 0
    return dx, dy


def choose_corner(marks: np.ndarray, hw: Sequence[int], t: int, scores: bool) -> str:
    """The corner of an ``(H, W)`` drawing whose legend box covers the fewest of ``marks`` (``(M, 2)`` drawn pixel
    positions of keypoints and anchors; rows that are not finite are left out), the first of
    :data:`LEGEND_CORNERS` among equals. ``scores``: the colour bar (else the "no confidence" label)."""
    box = _bar_layout(hw, t) if scores else _text_box(hw, t)
    if box is None:
        return LEGEND_CORNERS[0]
    pts = np.asarray(marks, np.float64).reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(1)]
    pad = 3 * t  # a keypoint's dot reaches past its centre
    counts = []
    for corner in LEGEND_CORNERS:
        dx, dy = _shift(box, corner, hw)
        inside = ((pts[:, 0] >= box["left"] + dx - pad) & (pts[:, 0] <= box["right"] + dx + pad)
                  & (pts[:, 1] >= box["top"] + dy - pad) & (pts[:, 1] <= box["bottom"] + dy + pad))
        counts.append(int(inside.sum()))
    return LEGEND_CORNERS[int(np.argmin(counts))]


def draw_legend(img: np.ndarray, t: int, corner: str, scores: bool, lut: np.ndarray) -> None:
    """The confidence bar (0 left, 1 right, labelled above; ``lut`` the ``(256, 3)`` colours) or, without
    ``scores``, the "no confidence" label, drawn in ``corner`` of ``img`` (nothing where it does not fit)."""
    hw = img.shape[:2]
    if not scores:
        box = _text_box(hw, t)
        dx, dy = _shift(box, corner, hw)
        label(img, NO_SCORE_TEXT, (4 * t + dx, hw[0] - 4 * t + dy), t)
        return
    g = _bar_layout(hw, t)
    if g is None:
        return
    dx, dy = _shift(g, corner, hw)
    x0, y0, bw, bh = g["x0"] + dx, g["y0"] + dy, g["bw"], g["bh"]
    img[y0:y0 + bh, x0:x0 + bw] = cv2.resize(lut[None], (bw, bh), interpolation=cv2.INTER_LINEAR)
    cv2.rectangle(img, (x0, y0), (x0 + bw - 1, y0 + bh - 1), (0, 0, 0), 1)
    base = y0 + (bh + g["th"]) // 2
    for text, org in (("0", (x0 - g["tw"] - 2 * t, base)), ("1", (x0 + bw + 2 * t, base)),
                      ("confidence", (x0, y0 - 2 * t))):
        label(img, text, org, t)


__all__ = ["LEGEND_CORNERS", "choose_corner", "draw_legend", "label"]
