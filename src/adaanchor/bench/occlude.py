"""Occlusion compositor: paste synthetic occluders over an object and mark the keypoints they hide.

One transform for any keypoint dataset (faces with 68 points, COCO's 17, hands...). It works on uint8
``(H, W, 3)`` images and on keypoints in input pixels with the pixel-centre convention of docs/conventions.md;
it never moves a keypoint, it only lowers the visibility of labelled ones that end up under an occluder
(``v = 2 -> 1``; ``v = 1`` stays 1; ``v = 0`` stays 0). Shapes and textures come from
:mod:`adaanchor.bench.textures`, shared with the synthetic benchmark.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Real

import numpy as np

from ..errors import AdaAnchorError, unknown_name_error
from .textures import Shape, clip_box, grid, paint, random_shape, random_texture, shape_area, shape_mask, to_uint8

OCCLUDER_KINDS = ("polygon", "ellipse", "rectangle", "blob", "patch")
OCCLUDE_DEFAULTS = {"coverage": 0.25, "count": (1, 3), "kinds": ("polygon", "ellipse", "blob", "patch"), "p": 1.0}

PatchSource = Callable[[np.random.Generator], np.ndarray]


def _scaled(shape: Shape, f: float, cx: float, cy: float) -> Shape:
    """``shape`` scaled by ``f`` about ``(cx, cy)``; scaling a drawn shape keeps its look while its area is tuned."""
    c = np.array([cx, cy])
    return Shape(shape.kind, c + f * (shape.pts - c), shape.r * f, (shape.axes[0] * f, shape.axes[1] * f), shape.angle,
                 [_scaled(p, f, cx, cy) for p in shape.parts])


def mark_occluded(keypoints: np.ndarray, visibility: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Visibility after occlusion: labelled keypoints (v > 0) whose pixel is True in ``mask`` (H, W) become 1.

    ``keypoints`` (..., 2) float (x, y); ``visibility`` (...) int. The pixel of ``(x, y)`` is
    ``(row round(y), col round(x))``; keypoints outside the image or not finite keep their visibility.
    Returns a new array of the same dtype.
    """
    out = np.array(visibility, copy=True)
    h, w = mask.shape
    with np.errstate(invalid="ignore"):
        col, row = np.floor(keypoints[..., 0] + 0.5), np.floor(keypoints[..., 1] + 0.5)
    inside = np.isfinite(col) & np.isfinite(row) & (col >= 0) & (col < w) & (row >= 0) & (row < h) & (out > 0)
    hit = np.zeros(out.shape, bool)
    hit[inside] = mask[row[inside].astype(np.int64), col[inside].astype(np.int64)]
    out[hit] = 1
    return out


def default_bbox(keypoints: np.ndarray, visibility: np.ndarray, pad: float = 0.1) -> np.ndarray | None:
    """``[x, y, w, h]`` extent of the labelled, finite keypoints of one instance ``(K, 2)``, grown by ``pad`` of
    its size on each side (at least 4 px, so one or two points still give an area); None if none is labelled."""
    pts = keypoints[(visibility > 0) & np.isfinite(keypoints).all(-1)]
    if len(pts) == 0:
        return None
    lo, hi = pts.min(0), pts.max(0)
    grow = np.maximum(pad * (hi - lo), 4.0)
    return np.concatenate([lo - grow, hi - lo + 2 * grow]).astype(np.float64)


