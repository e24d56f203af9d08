"""Random articulated human poses with the COCO-17 skeleton, for the synthetic occlusion benchmark.

A pose is built in 3-D, in units of the standing body height (crown to floor = 1), and seen by an orthographic
camera: ``x`` to the right, ``y`` down, ``z`` away from the camera. Building it in 3-D rather than drawing a
2-D stick figure makes the self-occlusion physical: a profile view hides the far arm behind the torso, a back
view hides the face, and the parts are painted far-to-near (painter's algorithm on each part's mean depth).

The result is a :class:`Figure`: the 17 keypoints in the image plane, one :class:`BodyPart` per label-map
layer (a shape plus the clothing role that picks its texture), and the face keypoints that lie on the far
side of the head.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from adaanchor.bench.synth_pose_3d import (  # noqa: F401 - the joint indices are re-exported
    DEG,
    L_ANK,
    L_EAR,
    L_ELB,
    L_EYE,
    L_HIP,
    L_KNE,
    L_SHO,
    L_WRI,
    NOSE,
    R_ANK,
    R_EAR,
    R_ELB,
    R_EYE,
    R_HIP,
    R_KNE,
    R_SHO,
    R_WRI,
    Axes,
    Capsule,
    Head,
    K,
    pose_arms,
    pose_head,
    pose_legs,
    sample_axes,
    unit,
)
from adaanchor.bench.textures import Shape

PARTS = ("torso", "neck", "head", "l_upper_arm", "l_forearm", "l_hand", "r_upper_arm", "r_forearm", "r_hand",
         "l_thigh", "l_shin", "l_foot", "r_thigh", "r_shin", "r_foot")
LAYER = {name: i + 1 for i, name in enumerate(PARTS)}
"""Label-map layer id of each body part; 0 is the background (clutter included)."""

_OWNER_NAMES = (("head",),) * 5 + tuple(
    (a.format(s), b.format(s)) for a, b in (("torso", "{}_upper_arm"), ("{}_upper_arm", "{}_forearm"),
                                            ("{}_forearm", "{}_hand"), ("torso", "{}_thigh"),
                                            ("{}_thigh", "{}_shin"), ("{}_shin", "{}_foot")) for s in "lr")
OWNERS: tuple[frozenset[int], ...] = tuple(frozenset(LAYER[n] for n in names) for names in _OWNER_NAMES)
"""For each COCO keypoint, the layers of the parts that meet at it; covered by any other layer, it is occluded."""


@dataclass
class BodyPart:
    """One label-map layer: ``shape`` filled with the texture of ``role`` (``skin``, ``shirt``, ``sleeve``,
    ``forearm``, ``trousers``, ``lower_leg``, ``shoes``), then ``features`` (shape, role) painted on the same
    layer (hair, ears, eyes and nose on the head). ``depth`` is the mean camera distance, for the painting order."""

    name: str
    shape: Shape
    role: str
    depth: float
    features: list[tuple[Shape, str]] = field(default_factory=list)


@dataclass
class Figure:
    """A posed person in the image plane.

    Attributes:
        keypoints: ``(17, 2)`` float64 ``(x, y)``, COCO order.
        hidden: ``(17,)`` bool, face keypoints on the far side of the head (occluded by the head itself).
        parts: body parts in painting order, farthest first.
        height: length of the standing body height in the same units as ``keypoints``.
    """

    keypoints: np.ndarray
    hidden: np.ndarray
    parts: list[BodyPart]
    height: float = 1.0

    def extent(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)`` of everything drawn, keypoints included."""
        ex = np.array([s.extent() for p in self.parts for s in [p.shape] + [f for f, _ in p.features]])
        lo = np.minimum(ex[:, :2].min(0), self.keypoints.min(0))
        hi = np.maximum(ex[:, 2:].max(0), self.keypoints.max(0))
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])

    def placed(self, scale: float, offset: np.ndarray, min_radius: float = 0.0) -> Figure:
        """The figure scaled by ``scale`` then shifted by ``offset`` (2,). Radii below ``min_radius`` are raised
        to it, so that thin parts and facial features still cover the pixel of their keypoint."""

        def tf(s: Shape) -> Shape:
            r = max(s.r * scale, min_radius) if s.kind == "capsule" else 0.0
            return Shape(s.kind, s.pts * scale + offset, r, (s.axes[0] * scale, s.axes[1] * scale), s.angle,
                         [tf(p) for p in s.parts])

        parts = [BodyPart(p.name, tf(p.shape), p.role, p.depth, [(tf(f), role) for f, role in p.features])
                 for p in self.parts]
        return Figure(self.keypoints * scale + offset, self.hidden.copy(), parts, self.height * scale)


