"""Overlays: the predicted skeleton on the image, keypoints coloured by confidence, and for the anchor
strategies an arrow from each keypoint's anchor cell to the keypoint (the paper's Fig. 1 and 4).

Drawn with OpenCV (anti-aliased, sub-pixel coordinates), fast enough for every frame of a video. Small
images are enlarged by an integer factor first so that the marks stay legible.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from ..atomic import write_bytes_atomic
from ..coords import outside_frame
from ..data.pixels import ImageValueError
from ..data.transforms import apply_affine, invert_affine
from ..errors import AdaAnchorError
from .images import to_rgb
from .overlay_legend import LEGEND_CORNERS, choose_corner, draw_legend
from .result import Prediction

SHIFT = 4  # OpenCV fixed-point bits: coordinates are drawn with 1/16 pixel precision
SKELETON_RGB = (90, 170, 255)
ANCHOR_RGB = (255, 230, 0)  # yellow, as the anchors of the other figures
BOX_RGB = (200, 200, 200)
NO_SCORE_RGB = (255, 255, 255)  # a strategy without confidence (regression): white, no place on the colour bar
NAN_SCORE_RGB = (255, 0, 255)  # a keypoint whose score is not finite: a magenta x
#: Skeleton colours of the people of a multi-person prediction, in order (best pose first).
PERSON_RGB = ((90, 170, 255), (255, 120, 200), (120, 230, 120), (255, 170, 60), (180, 130, 255), (80, 220, 220))
MIN_SIDE = 360  # images whose longer side is shorter are enlarged to about this


@lru_cache(maxsize=1)
def confidence_lut() -> np.ndarray:
    """``(256, 3)`` uint8 RGB: matplotlib's ``RdYlGn`` (red low, green high), as the viz command uses."""
    import matplotlib

    return (matplotlib.colormaps["RdYlGn"](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)


def confidence_rgb(score: float) -> tuple[int, int, int]:
    """The colour of a confidence in [0, 1] (clipped); a NaN or infinite score, which has no place on the colour
    bar, gets :data:`NAN_SCORE_RGB` (its red end was read as a confidence of 0)."""
    if not np.isfinite(float(score)):
        return NAN_SCORE_RGB
    c = confidence_lut()[int(np.clip(round(float(score) * 255), 0, 255))]
    return int(c[0]), int(c[1]), int(c[2])


def overlay_scale(image_hw: Sequence[int]) -> int:
    """The integer enlargement of an image for drawing (1 for images of ``MIN_SIDE`` px or more)."""
    return max(1, int(round(MIN_SIDE / max(int(image_hw[0]), int(image_hw[1]), 1))))


def _fx(xy: np.ndarray, f: int) -> np.ndarray:
    """Original pixels to fixed-point pixels of the image enlarged ``f`` times (pixel centres stay centres)."""
    fixed = np.round(((np.asarray(xy, np.float64) + 0.5) * f - 0.5) * (1 << SHIFT))
    return np.nan_to_num(fixed, nan=0.0, posinf=_LIMIT, neginf=-_LIMIT).clip(-_LIMIT, _LIMIT).astype(np.int64)


#: Drawn points are clipped to +-2^20 pixels: OpenCV takes int32 fixed-point coordinates (``SHIFT`` fraction
#: bits), and a detection box 1e8 pixels wide, or a wild prediction, overflowed them ("Can't parse 'pt2'").
_LIMIT = (1 << 20) << SHIFT


def _pt(p: np.ndarray) -> tuple[int, int]:
    # Python's min / max (np.clip's values, NaN and infinity included): np.clip on a scalar cost 40 times more, and
    # an overlay of 30 people calls this 2000 times.
    return int(min(max(p[0], -_LIMIT), _LIMIT)), int(min(max(p[1], -_LIMIT), _LIMIT))


def _anchor_cell(anchor_xy: np.ndarray, affine: np.ndarray, stride: int) -> np.ndarray:
    """``(4, 2)`` corners, original pixels, of the output cell around an anchor (given in original pixels)."""
    a_in = apply_affine(affine, anchor_xy)
    h = stride / 2.0
    return apply_affine(invert_affine(affine), a_in + np.array([[-h, -h], [h, -h], [h, h], [-h, h]]))


def check_skeleton(skeleton: Sequence[Any], k: int) -> list[tuple[int, int]]:
    """``skeleton`` as pairs of keypoint indices in ``[0, k)``; a name, a pair of another length or an index out
    of range (negative included: -1 is no keypoint of a skeleton) is an error naming the pair."""
    if skeleton is None or isinstance(skeleton, (str, bytes)) or not isinstance(skeleton, Iterable):
        # None: "'NoneType' object is not iterable"
        raise TypeError(f"skeleton: expected a list of keypoint index pairs (or () for none), got {skeleton!r}")
    pairs = []
    for n, pair in enumerate(skeleton):
        ok = isinstance(pair, (tuple, list, np.ndarray)) and len(pair) == 2 and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in pair)
        if not ok:
            raise TypeError(f"skeleton[{n}]: expected a pair of keypoint indices, got {pair!r}")
        if not all(0 <= int(v) < k for v in pair):
            raise ValueError(f"skeleton[{n}]: {tuple(int(v) for v in pair)} names a keypoint out of range: the "
                             f"prediction has {k} keypoints (0..{k - 1})")
        pairs.append((int(pair[0]), int(pair[1])))
    return pairs