class Occluder:
    """Paste occluders over the object so that roughly ``coverage`` of its box area is covered.

    Kinds: textured random ``polygon``, ``ellipse`` and ``rectangle`` shapes, hand/held-object-like ``blob``
    shapes, and ``patch``: a rectangle or ellipse cut from another image given by ``patch_source(rng)`` (an
    (H, W, 3) uint8 image; it gets the occluder's rng, so a deterministic source keeps seeded runs repeatable),
    pasted with that image's own texture. Without ``patch_source``, ``patch`` falls back to a textured polygon.

    Coverage is approximate: each occluder is centred near a random labelled keypoint or a random point of the
    box, then rescaled (a few rasterisations) so that its *new* pixels inside the box match its share of the
    remaining target; occluders are added until the covered fraction, measured on the mask, reaches the target
    or ``count[1]`` occluders were pasted. The result usually lands within a few percent of the target, above
    it when the last occluder overshoots, below it when ``count[1]`` occluders could not reach it. The fraction
    is measured over the pixels of the box that lie inside the image. Very high coverage (> 0.6) with only
    irregular polygons tends to fall short.

    Randomness: with ``seed`` given, sample ``index`` is occluded the same way every time, whatever happened
    before (evaluation). With ``seed=None`` the numpy global RNG is used, which the data loader seeds per
    worker (training augmentation). An ``rng`` passed to the call takes precedence over both.

    ``count`` is ``(min, max)`` occluders per instance (an int means exactly that many planned), ``p`` the
    probability that a sample is occluded at all.
    """

    def __init__(self, coverage: float = 0.25, count: int | Sequence[int] = (1, 3),
                 kinds: str | Sequence[str] = OCCLUDE_DEFAULTS["kinds"], p: float = 1.0, seed: int | None = None,
                 patch_source: PatchSource | None = None):
        if not (isinstance(coverage, Real) and 0.0 <= coverage < 1.0):
            raise AdaAnchorError(f"occluder coverage must be a number in [0, 1), got {coverage!r}")
        try:
            lo, hi = (count, count) if np.isscalar(count) else tuple(count)
            ok = int(lo) == lo and int(hi) == hi and 1 <= lo <= hi
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise AdaAnchorError(f"occluder count must be an int >= 1 or a pair (min, max), 1 <= min <= max; "
                                 f"got {count!r}")
        kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
        if not kinds:
            raise AdaAnchorError(f"occluder kinds must not be empty; valid: {', '.join(OCCLUDER_KINDS)}")
        for k in kinds:
            if k not in OCCLUDER_KINDS:
                raise unknown_name_error("occluder kind", str(k), OCCLUDER_KINDS)
        if not (isinstance(p, Real) and 0.0 <= p <= 1.0):
            raise AdaAnchorError(f"occluder probability p must be in [0, 1], got {p}")
        if seed is not None and not (isinstance(seed, (int, np.integer)) and seed >= 0):
            raise AdaAnchorError(f"occluder seed must be a non-negative int or None, got {seed}")
        if patch_source is not None and not callable(patch_source):
            raise AdaAnchorError(f"occluder patch_source must be a callable rng -> image, got {type(patch_source)}")
        self.coverage, self.count, self.kinds, self.p = float(coverage), (int(lo), int(hi)), kinds, float(p)
        self.seed, self.patch_source = seed, patch_source

    def __repr__(self) -> str:
        return (f"Occluder(coverage={self.coverage}, count={self.count}, kinds={self.kinds}, p={self.p}, "
                f"seed={self.seed}, patch_source={'yes' if self.patch_source else None})")

    def _rng(self, index: int, rng: np.random.Generator | None) -> np.random.Generator:
        if rng is not None:
            return rng
        if self.seed is not None:
            if int(index) != index or index < 0:
                raise AdaAnchorError(f"occluder sample index must be a non-negative int, got {index}")
            # Keyed on (seed, index) only, so a sample's occlusion does not depend on loading order or workers.
            return np.random.default_rng([self.seed, int(index)])
        # Draw the key from the global RNG so that np.random.seed (which torch's DataLoader calls in each worker)
        # controls it.
        return np.random.default_rng(np.random.randint(0, 2**31 - 1, size=4))

    def __call__(self, image: np.ndarray, keypoints: np.ndarray, visibility: np.ndarray, bbox: np.ndarray | None = None,
                 index: int = 0, rng: np.random.Generator | None = None,
                 return_mask: bool = False) -> tuple[np.ndarray, ...]:
        """Occlude one image.

        ``image`` (H, W, 3) uint8; ``keypoints`` (K, 2) or (N, K, 2) float (x, y) in pixels; ``visibility``
        (K,) or (N, K) int in {0, 1, 2}; ``bbox`` ``[x, y, w, h]`` shared by all instances, or (N, 4) one per
        instance (default: per instance, the extent of its labelled keypoints padded 10% on each side; instances
        with no labelled keypoint, e.g. padding, get no occluder).

        Returns ``(image, keypoints, visibility)``, plus the boolean (H, W) occluder mask when ``return_mask``:
        a new image (the input is untouched), an equal copy of the keypoints (never moved), and visibility where
        each labelled keypoint whose rounded pixel is covered becomes 1.
        """
        image, kp, vis = self._check(image, keypoints, visibility)
        h, w = image.shape[:2]
        n = kp.shape[0] if kp.ndim == 3 else 1
        inst_kp, inst_vis = kp.reshape(n, *kp.shape[-2:]), vis.reshape(n, vis.shape[-1])
        boxes = self._boxes(bbox, inst_kp, inst_vis)
        gen = self._rng(index, rng)
        mask = np.zeros((h, w), bool)
        canvas = None
        if self.coverage > 0 and gen.random() < self.p:
            canvas = image.astype(np.float32)
            for box, ikp, ivis in zip(boxes, inst_kp, inst_vis):
                if box is not None:
                    self._occlude_instance(gen, canvas, mask, box, ikp[ivis > 0])
        out = to_uint8(canvas) if canvas is not None else image.copy()
        result = (out, kp.copy(), mark_occluded(kp, vis, mask))
        return (*result, mask) if return_mask else result

    @staticmethod
    def _check(image, keypoints, visibility) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        image, kp, vis = np.asarray(image), np.asarray(keypoints, dtype=np.float64), np.asarray(visibility)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise AdaAnchorError(f"occluder expects an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
        if kp.ndim not in (2, 3) or kp.shape[-1] != 2:
            raise AdaAnchorError(f"occluder keypoints must be (K, 2) or (N, K, 2), got shape {kp.shape}")
        if vis.shape != kp.shape[:-1]:
            raise AdaAnchorError(f"occluder visibility shape {vis.shape} does not match keypoints {kp.shape}: "
                                 f"expected {kp.shape[:-1]}")
        if vis.size and not np.isin(vis, (0, 1, 2)).all():
            raise AdaAnchorError(f"occluder visibility values must be 0, 1 or 2, got {np.unique(vis).tolist()}")
        return image, np.asarray(keypoints).copy(), vis

    @staticmethod
    def _boxes(bbox, inst_kp: np.ndarray, inst_vis: np.ndarray) -> list[np.ndarray | None]:
        if bbox is None:
            return [default_bbox(k.astype(np.float64), v) for k, v in zip(inst_kp, inst_vis)]
        b = np.asarray(bbox, dtype=np.float64)
        if b.shape == (4,):
            b = np.broadcast_to(b, (len(inst_kp), 4))
        if b.shape != (len(inst_kp), 4):
            raise AdaAnchorError(f"occluder bbox must be [x, y, w, h] or ({len(inst_kp)}, 4), got shape {b.shape}")
        return [row if row[2] > 0 and row[3] > 0 else None for row in b]

    def _occlude_instance(self, rng: np.random.Generator, canvas: np.ndarray, mask: np.ndarray, box: np.ndarray,
                          pts: np.ndarray) -> None:
        h, w = mask.shape
        x, y, bw, bh = box
        pix = clip_box((x, y, x + bw, y + bh), w, h)
        if pix is None:
            return
        x0, y0, x1, y1 = pix
        target = self.coverage * (x1 - x0) * (y1 - y0)
        pts = pts[np.isfinite(pts).all(-1) & (pts >= (x, y)).all(-1) & (pts <= (x + bw, y + bh)).all(-1)]
        planned = int(rng.integers(self.count[0], self.count[1] + 1))
        for i in range(self.count[1]):
            covered = int(mask[y0:y1, x0:x1].sum())
            # 2% slack: chasing the last few pixels would only add slivers of occluders.
            if covered >= 0.98 * target:
                break
            need = (target - covered) / max(planned - i, 1)
            for _ in range(4):
                if len(pts) and rng.random() < 0.5:
                    cx, cy = pts[rng.integers(len(pts))] + rng.normal(0, 0.05, 2) * (bw, bh)
                else:
                    cx, cy = x + rng.uniform(0, bw), y + rng.uniform(0, bh)
                # A centre on an earlier occluder gains pixels only at the rim once grown: try another one.
                r, c = int(np.floor(cy + 0.5)), int(np.floor(cx + 0.5))
                if not (0 <= r < h and 0 <= c < w and mask[r, c]):
                    break
            kind = base = str(rng.choice(self.kinds))
            if kind == "patch":  # a rectangle or ellipse cut from another image; a textured polygon without a source
                base = str(rng.choice(("rectangle", "ellipse"))) if self.patch_source is not None else "polygon"
            shape = self._fit(rng, base, float(cx), float(cy), need, mask, pix, max(bw, bh))
            if shape is not None:
                self._paste(rng, kind, shape, canvas, mask)

    @staticmethod
    def _fit(rng, base, cx, cy, need, mask, pix, longest) -> Shape | None:
        """Draw a ``base`` shape near ``(cx, cy)``; rescale it until its new pixels inside ``pix`` are about ``need``.

        The gain is not proportional to the area (parts fall outside the box or on earlier occluders), so the
        scale is corrected from the measured gain a few times instead of computed once from the area.
        """
        size0 = float(np.sqrt(need)) * 1.3
        for _ in range(4):
            shape0 = random_shape(rng, base, cx, cy, size0)
            ex = shape0.extent()
            # Random polygons whose vertices bunch on one side are slivers that cannot cover much: redraw.
            if base != "polygon" or shape_area(shape0) >= 0.3 * (ex[2] - ex[0]) * (ex[3] - ex[1]):
                break
        # Scale about the middle of the drawn shape: a random polygon need not contain (cx, cy), and scaling it
        # about that point would push it away from the object.
        e0 = shape0.extent()
        mx, my = (e0[0] + e0[2]) / 2, (e0[1] + e0[3]) / 2
        f, best, best_err = 1.0, None, np.inf
        for _ in range(6):
            shape = _scaled(shape0, f, mx, my)
            ex = shape.extent()
            # Only the part inside the object's box counts, so rasterise just there.
            ib = clip_box((max(ex[0], pix[0] - 0.5), max(ex[1], pix[1] - 0.5), min(ex[2], pix[2] - 0.5),
                           min(ex[3], pix[3] - 0.5)), mask.shape[1], mask.shape[0])
            gain = 0
            if ib is not None:
                gain = int((shape_mask(shape, *grid(ib))[0] & ~mask[ib[1]:ib[3], ib[0]:ib[2]]).sum())
            # Overshooting costs twice as much as falling short: a later occluder can fill a shortfall.
            err = max(need - gain, 2 * (gain - need)) / need
            if gain > 0 and err < best_err:
                best, best_err = shape, err
            if err < 0.08:
                break
            # Area grows with f^2; clamp the step, and never grow an occluder past ~2x the object's size.
            f *= float(np.clip(np.sqrt(need / max(gain, 1.0)), 0.5, 2.0))
            f = min(f, 2.0 * longest / size0)
        return best if best_err <= 2.0 else None  # None: more than twice the need, skip this occluder

    def _paste(self, rng: np.random.Generator, kind: str, shape: Shape, canvas: np.ndarray, mask: np.ndarray) -> None:
        h, w = mask.shape
        if kind == "patch" and self.patch_source is not None:
            sb = clip_box(shape.extent(), w, h)
            if sb is None:
                return
            m = shape_mask(shape, *grid(sb))[0]
            src = np.asarray(self.patch_source(rng))
            if src.ndim != 3 or src.shape[2] != 3 or src.size == 0:
                raise AdaAnchorError(f"occluder patch_source must return an (H, W, 3) image, got shape {src.shape}")
            # Random offset into the source; indices wrap so that a source smaller than the patch still works.
            oy, ox = rng.integers(src.shape[0]), rng.integers(src.shape[1])
            rows = (np.arange(sb[1], sb[3]) + oy) % src.shape[0]
            cols = (np.arange(sb[0], sb[2]) + ox) % src.shape[1]
            canvas[sb[1]:sb[3], sb[0]:sb[2]][m] = src[rows[:, None], cols[None, :]][m].astype(np.float32)
        else:
            ex = shape.extent()
            size = max(ex[2] - ex[0], ex[3] - ex[1])
            shading = 0.35 if kind == "blob" else float(rng.uniform(0.0, 0.3))
            res = paint(canvas, shape, random_texture(rng, scale=size), rng, shading=shading)
            if res is None:
                return
            sb, m = res
        mask[sb[1]:sb[3], sb[0]:sb[2]] |= m
