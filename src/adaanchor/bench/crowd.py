"""The crowd-figures benchmark: several overlapping people per image, in depth order, for multi-person pose.

Each image holds ``people`` random articulated figures (:mod:`adaanchor.bench.synth_pose`) over a cluttered
background, painted farthest first (person 0 is the farthest), then random textured occluders and, per
person, the same truncation as the single-person benchmark. Visibility follows the painting: a keypoint is
``v=1`` when the pixel at its rounded location belongs to *another person*, an occluder or one of its own
parts that does not meet at it, when it is on the far side of its head, or when it is outside the image;
otherwise ``v=2``. Hidden keypoints keep their true coordinates.

Crowd index (CrowdPose's definition, Li et al. 2019): for each person ``i`` with box ``B_i``,
``N_a(i)`` = the number of labelled joints of the *other* people inside ``B_i`` and ``N_b(i)`` = the number of
labelled joints of ``i``; the image's index is ``mean_i N_a(i) / N_b(i)``. Boxes are the annotation boxes
(everything drawn of the person) and every joint is labelled, so the index is recomputable from the JSON.
Scenes are drawn until the index lies in ``crowd_index`` (inclusive), each try with a fresh cluster width.

Written as COCO keypoints (``train.json``, ``val.json``, PNGs, each image with ``crowdIndex`` as in
CrowdPose), read by the project's COCO reader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from adaanchor.bench import cache, synth
from adaanchor.bench import scene as bench_scene
from adaanchor.bench import textures as tx
from adaanchor.bench.synth_pose import LAYER, Figure, sample_figure
from adaanchor.errors import AdaAnchorError, unknown_name_error

CROWD_DEFAULTS: dict[str, Any] = {
    **synth.SYNTH_DEFAULTS,
    "width": 128,
    "height": 96,
    "n_train": 2000,
    "n_val": 200,
    "occluders": (0, 2),
    "truncation": 0.15,
    "scale": (0.5, 0.85),
    "people": (2, 4),  # inclusive (min, max) number of people per image
    "crowd_index": (0.0, 1.0),  # inclusive range of each image's crowd index
    "max_tries": 400,  # scenes drawn per image before the crowd_index range is declared unreachable
}
FORMAT_VERSION = 1
OTHER = 255  # label value of a pixel owned by someone else (another person or an occluder)


def resolve_crowd_config(cfg: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults updated with ``cfg`` and checked (the single-person options by the synthetic benchmark's own
    checks). Raises AdaAnchorError naming the bad option."""
    cfg = dict(cfg or {})
    for key in cfg:
        if key not in CROWD_DEFAULTS:
            raise unknown_name_error("crowd option", str(key), CROWD_DEFAULTS)
    shared = {k: cfg[k] for k in synth.SYNTH_DEFAULTS if k in cfg}
    out = {**CROWD_DEFAULTS, **synth.resolve_config(shared, CROWD_DEFAULTS, "crowd")}
    try:
        people = tuple(int(v) for v in cfg.get("people", CROWD_DEFAULTS["people"]))
        ok = len(people) == 2 and 1 <= people[0] <= people[1] <= 12
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise AdaAnchorError(f"crowd option 'people': expected (min, max) with 1 <= min <= max <= 12, got {cfg['people']!r}")
    try:
        ci = tuple(float(v) for v in cfg.get("crowd_index", CROWD_DEFAULTS["crowd_index"]))
        ok = len(ci) == 2 and 0.0 <= ci[0] <= ci[1]
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise AdaAnchorError(f"crowd option 'crowd_index': expected (lo, hi) with 0 <= lo <= hi, got {cfg['crowd_index']!r}")
    tries = cfg.get("max_tries", CROWD_DEFAULTS["max_tries"])
    if not isinstance(tries, int) or isinstance(tries, bool) or tries < 1:
        raise AdaAnchorError(f"crowd option 'max_tries': expected a positive integer, got {tries!r}")
    out.update(people=people, crowd_index=ci, max_tries=tries)
    return out


def crowd_index(keypoints: np.ndarray, visibility: np.ndarray, boxes: np.ndarray) -> float:
    """CrowdPose crowd index of one image.

    Args:
        keypoints: ``(N, K, 2)``; visibility: ``(N, K)`` (labelled where > 0); boxes: ``(N, 4)`` ``[x, y, w, h]``.
    Returns:
        ``mean_i N_a(i) / N_b(i)``; 0 for fewer than two people. Persons without labelled joints are skipped.
    """
    n = len(keypoints)
    ratios = []
    for i in range(n):
        own = int((visibility[i] > 0).sum())
        if own == 0:
            continue
        x, y, w, h = boxes[i]
        others = np.concatenate([keypoints[j][visibility[j] > 0] for j in range(n) if j != i] or [np.zeros((0, 2))])
        inside = (others[:, 0] >= x) & (others[:, 0] <= x + w) & (others[:, 1] >= y) & (others[:, 1] <= y + h)
        ratios.append(float(inside.sum()) / own)
    return float(np.mean(ratios)) if n > 1 and ratios else 0.0


