"""One benchmark scene: a posed person painted over clutter, occluders on top, and the visibility it implies.

Split from :mod:`adaanchor.bench.synth`, which draws the options, renders splits in worker processes and writes
the COCO files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from adaanchor.bench import textures as tx
from adaanchor.bench.synth_pose import LAYER, OWNERS, Figure, sample_figure
from adaanchor.coords import outside_frame

OCCLUDER_LAYER = 32  # label-map id of the first occluder; body parts use 1..15, the background 0
_FLAT_CELLS = np.zeros((16, 16), np.float32)


@dataclass
class Scene:
    """A rendered person before conversion to uint8.

    Attributes:
        image: ``(H, W, 3)`` float32 painting in [0, 255].
        label: ``(H, W)`` uint8 layer that owns each pixel (0 background, body parts, then occluders).
        figure: the placed :class:`~adaanchor.bench.synth_pose.Figure`, in pixels.
        bbox: ``(4,)`` float64 ``[x, y, w, h]`` of everything drawn of the person, possibly beyond the image.
        occluders: number of occluders painted so far.
    """

    image: np.ndarray
    label: np.ndarray
    figure: Figure
    bbox: np.ndarray
    occluders: int = 0


def _flat(colour: np.ndarray, noise: float) -> tx.Texture:
    return tx.Texture("flat", colour.astype(np.float32), colour.astype(np.float32), 4.0, 0.0, 0.0, noise, _FLAT_CELLS)


def _outfit(rng: np.random.Generator, scale: float) -> dict[str, tx.Texture]:
    """Textures by role. Shirt and trousers are shared by several parts, so clothing is continuous."""
    tone = rng.uniform(0, 1)  # skin from dark to light
    skin = np.array([70, 45, 35]) + tone * np.array([175, 160, 145]) + rng.normal(0, 8, 3)
    out = {"skin": _flat(skin, float(rng.uniform(1, 4))), "shirt": tx.random_texture(rng, scale),
           "trousers": tx.random_texture(rng, scale), "shoes": _flat(rng.uniform(10, 120, 3), 4.0),
           "hair": _flat(rng.uniform(10, 90) * np.array([1.0, 0.8, 0.6]) * rng.uniform(0.6, 2.2), 6.0),
           "eye": _flat(skin * 0.3, 2.0), "nose": _flat(skin * 0.7, 2.0), "ear": _flat(skin * 0.88, 2.0)}
    out["sleeve"] = out["shirt"] if rng.random() < 0.8 else out["skin"]
    out["forearm"] = out["sleeve"] if rng.random() < 0.45 else out["skin"]
    out["lower_leg"] = out["trousers"] if rng.random() < 0.75 else out["skin"]
    return out


def render_person(rng: np.random.Generator, cfg: Mapping[str, Any]) -> Scene:
    """Background plus one posed, scaled, placed (maybe truncated) person; no occluders yet."""
    W, H = cfg["width"], cfg["height"]
    image = tx.background(rng, W, H, cfg["clutter"])
    fig = sample_figure(rng)
    x0, y0, x1, y1 = fig.extent()
    # A person too large for the frame is shrunk to fit, so that only `truncation` cuts people off.
    s = min(rng.uniform(*cfg["scale"]) * H, 0.98 * W / (x1 - x0), 0.98 * H / (y1 - y0))
    bw, bh = (x1 - x0) * s, (y1 - y0) * s
    left, top = rng.uniform(-0.5, W - 0.5 - bw), rng.uniform(-0.5, H - 0.5 - bh)
    if rng.random() < cfg["truncation"]:
        frac = rng.uniform(0.1, 0.35)  # share of the person's box pushed out of the image
        side = rng.choice(4, p=[0.45, 0.2, 0.2, 0.15])  # bottom, left, right, top: legs are cut most often
        if side == 0:
            top = H - 0.5 - (1 - frac) * bh
        elif side == 1:
            left = -0.5 - frac * bw
        elif side == 2:
            left = W - 0.5 - (1 - frac) * bw
        else:
            top = -0.5 - frac * bh
    fig = fig.placed(s, np.array([left - x0 * s, top - y0 * s]), min_radius=0.8)
    label = np.zeros((H, W), np.uint8)
    outfit = _outfit(rng, 0.15 * fig.height)
    for part in fig.parts:
        layer = LAYER[part.name]
        tx.paint(image, part.shape, outfit[part.role], rng, label, layer)
        for shape, role in part.features:
            tx.paint(image, shape, outfit[role], rng, label, layer, shading=0.15)
    ex = fig.extent()
    bbox = np.array([ex[0], ex[1], ex[2] - ex[0], ex[3] - ex[1]], np.float64)
    return Scene(image, label, fig, bbox)


def add_occluder(scene: Scene, shape: tx.Shape, texture: tx.Texture, rng: np.random.Generator,
                 shading: float = 0.2) -> None:
    """Paint ``shape`` over the scene as the next occluder layer (in place)."""
    tx.paint(scene.image, shape, texture, rng, scene.label, OCCLUDER_LAYER + scene.occluders, shading)
    scene.occluders += 1


def random_occluder(scene: Scene, rng: np.random.Generator, cfg: Mapping[str, Any]) -> tuple[tx.Shape, tx.Texture]:
    """A random textured shape centred near a random keypoint or a random point of a limb."""
    size = rng.uniform(*cfg["occluder_size"]) * scene.figure.height
    if rng.random() < 0.5:
        centre = scene.figure.keypoints[rng.integers(len(scene.figure.keypoints))]
    else:
        limbs = [p.shape for p in scene.figure.parts if p.shape.kind == "capsule"]
        a, b = limbs[rng.integers(len(limbs))].pts
        centre = a + rng.uniform() * (b - a)
    cx, cy = centre + rng.normal(0, 0.5 * size, 2)
    shape = tx.random_shape(rng, str(rng.choice(tx.SHAPE_KINDS)), float(cx), float(cy), size)
    return shape, tx.random_texture(rng, scale=size)


def label_visibility(keypoints: np.ndarray, hidden: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Visibility ``(K,)`` int64 in {1, 2} of ``keypoints`` (K, 2) given the label map ``(H, W)``.

    ``v=1`` outside the image (x < -0.5 or x > W - 0.5, same for y), for ``hidden`` keypoints, and where the
    pixel at the rounded location is owned by a layer other than the keypoint's own parts or the background.
    """
    H, W = label.shape
    x, y = keypoints[:, 0], keypoints[:, 1]
    outside = outside_frame(x, y, W, H)
    cols = np.clip(np.floor(x + 0.5), 0, W - 1).astype(np.int64)
    rows = np.clip(np.floor(y + 0.5), 0, H - 1).astype(np.int64)
    owner = label[rows, cols]
    covered = np.array([o != 0 and int(o) not in OWNERS[k] for k, o in enumerate(owner)])
    return np.where(outside | hidden | covered, 1, 2).astype(np.int64)


__all__ = ["OCCLUDER_LAYER", "Scene", "add_occluder", "label_visibility", "random_occluder", "render_person"]
