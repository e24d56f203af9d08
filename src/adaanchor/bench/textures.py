"""Procedural textures and shape masks shared by the synthetic benchmark and the occlusion compositor.

Everything here follows the pixel-centre convention of docs/conventions.md: pixel ``(row i, col j)`` is
covered by a shape when its centre ``(x=j, y=i)`` lies inside the shape. Shapes are rasterised only on their
own clipped bounding box (a :data:`Box`), which keeps small images fast: numpy's per-call overhead, not the
pixel count, dominates at 96x72.

Images are painted as float32 ``(H, W, 3)`` arrays in ``[0, 255]`` and converted to uint8 once at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Box = tuple[int, int, int, int]
"""Integer pixel box ``(x0, y0, x1, y1)``, end-exclusive, inside the image."""

SHAPE_KINDS = ("polygon", "ellipse", "rectangle", "blob")
TEXTURE_KINDS = ("flat", "stripes", "checker", "gradient", "blotch")


@dataclass
class Shape:
    """A filled shape in image pixels.

    ``kind`` is ``capsule`` (``pts`` (2,2) end points, ``r`` radius), ``ellipse`` (``pts`` (1,2) centre,
    ``axes`` (a, b), ``angle`` radians), ``polygon`` (``pts`` (P,2) vertices in order) or ``union``
    (``parts``: list of shapes).
    """

    kind: str
    pts: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    r: float = 0.0
    axes: tuple[float, float] = (0.0, 0.0)
    angle: float = 0.0
    parts: list[Shape] = field(default_factory=list)

    def extent(self) -> tuple[float, float, float, float]:
        """Float bounding box ``(x0, y0, x1, y1)`` of the shape."""
        if self.kind == "union":
            ex = np.array([p.extent() for p in self.parts])
            return ex[:, 0].min(), ex[:, 1].min(), ex[:, 2].max(), ex[:, 3].max()
        if self.kind == "ellipse":
            a, b = self.axes
            c, s = np.cos(self.angle), np.sin(self.angle)
            hx, hy = np.hypot(a * c, b * s), np.hypot(a * s, b * c)
            (cx, cy) = self.pts[0]
            return cx - hx, cy - hy, cx + hx, cy + hy
        lo, hi = self.pts.min(0) - self.r, self.pts.max(0) + self.r
        return lo[0], lo[1], hi[0], hi[1]


def clip_box(extent: tuple[float, float, float, float], width: int, height: int) -> Box | None:
    """Pixels whose centres can fall inside ``extent``, clipped to a ``width x height`` image; None if empty."""
    x0, y0 = max(int(np.ceil(extent[0])), 0), max(int(np.ceil(extent[1])), 0)
    x1, y1 = min(int(np.floor(extent[2])) + 1, width), min(int(np.floor(extent[3])) + 1, height)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def grid(box: Box) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates of a box: ``xs`` (1, w) and ``ys`` (h, 1), float32, broadcastable."""
    x0, y0, x1, y1 = box
    return (np.arange(x0, x1, dtype=np.float32)[None, :], np.arange(y0, y1, dtype=np.float32)[:, None])