@dataclass
class CrowdScene:
    """One rendered crowd image.

    Attributes:
        image: ``(H, W, 3)`` uint8.
        keypoints: ``(N, 17, 2)`` float64 true positions; visibility: ``(N, 17)`` int64 in {1, 2}.
        boxes: ``(N, 4)`` ``[x, y, w, h]`` of everything drawn of each person (may extend past the image).
        person_map: ``(H, W)`` uint8, ``p + 1`` where person ``p`` owns the pixel, 0 background, 255 occluder.
        crowd_index: the image's crowd index.
    """

    image: np.ndarray
    keypoints: np.ndarray
    visibility: np.ndarray
    boxes: np.ndarray
    person_map: np.ndarray
    crowd_index: float


def _place(rng: np.random.Generator, cfg: Mapping[str, Any]) -> list[Figure]:
    """Figures scaled and placed around a random cluster centre: the cluster width sets how crowded it is."""
    W, H = cfg["width"], cfg["height"]
    n = int(rng.integers(cfg["people"][0], cfg["people"][1] + 1))
    cx, spread = rng.uniform(0.25, 0.75) * W, rng.uniform(0.0, 0.6) * W
    out = []
    for _ in range(n):
        fig = sample_figure(rng)
        x0, y0, x1, y1 = fig.extent()
        s = min(rng.uniform(*cfg["scale"]) * H, 0.98 * W / (x1 - x0), 0.98 * H / (y1 - y0))
        bw, bh = (x1 - x0) * s, (y1 - y0) * s
        left = float(np.clip(cx + rng.uniform(-spread, spread) - bw / 2, -0.5, W - 0.5 - bw))
        top = rng.uniform(-0.5, H - 0.5 - bh)
        if rng.random() < cfg["truncation"]:  # cut off by the bottom, left or right border
            frac, side = rng.uniform(0.1, 0.35), rng.choice(3, p=[0.5, 0.25, 0.25])
            if side == 0:
                top = H - 0.5 - (1 - frac) * bh
            elif side == 1:
                left = -0.5 - frac * bw
            else:
                left = W - 0.5 - (1 - frac) * bw
        out.append(fig.placed(s, np.array([left - x0 * s, top - y0 * s]), min_radius=0.8))
    return out


def _box(fig: Figure) -> np.ndarray:
    x0, y0, x1, y1 = fig.extent()
    return np.array([x0, y0, x1 - x0, y1 - y0], np.float64)


def generate_crowd_scene(rng: np.random.Generator, cfg: Mapping[str, Any]) -> CrowdScene:
    """One crowd image; ``cfg`` is completed with the defaults. Raises AdaAnchorError when no scene of
    ``max_tries`` has a crowd index in the requested range."""
    cfg = resolve_crowd_config(cfg)
    lo, hi = cfg["crowd_index"]
    for _ in range(cfg["max_tries"]):
        figs = _place(rng, cfg)
        kps = np.stack([f.keypoints for f in figs])
        boxes = np.stack([_box(f) for f in figs])
        ci = crowd_index(kps, np.full(kps.shape[:2], 2), boxes)
        if lo <= ci <= hi:
            break
    else:
        raise AdaAnchorError(f"crowd option 'crowd_index': no scene in {cfg['max_tries']} tries had a crowd index "
                             f"in [{lo}, {hi}] with people={cfg['people']} (widen the range or change 'people')")
    return _render(rng, cfg, figs, boxes, ci)


def _render(rng: np.random.Generator, cfg: Mapping[str, Any], figs: list[Figure], boxes: np.ndarray,
            ci: float) -> CrowdScene:
    W, H = cfg["width"], cfg["height"]
    image = tx.background(rng, W, H, cfg["clutter"])
    part_map = np.zeros((H, W), np.uint8)
    person_map = np.zeros((H, W), np.uint8)
    for p, fig in enumerate(figs):  # farthest first: a nearer person paints over a farther one
        own = np.zeros((H, W), np.uint8)
        outfit = bench_scene._outfit(rng, 0.15 * fig.height)
        for part in fig.parts:
            tx.paint(image, part.shape, outfit[part.role], rng, own, LAYER[part.name])
            for shape, role in part.features:
                tx.paint(image, shape, outfit[role], rng, own, LAYER[part.name], shading=0.15)
        part_map[own > 0], person_map[own > 0] = own[own > 0], p + 1
    occ = np.zeros((H, W), np.uint8)
    for _ in range(int(rng.integers(cfg["occluders"][0], cfg["occluders"][1] + 1))):
        target = figs[int(rng.integers(len(figs)))]
        scene = synth.Scene(image, occ, target, _box(target))
        shape, texture = synth.random_occluder(scene, rng, cfg)
        tx.paint(image, shape, texture, rng, occ, 1, float(rng.uniform(0, 0.4)))
    person_map[occ > 0] = OTHER
    vis = []
    for p, fig in enumerate(figs):
        label = np.where(person_map == p + 1, part_map, np.where(person_map == 0, 0, OTHER)).astype(np.uint8)
        vis.append(synth.label_visibility(fig.keypoints, fig.hidden, label))
    kps = np.stack([f.keypoints for f in figs])
    return CrowdScene(tx.to_uint8(image), kps, np.stack(vis), boxes, person_map, ci)