def _checked(image: Any, pred: Prediction, skeleton: Sequence[Any]) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """``image`` as ``(H, W, 3)`` uint8 RGB by the predictor's rule, checked to be ``pred.image_hw`` in size (the
    marks are in that image's pixels), and the checked skeleton pairs. A file or PIL image is read in the
    orientation the prediction was made in (``pred.meta["orientation"]``, set by the Predictor; else displayed)."""
    if not isinstance(pred, Prediction):  # a list (predict on a list of images) raised "no attribute 'meta'"
        hint = (": predict on a list returns a list, draw each one: draw_prediction(images[i], preds[i], ...)"
                if isinstance(pred, (list, tuple)) else "")
        raise TypeError(f"pred: expected the Prediction of one image, got {type(pred).__name__}{hint}")
    rgb = to_rgb(image, "image", str(pred.meta.get("orientation", "displayed")))
    hw = tuple(int(v) for v in pred.image_hw)
    if rgb.shape[:2] != hw:
        raise ImageValueError(f"image: size (H, W) = {rgb.shape[:2]} is not the prediction's image_hw {hw}: "
                              "draw on the image that was predicted")
    return rgb, check_skeleton(skeleton, pred.num_keypoints)


def draw_prediction(image: Any, pred: Prediction, skeleton: Sequence[tuple[int, int]] = (),
                    anchors: bool = True, stride: int | None = None, draw_boxes: bool | None = None,
                    legend: bool | str = True, multi_person: bool = False) -> np.ndarray:
    """The overlay of ``pred`` (the :class:`Prediction` of one image) on the image it was predicted on; returns a
    new ``(f*H, f*W, 3)`` uint8 RGB image, ``f`` = :func:`overlay_scale`.

    Args:
        image: what :meth:`Predictor.predict` takes for one image (an ``(H, W, 3)`` uint8 RGB array, grayscale,
            RGBA, another pixel dtype, a PIL image, a file path), converted by the same rule; its ``(H, W)``
            must be ``pred.image_hw``. A file or PIL image with an EXIF orientation is read as the
            :class:`Predictor` that made ``pred`` read it (its ``orientation``, kept in ``pred.meta``).
        skeleton: pairs of keypoint indices in ``[0, K)``.
        anchors: draw the anchor arrows (when ``pred.anchors`` is known); pass False for non-anchor strategies.
        stride: the model's output stride in input pixels (:attr:`Predictor.stride`, an integer >= 1): with it,
            each anchor's cell is outlined as a small square; None: no cells.
        draw_boxes: outline each instance's box (default: when there are boxes other than the whole image;
            never for ``multi_person``).
        legend: the confidence colour bar (a strategy without confidence: a label saying so) in the corner that
            covers the fewest keypoints and anchors (:func:`legend_corner`), or in the corner named
            (:data:`~adaanchor.predict.overlay_legend.LEGEND_CORNERS`: a video's frames keep one); False: none.
        multi_person: the people of a bottom-up run: each person's skeleton in its own colour
            (:data:`PERSON_RGB`, in order), its missing keypoints (score 0) and their limbs left out.
    """
    image, skeleton = _checked(image, pred, skeleton)
    if isinstance(legend, str) and legend not in LEGEND_CORNERS:
        raise TypeError(f"legend: expected True or False, or a corner ({', '.join(LEGEND_CORNERS)}), got {legend!r}")
    for flag, value in (("anchors", anchors), ("legend", legend if not isinstance(legend, str) else True),
                        ("multi_person", multi_person), ("draw_boxes", draw_boxes)):
        if not (isinstance(value, (bool, np.bool_)) or (flag == "draw_boxes" and value is None)):
            # "no" is truthy: arrows, legend and boxes were drawn for anchors="no"
            raise TypeError(f"{flag}: expected True or False, got {value!r}")
    if stride is not None and (not isinstance(stride, (int, np.integer)) or isinstance(stride, (bool, np.bool_))
                               or stride < 1):  # -1 and 4.5 drew cells of no model
        raise ValueError(f"stride: expected the model's output stride, an integer >= 1 (Predictor.stride), or None "
                         f"(no cells), got {stride!r}")
    h, w = image.shape[:2]
    f = overlay_scale((h, w))
    out = cv2.resize(image, (w * f, h * f), interpolation=cv2.INTER_LINEAR) if f > 1 else image.copy()
    t = _thickness(out.shape[:2])
    r = 2 * t + 1
    whole = np.array([0.0, 0.0, w, h])
    if draw_boxes is None:
        draw_boxes = not multi_person and any(not np.allclose(b, whole) for b in pred.boxes)
    for i in range(len(pred)):
        kp = _fx(pred.keypoints[i], f)
        shown = _shown(pred, i, multi_person)
        limb = PERSON_RGB[i % len(PERSON_RGB)] if multi_person else SKELETON_RGB
        if draw_boxes:
            x, y, bw, bh = pred.boxes[i]
            corners = _fx(np.array([[x - 0.5, y - 0.5], [x + bw - 0.5, y + bh - 0.5]]), f)
            cv2.rectangle(out, _pt(corners[0]), _pt(corners[1]), BOX_RGB, t, cv2.LINE_AA, SHIFT)
        for a, b in skeleton:
            if shown[a] and shown[b]:
                cv2.line(out, _pt(kp[a]), _pt(kp[b]), limb, t, cv2.LINE_AA, SHIFT)
        if anchors and pred.anchors is not None:
            _draw_anchors(out, pred, i, np.flatnonzero(shown), stride, f, t)
        off = outside_frame(pred.keypoints[i, :, 0], pred.keypoints[i, :, 1], w, h)
        for j in np.flatnonzero(shown):
            col = NO_SCORE_RGB if pred.scores is None else confidence_rgb(pred.scores[i, j])
            _keypoint_mark(out, kp[j], col, r, t, nan=col == NAN_SCORE_RGB, outside=bool(off[j]))
    if legend is not False:
        corner = legend if isinstance(legend, str) else legend_corner(pred, anchors, multi_person)
        draw_legend(out, t, corner, pred.scores is not None, confidence_lut())
    return out