def shape_mask(shape: Shape, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise ``shape`` on a grid: boolean mask ``(h, w)`` and a shading term ``(h, w)`` in [0, 1].

    The shading is the normalised distance from the shape's axis or centre (0 on it, 1 at the rim): painting
    ``1 - k * shade**2`` gives limbs and blobs a rounded look and makes overlapping parts distinguishable.
    """
    if shape.kind == "capsule":
        (ax, ay), (bx, by) = shape.pts
        dx, dy = bx - ax, by - ay
        t = np.clip(((xs - ax) * dx + (ys - ay) * dy) / max(dx * dx + dy * dy, 1e-9), 0.0, 1.0)
        d2 = (xs - ax - t * dx) ** 2 + (ys - ay - t * dy) ** 2
        q = d2 / max(shape.r * shape.r, 1e-9)
        return q <= 1.0, np.sqrt(np.minimum(q, 1.0))
    if shape.kind == "ellipse":
        (cx, cy), (a, b) = shape.pts[0], shape.axes
        c, s = np.cos(shape.angle), np.sin(shape.angle)
        u, v = (xs - cx) * c + (ys - cy) * s, (ys - cy) * c - (xs - cx) * s
        q = (u / max(a, 1e-6)) ** 2 + (v / max(b, 1e-6)) ** 2
        return q <= 1.0, np.sqrt(np.minimum(q, 1.0))
    if shape.kind == "polygon":
        return polygon_mask(shape.pts, xs, ys), np.zeros(np.broadcast_shapes(xs.shape, ys.shape), np.float32)
    if shape.kind == "union":
        mask, shade = None, None
        for part in shape.parts:
            m, sh = shape_mask(part, xs, ys)
            mask = m if mask is None else mask | m
            # Inside the union the shade is the smallest over the parts that cover the pixel.
            sh = np.where(m, sh, 1.0)
            shade = sh if shade is None else np.minimum(shade, sh)
        return mask, np.where(mask, shade, 0.0)
    raise ValueError(f"unknown shape kind {shape.kind}")


def polygon_mask(pts: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon test for ``pts`` (P, 2) on a grid; returns a boolean ``(h, w)`` mask."""
    xi, yi = pts[:, 0, None, None], pts[:, 1, None, None]
    xj, yj = np.roll(xi, -1, axis=0), np.roll(yi, -1, axis=0)
    crosses = (yi > ys) != (yj > ys)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = xi + (ys - yi) * (xj - xi) / (yj - yi)
    return np.logical_xor.reduce(crosses & (xs < x_at), axis=0)


def random_shape(rng: np.random.Generator, kind: str, cx: float, cy: float, size: float) -> Shape:
    """A random occluder of roughly ``size`` pixels across, centred near ``(cx, cy)``.

    Kinds: ``polygon`` (star-shaped, 3-8 vertices), ``ellipse``, ``rectangle`` (rotated) and ``blob``
    (a palm-like ellipse with finger-like capsules: a hand or a held object).
    """
    half = size / 2.0
    if kind == "polygon":
        n = int(rng.integers(3, 9))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = half * rng.uniform(0.55, 1.0, n)
        return Shape("polygon", np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1))
    if kind == "ellipse":
        axes = (half * rng.uniform(0.6, 1.0), half * rng.uniform(0.35, 1.0))
        return Shape("ellipse", np.array([[cx, cy]]), axes=axes, angle=rng.uniform(0, np.pi))
    if kind == "rectangle":
        a, b, t = half * rng.uniform(0.6, 1.0), half * rng.uniform(0.3, 1.0), rng.uniform(0, np.pi)
        corners = np.array([[-a, -b], [a, -b], [a, b], [-a, b]])
        rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
        return Shape("polygon", corners @ rot.T + [cx, cy])
    if kind == "blob":
        t = rng.uniform(0, 2 * np.pi)
        palm = Shape("ellipse", np.array([[cx, cy]]), axes=(half * 0.55, half * 0.45), angle=t)
        parts = [palm]
        for _ in range(int(rng.integers(2, 6))):
            a = t + rng.uniform(-0.9, 0.9)
            base = np.array([cx, cy]) + 0.35 * half * np.array([np.cos(a), np.sin(a)])
            tip = base + half * rng.uniform(0.45, 0.75) * np.array([np.cos(a), np.sin(a)])
            parts.append(Shape("capsule", np.stack([base, tip]), r=half * rng.uniform(0.1, 0.17)))
        return Shape("union", parts=parts)
    raise ValueError(f"unknown occluder kind {kind}")


def shape_area(shape: Shape) -> float:
    """Approximate area in pixels^2 (exact for ellipses and polygons; a union counts overlaps once roughly)."""
    if shape.kind == "ellipse":
        return float(np.pi * shape.axes[0] * shape.axes[1])
    if shape.kind == "polygon":
        x, y = shape.pts[:, 0], shape.pts[:, 1]
        return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)
    if shape.kind == "capsule":
        return float(np.pi * shape.r**2 + 2 * shape.r * np.linalg.norm(shape.pts[1] - shape.pts[0]))
    # Fingers overlap the palm near their base: count them at about three quarters.
    return shape_area(shape.parts[0]) + 0.75 * sum(shape_area(p) for p in shape.parts[1:])


def random_color(rng: np.random.Generator) -> np.ndarray:
    """A random RGB colour, float32 (3,) in [0, 255]."""
    return rng.uniform(0, 255, 3).astype(np.float32)


@dataclass
class Texture:
    """Parameters of a procedural texture; evaluated in absolute image coordinates so that several shapes
    sharing one texture (the sleeves and the front of a shirt) look continuous."""

    kind: str
    c1: np.ndarray
    c2: np.ndarray
    period: float
    angle: float
    phase: float
    noise: float
    cells: np.ndarray  # (16, 16) float32 cell weights of the blotch texture