def _render_chunk(job: cache.Job) -> list[dict[str, Any]]:
    """Render images ``start..stop-1`` of one split to PNG; returns their records. Runs in workers."""
    from PIL import Image

    root, si, start, stop, cfg = job
    split = cache.SPLITS[si]
    out = []
    for i in range(start, stop):
        sc = generate_crowd_scene(np.random.default_rng([cfg["seed"], 7, si, i]), cfg)
        name = f"images/{split}/{i:06d}.png"
        Image.fromarray(sc.image).save(Path(root) / name, compress_level=1)
        anns = []
        for kp, v, box in zip(sc.keypoints, sc.visibility, sc.boxes):
            flat = [round(float(x), 4) for xyv in zip(kp[:, 0], kp[:, 1], v) for x in xyv]
            anns.append({"keypoints": flat, "bbox": [round(float(b), 4) for b in box],
                         "area": synth._clipped_area(box, cfg["width"], cfg["height"])})
        out.append({"file_name": name, "crowdIndex": round(sc.crowd_index, 6), "anns": anns})
    return out


def coco_json(records: list[dict[str, Any]], cfg: Mapping[str, Any], spec_name: str = "coco",
              category: str = "person", description: str = "adaanchor crowd-figures benchmark",
              version: int = FORMAT_VERSION) -> dict[str, Any]:
    """COCO keypoint JSON of rendered image records (``file_name``, ``crowdIndex``, ``anns`` with ``keypoints``,
    ``bbox``, ``area`` and any extra fields), one category named ``category`` with the spec's keypoint names."""
    from adaanchor.data.spec import load_spec

    spec = load_spec(spec_name)
    images, anns = [], []
    for i, rec in enumerate(records):  # ids are 1-based: some COCO tools treat id 0 as missing
        images.append({"id": i + 1, "file_name": rec["file_name"], "width": cfg["width"], "height": cfg["height"],
                       "crowdIndex": rec["crowdIndex"]})
        for a in rec["anns"]:
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
                         "num_keypoints": sum(1 for v in a["keypoints"][2::3] if v > 0), **a})
    cat = {"id": 1, "name": category, "supercategory": category, "keypoints": list(spec.keypoints),
           "skeleton": [[a + 1, b + 1] for a, b in spec.skeleton]}
    return {"info": {"description": description, "version": version},
            "images": images, "annotations": anns, "categories": [cat]}


def write_crowd_benchmark(out_dir: str | Path, cfg: Mapping[str, Any] | None = None, progress: bool = True, *,
                          workers: int | None = None) -> dict[str, Path]:
    """Write the benchmark under ``out_dir`` (``images/{train,val}/*.png``, ``train.json``, ``val.json``,
    ``manifest.json`` last), or reuse it when the manifest there has the same resolved options (the folder rules
    of :mod:`adaanchor.bench.cache`). The output does
    not depend on ``workers`` (default: 2 spawned processes for 200 images or more). Returns the two JSON paths
    and the root, as :func:`adaanchor.bench.synth.write_benchmark` does."""
    cfg = resolve_crowd_config(cfg)
    root = Path(out_dir).expanduser()
    paths = {"train": root / "train.json", "val": root / "val.json", "root": root}
    with cache.writing(root, cfg, FORMAT_VERSION, "crowd benchmark") as must_write:
        if must_write:
            cache.write_manifest(root, cfg, FORMAT_VERSION, _write_splits(root, cfg, paths, progress, workers))
    return paths


def _write_splits(root: Path, cfg: dict[str, Any], paths: dict[str, Path], progress: bool,
                  workers: int | None) -> dict[str, Any]:
    """Render both splits into ``root`` (emptied); returns their visibility counts."""
    records = cache.render_splits(root, cfg, _render_chunk, "crowd benchmark", 50, progress, workers, 200)
    counts = {}
    for split in cache.SPLITS:
        cache.write_json(paths[split], coco_json(records[split], cfg))
        counts[split] = synth.visibility_counts(paths[split])
    return counts


__all__ = ["CROWD_DEFAULTS", "CrowdScene", "coco_json", "crowd_index", "generate_crowd_scene", "resolve_crowd_config",
           "write_crowd_benchmark"]
