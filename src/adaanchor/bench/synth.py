"""A procedural single-person occlusion benchmark with the COCO-17 skeleton.

Each image is a random articulated person (:mod:`adaanchor.bench.synth_pose`) painted in depth order over a
cluttered background, then covered in part by random textured occluders and sometimes truncated by the image
border. Visibility labels come from the label map that :func:`adaanchor.bench.textures.paint` keeps: a keypoint
is ``v=1`` when the pixel at its rounded location belongs to an occluder or to a body part it is not part of,
when it lies on the far side of the head (face keypoints), or when it is outside the image; otherwise ``v=2``.
Occluded keypoints keep their true coordinates. The images are the model input as is (no crop).

:func:`write_benchmark` writes a COCO keypoint dataset (``train.json``, ``val.json``, PNGs) and reuses it when
the folder already holds one made with the same resolved options.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from adaanchor.bench import cache
from adaanchor.bench import textures as tx
from adaanchor.bench.scene import OCCLUDER_LAYER, Scene, add_occluder, label_visibility, random_occluder, render_person  # noqa: F401 - re-exported
from adaanchor.coords import outside_frame
from adaanchor.errors import AdaAnchorError, unknown_name_error

SYNTH_DEFAULTS: dict[str, Any] = {
    "width": 72,  # image width in pixels; the images are the model input
    "height": 96,  # image height in pixels
    "n_train": 6000,  # number of training images
    "n_val": 500,  # number of validation images
    "seed": 0,  # image i of split s (0 train, 1 val) is drawn from default_rng([seed, s, i])
    "occluders": (0, 3),  # inclusive (min, max) number of textured occluders over the person
    "occluder_size": (0.15, 0.45),  # occluder size as a fraction of the person's height
    "truncation": 0.25,  # probability that the person is shifted partly out of the image
    "clutter": 6,  # random textured shapes in the background
    "scale": (0.6, 0.95),  # standing person height / image height, before any truncation shift
}
FORMAT_VERSION = 1
SPLITS = cache.SPLITS
_INT_KEYS = ("width", "height", "n_train", "n_val", "seed", "clutter")
_PAIR_KEYS = ("occluders", "occluder_size", "scale")

#: What a valid value of each option is, for the error (docs/datasets.md lists the same).
_VALID = {"width": "a whole number >= 16", "height": "a whole number >= 16",
          "occluders": "[min, max] whole numbers, 0 <= min <= max <= 200",
          "occluder_size": "[min, max] numbers, 0 < min <= max <= 10 (person heights)",
          "scale": "[min, max] numbers, 0 < min <= max <= 1 (a taller person is shrunk to fit the image)",
          "truncation": "a number in [0, 1]"}


def resolve_config(cfg: Mapping[str, Any] | None = None, defaults: Mapping[str, Any] | None = None,
                   what: str = "synth") -> dict[str, Any]:
    """``defaults`` (those of the synthetic benchmark, or of another benchmark sharing its options: ``what`` names
    it in errors) updated with ``cfg``, checked; pairs become tuples. Raises AdaAnchorError on a bad key or value."""
    defaults = SYNTH_DEFAULTS if defaults is None else {k: defaults[k] for k in SYNTH_DEFAULTS}
    out = dict(defaults)
    if cfg is None:
        return out
    if not isinstance(cfg, Mapping):
        raise AdaAnchorError(f"{what} options must be a mapping, got {type(cfg).__name__}")
    for key, value in cfg.items():
        if key not in SYNTH_DEFAULTS:
            raise unknown_name_error(f"{what} option", str(key), defaults)
        try:
            if key in _INT_KEYS:
                ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
                value = int(value)
                ok = ok and value >= (16 if key in ("width", "height") else 0)
            elif key in _PAIR_KEYS:
                value = tuple(value)
                ok = len(value) == 2 and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                                             for v in value)
                value = tuple(int(v) for v in value) if key == "occluders" else tuple(float(v) for v in value)
                ok = ok and (0 <= value[0] if key == "occluders" else 0 < value[0]) and value[0] <= value[1]
                # An upper bound for the fractions: inf overflowed the drawing (a traceback, a cut output folder),
                # and a person taller than the image was shrunk to fit it without a word.
                ok = ok and (key != "scale" or value[1] <= 1.0) and (key != "occluder_size" or value[1] <= 10.0)
                # Occluder layer ids must fit the uint8 label map.
                ok = ok and (key != "occluders" or (all(float(v) == int(v) for v in cfg[key]) and value[1] <= 200))
            else:  # truncation
                ok = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
                value = float(value)
                ok = ok and 0.0 <= value <= 1.0
        except (TypeError, ValueError, IndexError):
            ok = False
        if not ok:
            valid = _VALID.get(key, "a whole number >= 0")
            raise AdaAnchorError(f"{what} option '{key}': invalid value {cfg[key]!r}: expected {valid} "
                                 f"(default {defaults[key]!r})")
        out[key] = value
    return out


def generate_scene(rng: np.random.Generator, cfg: Mapping[str, Any]) -> tuple[Scene, np.ndarray]:
    """A person with occluders, and its visibility ``(17,)``; ``cfg`` is completed with the defaults."""
    cfg = resolve_config(cfg)
    scene = render_person(rng, cfg)
    lo, hi = cfg["occluders"]
    for _ in range(int(rng.integers(lo, hi + 1))):
        add_occluder(scene, *random_occluder(scene, rng, cfg), rng, shading=float(rng.uniform(0, 0.4)))
    return scene, label_visibility(scene.figure.keypoints, scene.figure.hidden, scene.label)


def generate_sample(rng: np.random.Generator,
                    cfg: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One benchmark image and its labels.

    Returns:
        image: ``(H, W, 3)`` uint8 RGB.
        keypoints: ``(17, 2)`` float64 ``(x, y)`` in the pixel-centre convention (true positions, even if occluded).
        visibility: ``(17,)`` int64 in {1, 2}.
        bbox: ``(4,)`` float64 ``[x, y, w, h]`` of the whole person; it may extend beyond the image.
    """
    scene, vis = generate_scene(rng, cfg)
    return tx.to_uint8(scene.image), scene.figure.keypoints.copy(), vis, scene.bbox.copy()