def _thickness(drawn_hw: Sequence[int]) -> int:
    """Line thickness of a drawing of size ``drawn_hw`` (grows with it)."""
    return max(1, int(round(max(int(drawn_hw[0]), int(drawn_hw[1])) / 300)))


def _shown(pred: Prediction, i: int, multi_person: bool) -> np.ndarray:
    """``(K,)`` bool: the keypoints of instance ``i`` that are drawn (a NaN keypoint of diverged weights is not; nor,
    for a multi-person run, a missing one, score 0)."""
    shown = pred.scores[i] > 0 if multi_person and pred.scores is not None else np.ones(pred.num_keypoints, bool)
    return shown & np.isfinite(pred.keypoints[i]).all(-1)


def legend_corner(pred: Prediction, anchors: bool = True, multi_person: bool = False) -> str:
    """The corner :func:`draw_prediction` draws the legend of ``pred`` in (``legend=True``): the one that covers the
    fewest drawn keypoints and anchors, bottom-left first among equals. A video's labelled frames take the corner of
    its first frame, so that the legend does not jump from corner to corner."""
    f = overlay_scale(pred.image_hw)
    drawn_hw = (int(pred.image_hw[0]) * f, int(pred.image_hw[1]) * f)
    marks = [np.zeros((0, 2))]
    for i in range(len(pred)):
        shown = _shown(pred, i, multi_person)
        marks.append(_fx(pred.keypoints[i][shown], f) / (1 << SHIFT))
        if anchors and pred.anchors is not None:
            marks.append(_fx(pred.anchors[i][shown], f) / (1 << SHIFT))
    return choose_corner(np.concatenate(marks), drawn_hw, _thickness(drawn_hw), pred.scores is not None)


