"""The 3-D posing behind :func:`adaanchor.bench.synth_pose.sample_figure`: the body's frame, arms, legs and head.

Everything is in units of the standing body height, in the camera frame of :mod:`adaanchor.bench.synth_pose`
(``x`` to the right, ``y`` down, ``z`` away from the camera). Each function draws from the generator it is given
in a fixed order; the benchmark's images depend on that order, so a change to it changes every image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

K = 17
(NOSE, L_EYE, R_EYE, L_EAR, R_EAR, L_SHO, R_SHO, L_ELB, R_ELB, L_WRI, R_WRI,
 L_HIP, R_HIP, L_KNE, R_KNE, L_ANK, R_ANK) = range(K)

DEG = np.pi / 180.0


def rot(axis: np.ndarray, angle: float) -> np.ndarray:
    """3x3 rotation by ``angle`` radians about the unit vector ``axis`` (right-handed)."""
    x, y, z = axis
    c, s, t = np.cos(angle), np.sin(angle), 1.0 - np.cos(angle)
    return np.array([[t * x * x + c, t * x * y - s * z, t * x * z + s * y],
                     [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
                     [t * x * z - s * y, t * y * z + s * x, t * z * z + c]])


def unit(v: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """``v`` ``(3,)`` scaled to length 1; ``fallback`` when it is (nearly) zero."""
    n = float(np.sqrt(v @ v))
    return v / n if n > 1e-6 else fallback


def bend(u: np.ndarray, toward: np.ndarray, angle: float) -> np.ndarray:
    """Unit direction ``u`` turned by ``angle`` towards ``toward`` (the joint's bending plane)."""
    w = unit(toward - (toward @ u) * u, np.array([0.0, 0.0, -1.0]) if abs(u[2]) < 0.9 else np.array([1.0, 0, 0]))
    return np.cos(angle) * u + np.sin(angle) * w


Capsule = tuple[str, np.ndarray, float, str]
"""A limb part before projection: name, ``(2, 3)`` end points, radius (height units, before ``size``), role."""


@dataclass(frozen=True)
class Axes:
    """The body's frame in height units, each axis a unit ``(3,)`` vector: ``L``, ``U``, ``F`` the hips' left, up
    and forward; ``Ut`` the trunk's up (it leans); ``Ls``, ``Fs`` the shoulders' left and forward (they turn against
    the hips). ``neck_base`` ``(3,)``; ``size`` scales the limb lengths, ``width`` the shoulders and hips."""

    L: np.ndarray
    U: np.ndarray
    F: np.ndarray
    Ut: np.ndarray
    Ls: np.ndarray
    Fs: np.ndarray
    neck_base: np.ndarray
    size: float
    width: float


@dataclass(frozen=True)
class Head:
    """The posed head: ``centre`` ``(3,)`` and radius ``r``; its up ``Uh`` and forward ``Fh`` ``(3,)``; the top of
    the neck ``neck_top`` ``(3,)``; ``hidden`` ``(17,)`` bool, the face keypoints on its far side; ``nose`` ``(3,)``
    the direction of the nose from the centre (not unit length)."""

    centre: np.ndarray
    r: float
    Uh: np.ndarray
    Fh: np.ndarray
    neck_top: np.ndarray
    hidden: np.ndarray
    nose: np.ndarray


def sample_axes(rng: np.random.Generator, crouch: bool) -> Axes:
    """The facing, body proportions, lean and shoulder twist of one person."""
    u = rng.uniform
    # Facing: the yaw turns the person about the vertical; 0 faces the camera, pi shows the back.
    pick = rng.random()
    yaw = (180 + u(-35, 35) if pick < 0.08 else u(-40, 40) if pick < 0.6 else u(-95, 95)) * DEG
    L = np.array([np.cos(yaw), 0.0, np.sin(yaw)])  # the person's left
    U = np.array([0.0, -1.0, 0.0])  # up (image y points down)
    F = np.array([np.sin(yaw), 0.0, -np.cos(yaw)])  # forward; L x U = F

    size = u(0.93, 1.07)  # limb-length variation, shared by both sides like real anatomy
    width = u(0.85, 1.15)
    lean = u(15, 45) * DEG if crouch else u(-8, 15) * DEG
    trunk = rot(F, u(-8, 8) * DEG) @ rot(L, lean)
    Ut, Lt, Ft = trunk @ U, trunk @ L, trunk @ F
    twist = rot(Ut, u(-15, 15) * DEG)  # shoulders turn against the hips
    Ls, Fs = twist @ Lt, twist @ Ft
    return Axes(L, U, F, Ut, Ls, Fs, 0.29 * size * Ut, size, width)


def pose_arms(rng: np.random.Generator, a: Axes, kp3: np.ndarray, arms_up: bool, walk: bool) -> list[Capsule]:
    """Shoulders, elbows and wrists written into ``kp3`` ``(17, 3)``; returns the arms' capsules.
    Abduction (sideways), flexion (forward), elbow bend mostly forwards and inwards."""
    u = rng.uniform
    parts: list[Capsule] = []
    first = 1 if rng.random() < 0.5 else -1  # the arm that is surely raised in an arms-up pose
    for side, sho, elb, wri in ((1, L_SHO, L_ELB, L_WRI), (-1, R_SHO, R_ELB, R_WRI)):
        s = "l" if side == 1 else "r"
        kp3[sho] = a.neck_base - 0.025 * a.Ut + side * 0.125 * a.width * a.Ls
        raised = (arms_up and (side == first or rng.random() < 0.6)) or rng.random() < 0.05
        abd = u(100, 170) if raised else (u(60, 100) if rng.random() < 0.12 else u(3, 50))
        flex = u(-20, 20) if raised else (u(-50, 90) if walk else u(-30, 70))
        d = rot(a.Ls, -flex * DEG) @ (np.sin(abd * DEG) * side * a.Ls - np.cos(abd * DEG) * a.Ut)
        kp3[elb] = kp3[sho] + 0.175 * a.size * d
        fore = bend(d, a.Fs + u(-0.3, 0.9) * -side * a.Ls + u(-0.3, 0.3) * a.Ut, u(0, 130) * DEG)
        kp3[wri] = kp3[elb] + 0.155 * a.size * fore
        parts += [(f"{s}_upper_arm", np.stack([kp3[sho], kp3[elb]]), 0.036, "sleeve"),
                  (f"{s}_forearm", np.stack([kp3[elb], kp3[wri]]), 0.03, "forearm"),
                  (f"{s}_hand", np.stack([kp3[wri], kp3[wri] + 0.05 * fore]), 0.027, "skin")]
    return parts


def pose_legs(rng: np.random.Generator, a: Axes, kp3: np.ndarray, crouch: bool, walk: bool) -> list[Capsule]:
    """Hips, knees and ankles written into ``kp3`` ``(17, 3)``; returns the legs' capsules. Hip flexion/abduction
    and a knee that bends backwards; crouching folds both."""
    u = rng.uniform
    L, F, U = a.L, a.F, a.U
    parts: list[Capsule] = []
    stride = u(15, 35) * DEG * (1 if rng.random() < 0.5 else -1)
    for side, hip, kne, ank in ((1, L_HIP, L_KNE, L_ANK), (-1, R_HIP, R_KNE, R_ANK)):
        s = "l" if side == 1 else "r"
        kp3[hip] = side * 0.085 * a.width * L
        if crouch:
            hf, kn = u(60, 110), u(80, 135)
        elif walk:
            hf, kn = side * stride / DEG + u(-5, 5), u(0, 45)
        else:
            hf, kn = u(-15, 30), (u(30, 90) if rng.random() < 0.15 else u(0, 20))
        d = rot(L, -hf * DEG) @ rot(F, side * u(-3, 18) * DEG) @ -U
        kp3[kne] = kp3[hip] + 0.245 * a.size * d
        shin = bend(d, -F + u(-0.2, 0.2) * L, kn * DEG)
        kp3[ank] = kp3[kne] + 0.245 * a.size * shin
        foot = bend(shin, F, 80 * DEG)
        parts += [(f"{s}_thigh", np.stack([kp3[hip], kp3[kne]]), 0.055, "trousers"),
                  (f"{s}_shin", np.stack([kp3[kne], kp3[ank]]), 0.042, "lower_leg"),
                  (f"{s}_foot", np.stack([kp3[ank], kp3[ank] + 0.075 * foot]), 0.024, "shoes")]
    return parts


def pose_head(rng: np.random.Generator, a: Axes, kp3: np.ndarray) -> Head:
    """The head, with its own pitch, roll and a turn of up to 30 degrees relative to the shoulders; the face
    keypoints written into ``kp3`` ``(17, 3)``."""
    u = rng.uniform
    head = rot(a.Fs, u(-12, 12) * DEG) @ rot(a.Ls, u(-15, 20) * DEG)
    head = rot(head @ a.Ut, u(-30, 30) * DEG) @ head
    Uh, Lh, Fh = head @ a.Ut, head @ a.Ls, head @ a.Fs
    r = 0.068 * u(0.95, 1.08)
    neck_top = a.neck_base + 0.055 * Uh
    centre = neck_top + 0.9 * r * Uh + 0.15 * r * Fh
    # keypoint: (direction from the head centre, distance / r, the least camera-facing normal still seen)
    face = {NOSE: (Fh - 0.2 * Uh, 1.1, -0.2)}
    for side, eye, ear in ((1, L_EYE, L_EAR), (-1, R_EYE, R_EAR)):
        face[eye] = (np.cos(32 * DEG) * Fh + side * np.sin(32 * DEG) * Lh + 0.12 * Uh, 0.95, 0.15)
        face[ear] = (side * Lh - 0.15 * Fh, 1.0, -0.6)  # ears stick out: seen a little past the profile
    hidden = np.zeros(K, bool)
    for k, (direction, dist, thr) in face.items():
        n = unit(direction, Fh)
        kp3[k] = centre + dist * r * n
        hidden[k] = -n[2] <= thr  # the surface normal points away from the camera
    return Head(centre, r, Uh, Fh, neck_top, hidden, face[NOSE][0])


__all__ = ["DEG", "K", "Axes", "Capsule", "Head", "bend", "pose_arms", "pose_head", "pose_legs", "rot",
           "sample_axes", "unit"]