def sample_figure(rng: np.random.Generator) -> Figure:
    """A random pose in height units, centred near the origin. Mostly standing/walking people facing anywhere
    from profile to profile through the front, some back views, crouches and raised arms.

    The helpers draw from ``rng`` in a fixed order (the benchmark's images depend on it): mode, facing and trunk,
    arms, legs, head, image-plane roll, painting-order jitter, hair."""
    mode = rng.choice(4, p=[0.55, 0.2, 0.12, 0.13])  # stand, walk, crouch, arms up
    crouch, walk, arms_up = mode == 2, mode == 1, mode == 3
    axes = sample_axes(rng, crouch)
    kp3 = np.zeros((K, 3))  # the keypoints in 3-D, filled in by the helpers below
    capsules = pose_arms(rng, axes, kp3, arms_up, walk)
    capsules += pose_legs(rng, axes, kp3, crouch, walk)
    head = pose_head(rng, axes, kp3)
    proj = _image_plane(rng, kp3)
    body = _trunk_and_limbs(rng, proj, axes, capsules, head.neck_top)
    body.append(_head_part(rng, proj, kp3, head))
    body.sort(key=lambda p: -p.depth)  # farthest first
    return Figure(proj(kp3), head.hidden, body, 1.0)


def _image_plane(rng: np.random.Generator, kp3: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The projection of 3-D points ``(P, 3)`` (or one ``(3,)``) to the image plane ``(P, 2)``: the whole plane
    rolled by up to a few tens of degrees about the middle of the keypoints ``kp3`` ``(17, 3)``."""
    roll = rng.uniform(-30, 30) * DEG if rng.random() < 0.5 else rng.normal(0, 8) * DEG
    c, s_ = np.cos(roll), np.sin(roll)
    R2 = np.array([[c, -s_], [s_, c]])
    mid = kp3[:, :2].mean(0)

    def proj(p: np.ndarray) -> np.ndarray:
        return (np.atleast_2d(p)[:, :2] - mid) @ R2.T

    return proj


def _trunk_and_limbs(rng: np.random.Generator, proj: Callable[[np.ndarray], np.ndarray], a: Axes,
                     capsules: list[Capsule], neck_top: np.ndarray) -> list[BodyPart]:
    """The limbs, neck and torso as body parts in the image plane, each at its mean depth."""

    def jitter() -> float:  # parts at nearly the same depth go either way: a random painting order
        return float(rng.normal(0, 0.01))

    body: list[BodyPart] = []
    for name, ends, rad, role in capsules:
        depth = float(ends[:, 2].mean()) + jitter()
        body.append(BodyPart(name, Shape("capsule", proj(ends), r=rad * a.size), role, depth))
    body.append(BodyPart("neck", Shape("capsule", proj(np.stack([a.neck_base, neck_top])), r=0.032), "skin",
                         float(a.neck_base[2] + neck_top[2]) / 2 + jitter()))
    # Torso: the hull of a box from the shoulder line to the hips, so it keeps its depth in profile.
    corners = [a.neck_base - 0.02 * a.Ut + s * (0.135 * a.width * a.Ls) + b * 0.06 * a.Fs for s in (-1, 1)
               for b in (-1, 1)]
    corners += [s * (0.12 * a.width * a.L) + b * 0.055 * a.F for s in (-1, 1) for b in (-1, 1)]
    body.append(BodyPart("torso", Shape("polygon", convex_hull(proj(np.array(corners)))), "shirt",
                         float(a.neck_base[2]) / 2 + jitter()))
    return body


def _head_part(rng: np.random.Generator, proj: Callable[[np.ndarray], np.ndarray], kp3: np.ndarray,
               h: Head) -> BodyPart:
    """The head as a body part in the image plane, with hair (most people) and the ears, eyes and nose that face
    the camera."""
    centre, r = h.centre, h.r
    up2 = proj(centre + h.Uh)[0] - proj(centre)[0]
    angle = float(np.arctan2(up2[1], up2[0]) + np.pi / 2)  # the ellipse's first axis is across the face
    feats: list[tuple[Shape, str]] = []
    if rng.random() < 0.85:  # hair on the top and back of the head; some people have none
        feats.append((Shape("ellipse", proj(centre + 0.85 * r * h.Uh - 0.35 * r * h.Fh), axes=(1.0 * r, 0.6 * r),
                            angle=angle), "hair"))
    for k, role, rad in ((L_EAR, "ear", 0.24), (R_EAR, "ear", 0.24), (L_EYE, "eye", 0.17), (R_EYE, "eye", 0.17)):
        if not h.hidden[k]:
            feats.append((Shape("capsule", proj(np.stack([kp3[k], kp3[k]])), r=rad * r), role))
    if not h.hidden[NOSE]:
        feats.append((Shape("capsule", proj(np.stack([centre + 0.6 * r * unit(h.nose, h.Fh), kp3[NOSE]])),
                            r=0.14 * r), "nose"))
    return BodyPart("head", Shape("ellipse", proj(centre), axes=(r, 1.15 * r), angle=angle), "skin",
                    float(centre[2]) - 0.5 * r, feats)


def convex_hull(pts: np.ndarray) -> np.ndarray:
    """Convex hull of ``pts`` (P, 2) as vertices in order (monotone chain), ``(Q, 2)``."""
    p = sorted(map(tuple, pts.tolist()))

    def half(seq: list) -> list:
        out: list = []
        for q in seq:
            while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (q[1] - out[-2][1])
                                     - (out[-1][1] - out[-2][1]) * (q[0] - out[-2][0])) <= 0:
                out.pop()
            out.append(q)
        return out[:-1]

    return np.array(half(p) + half(p[::-1]), dtype=np.float64)
