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

from dataclasses import dataclass, field

import numpy as np

from adaanchor.bench.textures import Shape

K = 17
(NOSE, L_EYE, R_EYE, L_EAR, R_EAR, L_SHO, R_SHO, L_ELB, R_ELB, L_WRI, R_WRI,
 L_HIP, R_HIP, L_KNE, R_KNE, L_ANK, R_ANK) = range(K)

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

DEG = np.pi / 180.0


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


def _rot(axis: np.ndarray, angle: float) -> np.ndarray:
    """3x3 rotation by ``angle`` radians about the unit vector ``axis`` (right-handed)."""
    x, y, z = axis
    c, s, t = np.cos(angle), np.sin(angle), 1.0 - np.cos(angle)
    return np.array([[t * x * x + c, t * x * y - s * z, t * x * z + s * y],
                     [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
                     [t * x * z - s * y, t * y * z + s * x, t * z * z + c]])


def _unit(v: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    n = float(np.sqrt(v @ v))
    return v / n if n > 1e-6 else fallback


def _bend(u: np.ndarray, toward: np.ndarray, angle: float) -> np.ndarray:
    """Unit direction ``u`` turned by ``angle`` towards ``toward`` (the joint's bending plane)."""
    w = _unit(toward - (toward @ u) * u, np.array([0.0, 0.0, -1.0]) if abs(u[2]) < 0.9 else np.array([1.0, 0, 0]))
    return np.cos(angle) * u + np.sin(angle) * w


def sample_figure(rng: np.random.Generator) -> Figure:
    """A random pose in height units, centred near the origin. Mostly standing/walking people facing anywhere
    from profile to profile through the front, some back views, crouches and raised arms."""
    u = rng.uniform
    mode = rng.choice(4, p=[0.55, 0.2, 0.12, 0.13])  # stand, walk, crouch, arms up
    crouch, walk, arms_up = mode == 2, mode == 1, mode == 3
    # Facing: the yaw turns the person about the vertical; 0 faces the camera, pi shows the back.
    pick = rng.random()
    yaw = (180 + u(-35, 35) if pick < 0.08 else u(-40, 40) if pick < 0.6 else u(-95, 95)) * DEG
    L = np.array([np.cos(yaw), 0.0, np.sin(yaw)])  # the person's left
    U = np.array([0.0, -1.0, 0.0])  # up (image y points down)
    F = np.array([np.sin(yaw), 0.0, -np.cos(yaw)])  # forward; L x U = F

    size = u(0.93, 1.07)  # limb-length variation, shared by both sides like real anatomy
    width = u(0.85, 1.15)
    lean = u(15, 45) * DEG if crouch else u(-8, 15) * DEG
    trunk = _rot(F, u(-8, 8) * DEG) @ _rot(L, lean)
    Ut, Lt, Ft = trunk @ U, trunk @ L, trunk @ F
    twist = _rot(Ut, u(-15, 15) * DEG)  # shoulders turn against the hips
    Ls, Fs = twist @ Lt, twist @ Ft
    neck_base = 0.29 * size * Ut
    kp3 = np.zeros((K, 3))
    parts: list[tuple[str, np.ndarray, float, str]] = []  # capsules: name, (2, 3) ends, radius, role

    # Arms: abduction (sideways), flexion (forward), elbow bend mostly forwards and inwards.
    first = 1 if rng.random() < 0.5 else -1  # the arm that is surely raised in an arms-up pose
    for side, sho, elb, wri in ((1, L_SHO, L_ELB, L_WRI), (-1, R_SHO, R_ELB, R_WRI)):
        s = "l" if side == 1 else "r"
        kp3[sho] = neck_base - 0.025 * Ut + side * 0.125 * width * Ls
        raised = (arms_up and (side == first or rng.random() < 0.6)) or rng.random() < 0.05
        abd = u(100, 170) if raised else (u(60, 100) if rng.random() < 0.12 else u(3, 50))
        flex = u(-20, 20) if raised else (u(-50, 90) if walk else u(-30, 70))
        d = _rot(Ls, -flex * DEG) @ (np.sin(abd * DEG) * side * Ls - np.cos(abd * DEG) * Ut)
        kp3[elb] = kp3[sho] + 0.175 * size * d
        fore = _bend(d, Fs + u(-0.3, 0.9) * -side * Ls + u(-0.3, 0.3) * Ut, u(0, 130) * DEG)
        kp3[wri] = kp3[elb] + 0.155 * size * fore
        parts += [(f"{s}_upper_arm", np.stack([kp3[sho], kp3[elb]]), 0.036, "sleeve"),
                  (f"{s}_forearm", np.stack([kp3[elb], kp3[wri]]), 0.03, "forearm"),
                  (f"{s}_hand", np.stack([kp3[wri], kp3[wri] + 0.05 * fore]), 0.027, "skin")]

    # Legs: hip flexion/abduction and a knee that bends backwards; crouching folds both.
    stride = u(15, 35) * DEG * (1 if rng.random() < 0.5 else -1)
    for side, hip, kne, ank in ((1, L_HIP, L_KNE, L_ANK), (-1, R_HIP, R_KNE, R_ANK)):
        s = "l" if side == 1 else "r"
        kp3[hip] = side * 0.085 * width * L
        if crouch:
            hf, kn = u(60, 110), u(80, 135)
        elif walk:
            hf, kn = side * stride / DEG + u(-5, 5), u(0, 45)
        else:
            hf, kn = u(-15, 30), (u(30, 90) if rng.random() < 0.15 else u(0, 20))
        d = _rot(L, -hf * DEG) @ _rot(F, side * u(-3, 18) * DEG) @ -U
        kp3[kne] = kp3[hip] + 0.245 * size * d
        shin = _bend(d, -F + u(-0.2, 0.2) * L, kn * DEG)
        kp3[ank] = kp3[kne] + 0.245 * size * shin
        foot = _bend(shin, F, 80 * DEG)
        parts += [(f"{s}_thigh", np.stack([kp3[hip], kp3[kne]]), 0.055, "trousers"),
                  (f"{s}_shin", np.stack([kp3[kne], kp3[ank]]), 0.042, "lower_leg"),
                  (f"{s}_foot", np.stack([kp3[ank], kp3[ank] + 0.075 * foot]), 0.024, "shoes")]

    # Head: its own pitch, roll and a turn of up to 30 degrees relative to the shoulders.
    head = _rot(Fs, u(-12, 12) * DEG) @ _rot(Ls, u(-15, 20) * DEG)
    head = _rot(head @ Ut, u(-30, 30) * DEG) @ head
    Uh, Lh, Fh = head @ Ut, head @ Ls, head @ Fs
    r = 0.068 * u(0.95, 1.08)
    neck_top = neck_base + 0.055 * Uh
    centre = neck_top + 0.9 * r * Uh + 0.15 * r * Fh
    # keypoint: (direction from the head centre, distance / r, the least camera-facing normal still seen)
    face = {NOSE: (Fh - 0.2 * Uh, 1.1, -0.2)}
    for side, eye, ear in ((1, L_EYE, L_EAR), (-1, R_EYE, R_EAR)):
        face[eye] = (np.cos(32 * DEG) * Fh + side * np.sin(32 * DEG) * Lh + 0.12 * Uh, 0.95, 0.15)
        face[ear] = (side * Lh - 0.15 * Fh, 1.0, -0.6)  # ears stick out: seen a little past the profile
    hidden = np.zeros(K, bool)
    for k, (direction, dist, thr) in face.items():
        n = _unit(direction, Fh)
        kp3[k] = centre + dist * r * n
        hidden[k] = -n[2] <= thr  # the surface normal points away from the camera

    # Roll the whole image plane by up to a few tens of degrees about the figure's middle.
    roll = u(-30, 30) * DEG if rng.random() < 0.5 else rng.normal(0, 8) * DEG
    c, s_ = np.cos(roll), np.sin(roll)
    R2 = np.array([[c, -s_], [s_, c]])
    mid = kp3[:, :2].mean(0)

    def proj(p: np.ndarray) -> np.ndarray:
        return (np.atleast_2d(p)[:, :2] - mid) @ R2.T

    def jitter() -> float:  # parts at nearly the same depth go either way: a random painting order
        return float(rng.normal(0, 0.01))

    body: list[BodyPart] = []
    for name, ends, rad, role in parts:
        depth = float(ends[:, 2].mean()) + jitter()
        body.append(BodyPart(name, Shape("capsule", proj(ends), r=rad * size), role, depth))
    body.append(BodyPart("neck", Shape("capsule", proj(np.stack([neck_base, neck_top])), r=0.032), "skin",
                         float(neck_base[2] + neck_top[2]) / 2 + jitter()))
    # Torso: the hull of a box from the shoulder line to the hips, so it keeps its depth in profile.
    corners = [neck_base - 0.02 * Ut + a * (0.135 * width * Ls) + b * 0.06 * Fs for a in (-1, 1) for b in (-1, 1)]
    corners += [a * (0.12 * width * L) + b * 0.055 * F for a in (-1, 1) for b in (-1, 1)]
    body.append(BodyPart("torso", Shape("polygon", convex_hull(proj(np.array(corners)))), "shirt",
                         float(neck_base[2]) / 2 + jitter()))

    up2 = proj(centre + Uh)[0] - proj(centre)[0]
    angle = float(np.arctan2(up2[1], up2[0]) + np.pi / 2)  # the ellipse's first axis is across the face
    feats: list[tuple[Shape, str]] = []
    if rng.random() < 0.85:  # hair on the top and back of the head; some people have none
        feats.append((Shape("ellipse", proj(centre + 0.85 * r * Uh - 0.35 * r * Fh), axes=(1.0 * r, 0.6 * r),
                            angle=angle), "hair"))
    for k, role, rad in ((L_EAR, "ear", 0.24), (R_EAR, "ear", 0.24), (L_EYE, "eye", 0.17), (R_EYE, "eye", 0.17)):
        if not hidden[k]:
            feats.append((Shape("capsule", proj(np.stack([kp3[k], kp3[k]])), r=rad * r), role))
    if not hidden[NOSE]:
        feats.append((Shape("capsule", proj(np.stack([centre + 0.6 * r * _unit(face[NOSE][0], Fh), kp3[NOSE]])),
                            r=0.14 * r), "nose"))
    body.append(BodyPart("head", Shape("ellipse", proj(centre), axes=(r, 1.15 * r), angle=angle), "skin",
                         float(centre[2]) - 0.5 * r, feats))
    body.sort(key=lambda p: -p.depth)  # farthest first
    return Figure(proj(kp3), hidden, body, 1.0)


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