def _render_chunk(job: cache.Job) -> list[dict[str, Any]]:
    """Render images ``start..stop-1`` of one split to PNG; returns their annotation fields. Runs in workers."""
    from PIL import Image

    root, split_index, start, stop, cfg = job
    out = []
    for i in range(start, stop):
        image, kps, vis, bbox = generate_sample(np.random.default_rng([cfg["seed"], split_index, i]), cfg)
        name = f"images/{SPLITS[split_index]}/{i:06d}.png"
        Image.fromarray(image).save(Path(root) / name, compress_level=1)  # speed over a few kB per image
        # Keypoints rounded to 1e-4 px: exact for any purpose, and the JSON stays small.
        flat = [round(float(v), 4) for xyv in zip(kps[:, 0], kps[:, 1], vis) for v in xyv]
        out.append({"file_name": name, "keypoints": flat, "bbox": [round(float(b), 4) for b in bbox],
                    "area": _clipped_area(bbox, cfg["width"], cfg["height"])})
    return out


def _clipped_area(bbox: np.ndarray, width: int, height: int) -> float:
    """COCO ``area``: here the area of the person's box clipped to the image (there are no masks)."""
    w = min(bbox[0] + bbox[2], width - 0.5) - max(bbox[0], -0.5)
    h = min(bbox[1] + bbox[3], height - 0.5) - max(bbox[1], -0.5)
    return round(float(max(w, 0.0) * max(h, 0.0)), 2)