def _keypoint_mark(out: np.ndarray, p: np.ndarray, col: tuple[int, int, int], r: int, t: int, nan: bool,
                   outside: bool) -> None:
    """A keypoint at fixed-point ``p``: a dot outlined in black (a magenta x for a score that is not finite); a keypoint
    ``outside`` the image, whose dot was not drawn at all, as a triangle inside the border pointing to it (one inside
    the image near its edge keeps its dot, cut by the edge)."""
    h, w = out.shape[:2]
    if outside:
        c = np.clip(p, np.array([r, r]) << SHIFT, np.array([w - 1 - r, h - 1 - r]) << SHIFT)
        d = (p - c).astype(np.float64)
        d /= max(float(np.hypot(*d)), 1e-9)
        size = (2 * r + 1) << SHIFT
        tri = np.stack([c + d * size, c - d * size / 2 + d[::-1] * [-1, 1] * size / 2,
                        c - d * size / 2 - d[::-1] * [-1, 1] * size / 2]).round().astype(np.int32)
        cv2.fillPoly(out, [tri.reshape(-1, 1, 2)], col, cv2.LINE_AA, SHIFT)
        cv2.polylines(out, [tri.reshape(-1, 1, 2)], True, (0, 0, 0), 1, cv2.LINE_AA, SHIFT)
    elif nan:
        q = (int(p[0]) >> SHIFT, int(p[1]) >> SHIFT)
        cv2.drawMarker(out, q, (0, 0, 0), cv2.MARKER_TILTED_CROSS, 2 * r + 3, t + 2, cv2.LINE_AA)
        cv2.drawMarker(out, q, col, cv2.MARKER_TILTED_CROSS, 2 * r + 2, t, cv2.LINE_AA)
    else:
        cv2.circle(out, _pt(p), r << SHIFT, col, -1, cv2.LINE_AA, SHIFT)
        cv2.circle(out, _pt(p), r << SHIFT, (0, 0, 0), 1, cv2.LINE_AA, SHIFT)


def _draw_anchors(out: np.ndarray, pred: Prediction, i: int, shown: np.ndarray, stride: int | None, f: int,
                  t: int) -> None:
    """Instance ``i``'s arrows from anchor to keypoint (and with ``stride`` each anchor's cell) onto ``out``, drawn
    at scale ``f`` with line thickness ``t``; ``shown``: the keypoint indices drawn."""
    kp, an, r = _fx(pred.keypoints[i], f), _fx(pred.anchors[i], f), 2 * t + 1
    for j in shown:
        if stride:
            cell = _fx(_anchor_cell(pred.anchors[i, j], pred.affines[i], stride), f)
            cv2.polylines(out, [cell.reshape(-1, 1, 2).astype(np.int32)], True, ANCHOR_RGB, max(1, t // 2),
                          cv2.LINE_AA, SHIFT)
        length = float(np.hypot(*(kp[j] - an[j]))) / (1 << SHIFT)
        if length > 0:  # an anchor on its keypoint has no arrow (OpenCV 5 refuses a zero tip length)
            cv2.arrowedLine(out, _pt(an[j]), _pt(kp[j]), ANCHOR_RGB, max(1, t // 2), cv2.LINE_AA, SHIFT,
                            min(0.5, 3.0 * r / length))


def save_png(img: np.ndarray, path: Any) -> None:
    """An overlay written as a PNG (fast compression), whole or not at all (:mod:`adaanchor.atomic`: a predict
    killed while writing one left it cut short under its name, and a rerun counted it as an earlier output); an
    unwritable path is an AdaAnchorError naming it."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", optimize=False, compress_level=3)
    try:
        write_bytes_atomic(path, buf.getvalue())
    except OSError as e:
        raise AdaAnchorError(f"{path}: cannot write ({e.strerror or e})") from None


__all__ = ["SHIFT", "SKELETON_RGB", "ANCHOR_RGB", "BOX_RGB", "NO_SCORE_RGB", "NAN_SCORE_RGB", "PERSON_RGB", "MIN_SIDE",
           "confidence_lut", "confidence_rgb", "overlay_scale", "check_skeleton", "draw_prediction", "legend_corner",
           "save_png"]