def random_texture(rng: np.random.Generator, scale: float = 1.0, kinds: tuple[str, ...] = TEXTURE_KINDS) -> Texture:
    """Draw texture parameters; ``scale`` (pixels) sets the typical period of stripes and checks."""
    c1 = random_color(rng)
    c2 = np.clip(c1 + rng.normal(0, 70, 3), 0, 255).astype(np.float32) if rng.random() < 0.5 else random_color(rng)
    return Texture(str(rng.choice(kinds)), c1, c2, float(scale * rng.uniform(0.15, 0.6) + 2),
                   float(rng.uniform(0, np.pi)), float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(2, 18)),
                   rng.random((16, 16), dtype=np.float32))


def eval_texture(tex: Texture, xs: np.ndarray, ys: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colours of ``tex`` on a grid: float32 ``(h, w, 3)`` in about [0, 255] (clipped when converted)."""
    u = xs * np.cos(tex.angle) + ys * np.sin(tex.angle)
    if tex.kind == "stripes":
        w = (np.sin(u * (2 * np.pi / tex.period) + tex.phase) > 0).astype(np.float32)
    elif tex.kind == "checker":
        v = ys * np.cos(tex.angle) - xs * np.sin(tex.angle)
        w = ((np.floor(u / tex.period) + np.floor(v / tex.period)) % 2).astype(np.float32)
    elif tex.kind == "gradient":
        w = 0.5 + 0.5 * np.sin(u * (np.pi / (6 * tex.period)) + tex.phase)
    elif tex.kind == "blotch":
        # Blocky random cells stored with the texture, so shapes sharing it agree where they meet.
        cell = max(int(tex.period), 2)
        w = tex.cells[(ys.astype(np.int64) // cell) % 16, (xs.astype(np.int64) // cell) % 16]
    else:
        w = np.zeros(np.broadcast_shapes(xs.shape, ys.shape), np.float32)
    w = np.broadcast_to(w, np.broadcast_shapes(xs.shape, ys.shape))[..., None]
    out = tex.c1 + (tex.c2 - tex.c1) * w
    noise = rng.standard_normal(out.shape[:2], dtype=np.float32)[..., None] * tex.noise
    return out + noise


def paint(img: np.ndarray, shape: Shape, tex: Texture, rng: np.random.Generator, label: np.ndarray | None = None,
          layer: int = 0, shading: float = 0.35) -> tuple[Box, np.ndarray] | None:
    """Paint ``shape`` filled with ``tex`` onto ``img`` (H, W, 3) float32 in place.

    When ``label`` (H, W) is given, the covered pixels are set to ``layer`` there: the label map records which
    layer owns each pixel, i.e. which one was painted last. Returns the box and its boolean mask (h, w), or
    None when the shape misses the image.
    """
    box = clip_box(shape.extent(), img.shape[1], img.shape[0])
    if box is None:
        return None
    xs, ys = grid(box)
    mask, shade = shape_mask(shape, xs, ys)
    if not mask.any():
        return None
    x0, y0, x1, y1 = box
    colours = eval_texture(tex, xs, ys, rng) * (1.0 - shading * shade * shade)[..., None]
    region = img[y0:y1, x0:x1]
    region[mask] = colours[mask]
    if label is not None:
        label[y0:y1, x0:x1][mask] = layer
    return box, mask


def background(rng: np.random.Generator, width: int, height: int, clutter: int) -> np.ndarray:
    """A cluttered background: a textured base plus ``clutter`` random textured shapes. Returns (H, W, 3) float32."""
    img = np.empty((height, width, 3), np.float32)
    full = Shape("polygon", np.array([[-1, -1], [width, -1], [width, height], [-1, height]], np.float64))
    paint(img, full, random_texture(rng, scale=max(width, height) / 3), rng, shading=0.0)
    for _ in range(clutter):
        size = rng.uniform(0.1, 0.6) * min(width, height)
        shape = random_shape(rng, str(rng.choice(SHAPE_KINDS)), rng.uniform(0, width), rng.uniform(0, height), size)
        paint(img, shape, random_texture(rng, scale=size), rng, shading=float(rng.uniform(0, 0.4)))
    return img


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Clip and round a float painting to uint8 ``(H, W, 3)``."""
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)