def _coco_json(records: list[dict[str, Any]], cfg: Mapping[str, Any]) -> dict[str, Any]:
    from adaanchor.data.spec import load_spec

    spec = load_spec("coco")
    images, anns = [], []
    for i, rec in enumerate(records):  # ids are 1-based: some COCO tools treat id 0 as missing
        images.append({"id": i + 1, "file_name": rec["file_name"], "width": cfg["width"], "height": cfg["height"]})
        anns.append({"id": i + 1, "image_id": i + 1, "category_id": 1, "keypoints": rec["keypoints"],
                     "num_keypoints": sum(1 for v in rec["keypoints"][2::3] if v > 0), "bbox": rec["bbox"],
                     "area": rec["area"], "iscrowd": 0})
    cat = {"id": 1, "name": "person", "supercategory": "person", "keypoints": list(spec.keypoints),
           "skeleton": [[a + 1, b + 1] for a, b in spec.skeleton]}
    return {"info": {"description": "adaanchor synthetic occlusion benchmark", "version": FORMAT_VERSION},
            "images": images, "annotations": anns, "categories": [cat]}


def write_benchmark(out_dir: str | Path, cfg: Mapping[str, Any] | None = None, progress: bool = True, *,
                    workers: int | None = None) -> dict[str, Path]:
    """Write the benchmark under ``out_dir``, or reuse it when ``manifest.json`` there has the same resolved options.

    Layout: ``images/{train,val}/000000.png...``, ``train.json``/``val.json`` (COCO keypoints, file names relative
    to ``out_dir``) and ``manifest.json`` (resolved options, visibility counts, format version), written last so
    that an interrupted run is regenerated rather than taken for a finished one. A finished benchmark of other
    options in the folder is not replaced (an error; :mod:`adaanchor.bench.cache`), and concurrent callers write
    it once. Each annotation's ``area`` is its box clipped to the image (there are no masks).
    ``workers`` defaults to 2 processes for large sets, 1 otherwise; the output does not
    depend on it. Workers are spawned, so a script calling this at import time needs the usual
    ``if __name__ == "__main__":`` guard. Returns ``{"train": train.json, "val": val.json, "root": out_dir}``.
    """
    cfg = resolve_config(cfg)
    root = Path(out_dir).expanduser()
    paths = {"train": root / "train.json", "val": root / "val.json", "root": root}
    with cache.writing(root, cfg, FORMAT_VERSION, "synthetic benchmark") as must_write:
        if must_write:
            counts = _write_splits(root, cfg, paths, progress, workers)
            cache.write_manifest(root, cfg, FORMAT_VERSION, counts)
    return paths


def _write_splits(root: Path, cfg: dict[str, Any], paths: dict[str, Path], progress: bool,
                  workers: int | None) -> dict[str, Any]:
    """Render both splits into ``root`` (emptied); returns their visibility counts."""
    records = cache.render_splits(root, cfg, _render_chunk, "synthetic benchmark", 100, progress, workers, 400)
    counts = {}
    for split in SPLITS:
        cache.write_json(paths[split], _coco_json(records[split], cfg))
        counts[split] = visibility_counts(paths[split])
    return counts


def visibility_counts(json_path: str | Path) -> dict[str, int]:
    """Keypoint counts of a COCO keypoint file: ``visible`` (v=2), ``invisible`` (v=1), ``unlabelled`` (v=0),
    ``outside`` (labelled but outside its image) and ``images``."""
    data = json.loads(Path(json_path).read_text())
    sizes = {im["id"]: (im["width"], im["height"]) for im in data["images"]}
    out = {"visible": 0, "invisible": 0, "unlabelled": 0, "outside": 0, "images": len(data["images"])}
    for ann in data["annotations"]:
        kp = np.asarray(ann["keypoints"], np.float64).reshape(-1, 3)
        W, H = sizes[ann["image_id"]]
        out["visible"] += int((kp[:, 2] == 2).sum())
        out["invisible"] += int((kp[:, 2] == 1).sum())
        out["unlabelled"] += int((kp[:, 2] == 0).sum())
        off = outside_frame(kp[:, 0], kp[:, 1], W, H)
        out["outside"] += int((off & (kp[:, 2] > 0)).sum())
    return out
