"""The crowd-faces benchmark: several overlapping real faces per canvas, for multiple keypoint localization.

Each canvas is a cluttered procedural background with ``faces`` (default 2 to 4) face crops of ytfaces-68
(``../shared/data/ytfaces-68``, 68 landmarks in the iBUG order) pasted over it. Faces come from one side of an
identity-disjoint split of the data set (the one of the occluded-faces benchmark: identities shuffled with
``split_seed``, the first ``val_fraction`` of them are ``val``), so no person is in both ``train.json`` and
``val.json``. With ``dev_fraction > 0`` (the dev instance) the evaluation identities are left out altogether and
``val`` faces come from that share of the training identities.

- **Crop and mask.** A face's crop is its landmark extent grown by 15% of its width left and right, 30% of its
  height above (the forehead) and 10% below. What is pasted is the ellipse inscribed in that rectangle (grown
  just enough to contain all 68 landmarks): the *pasted mask* of a face is that ellipse on the canvas.
- **Scale and place.** The landmark extent's height is ``U(face_size)`` times the canvas height; the faces'
  centres scatter around a random cluster centre by ``U(-spread, spread)`` of the canvas size (a fresh spread per
  canvas is what moves the crowd index) and stay inside the canvas, so a face is cut off by the border at most
  up to its centre.
- **Depth.** Smaller faces are farther: the faces are pasted from the smallest to the largest.
- **Visibility.** A landmark whose pixel (its rounded position) lies in the pasted mask of a nearer face is
  ``v=1`` with its true coordinates; a landmark outside the canvas is ``v=1`` with its true coordinates when it
  is within ``margin`` of the canvas size of the border, else ``v=0`` (coordinates 0, as in COCO); otherwise
  ``v=2``. Note that the ``face68`` spec reads ``v=1`` as ``v=2`` (``v1_is_visible``, for the official face
  files): through the project's reader every labelled landmark is a target; the JSON keeps the distinction.
- **Boxes, areas.** ``bbox`` is the bounding box of the pasted ellipse (it may extend past the canvas), ``area``
  that box clipped to the canvas (as on crowd figures).
- **Crowd index.** CrowdPose's, by :func:`adaanchor.bench.crowd.crowd_index` on the written (rounded)
  landmarks, visibility and boxes, so it is recomputable from the JSON; each image carries it as ``crowdIndex``.
  Layouts are drawn until it lies in ``crowd_index`` (with ``balanced``, the default, narrowed to CrowdPose's
  easy, medium and hard bands in turn, so that each holds a third of the canvases) and every face has at least ``min_visible`` of its
  landmarks ``v=2`` (a face hidden almost entirely is not one an annotator would label).

OKS sigmas: :data:`FACE_OKS_SIGMA` = 0.025 for every landmark (the COCO sigma of the eyes and the nose; the
``face68`` spec has none, faces are usually scored by NME), see :func:`face_sigmas`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from adaanchor.bench import cache, crowd, synth
from adaanchor.bench import textures as tx
from adaanchor.bench.occlude import mark_occluded
from adaanchor.coords import outside_frame
from adaanchor.data.readers.checks import FAR_OUTSIDE
from adaanchor.errors import AdaAnchorError, unknown_name_error

FACES_ROOT = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "ytfaces-68"
FACE_OKS_SIGMA = 0.025
FORMAT_VERSION = 1
CROWD_FACES_DEFAULTS: dict[str, Any] = {
    "data_root": None,  # the ytfaces-68 folder; None: ../shared/data/ytfaces-68 next to the repository
    "width": 128,
    "height": 96,
    "n_train": 800,
    "n_val": 150,
    "seed": 0,  # canvas i of split s (0 train, 1 val) is drawn from default_rng([seed, 11, s, i])
    "val_fraction": 0.2,  # identity split: fraction of identities in val
    "split_seed": 0,  # identity split seed (the occluded-faces benchmark's)
    # > 0: the dev instance: val faces come from this share of the *training* identities (held out from train),
    # so choices are made without the evaluation identities (data.splits.split_instances)
    "dev_fraction": 0.0,
    "faces": (2, 4),  # inclusive (min, max) faces per canvas
    "face_size": (0.25, 0.45),  # landmark-extent height over the canvas height
    "spread": (0.05, 0.5),  # half-width of the face cluster, fraction of the canvas size
    "min_visible": 0.25,  # a layout is redrawn while a face has fewer than this fraction of its landmarks v=2
    "margin": 0.1,  # landmarks outside the canvas by more than this fraction of its size are v=0
    "clutter": 6,  # random textured shapes in the background
    "crowd_index": (0.0, 10.0),  # inclusive range of each canvas's crowd index
    "balanced": True,  # canvas i targets CrowdPose's band i % 3 (easy < 0.2 <= medium < 0.8 <= hard) within crowd_index
    "max_tries": 300,  # layouts drawn per canvas before its crowd index range is declared unreachable
}
_PAIRS = {"faces": int, "face_size": float, "spread": float, "crowd_index": float}
_INTS = ("width", "height", "n_train", "n_val", "seed", "split_seed", "clutter", "max_tries")


def resolve_crowd_faces_config(cfg: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults updated with ``cfg`` and checked; pairs become tuples. Raises AdaAnchorError naming the option."""
    out = dict(CROWD_FACES_DEFAULTS)
    for key, value in dict(cfg or {}).items():
        if key not in CROWD_FACES_DEFAULTS:
            raise unknown_name_error("crowd-faces option", str(key), CROWD_FACES_DEFAULTS)
        try:
            if key in _PAIRS:
                value = tuple(_PAIRS[key](v) for v in value)
                ok = len(value) == 2 and 0 <= value[0] <= value[1] and (key != "faces" or value[0] >= 1)
            elif key in _INTS:
                ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
                value = int(value)
                ok = ok and value >= {"width": 16, "height": 16, "max_tries": 1}.get(key, 0)
            elif key == "data_root":
                value, ok = (None if value is None else str(value)), True
            elif key == "balanced":
                ok = isinstance(value, bool)
            else:  # val_fraction, dev_fraction, margin, min_visible
                value = float(value)
                # margin: labelled landmarks lie up to it outside the canvas, and the readers refuse one beyond
                # FAR_OUTSIDE (one canvas size) as a coordinate written wrong.
                ok = {"val_fraction": 0.0 < value < 1.0, "min_visible": 0.0 <= value <= 1.0,
                      "dev_fraction": 0.0 <= value < 1.0, "margin": 0.0 <= value <= FAR_OUTSIDE}.get(key, value >= 0.0)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise AdaAnchorError(f"crowd-faces option '{key}': invalid value {cfg[key]!r} "  # type: ignore[index]
                                 f"(default {CROWD_FACES_DEFAULTS[key]!r})")
        out[key] = value
    return out


def face_sigmas(num_keypoints: int = 68) -> np.ndarray:
    """OKS sigmas of the crowd-faces benchmark: :data:`FACE_OKS_SIGMA` for every landmark."""
    return np.full(num_keypoints, FACE_OKS_SIGMA)


def face_pool(cfg: Mapping[str, Any], split: str) -> list[tuple[str, np.ndarray]]:
    """``(image path, (68, 2) landmarks)`` of every face of ``split`` (identity-disjoint, see the module doc)."""
    from adaanchor.data.readers.csv_landmarks import read_csv_landmarks
    from adaanchor.data.spec import load_spec
    from adaanchor.data.splits import split_instances

    root = Path(cfg["data_root"]).expanduser() if cfg["data_root"] else FACES_ROOT
    csv = root / "training_frames_keypoints.csv"
    if not csv.is_file():
        raise AdaAnchorError(f"{csv}: not found; the crowd-faces benchmark needs ytfaces-68 (option data_root)")
    inst = read_csv_landmarks(csv, load_spec("face68"), images_dir=root / "training").instances
    inst = split_instances(inst, split, "identity", float(cfg["val_fraction"]), int(cfg["split_seed"]),
                           float(cfg["dev_fraction"]))
    return [(i.image_path, np.asarray(i.keypoints, np.float64)) for i in inst]


def _ellipse(src_kps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and semi-axes (source pixels) of a face's pasted ellipse (see the module doc)."""
    lo, hi = src_kps.min(0), src_kps.max(0)
    w, h = hi - lo
    rect_lo, rect_hi = lo - (0.15 * w, 0.3 * h), hi + (0.15 * w, 0.1 * h)
    centre, axes = (rect_lo + rect_hi) / 2, (rect_hi - rect_lo) / 2
    reach = float(np.sqrt((((src_kps - centre) / axes) ** 2).sum(-1)).max())
    return centre, axes * max(1.0, reach * 1.02)


def _layout(rng: np.random.Generator, pool: list[tuple[str, np.ndarray]], cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Faces of one canvas, farthest (smallest) first: source, affine, landmarks, ellipse and box on the canvas."""
    W, H = cfg["width"], cfg["height"]
    n = min(int(rng.integers(cfg["faces"][0], cfg["faces"][1] + 1)), len(pool))
    picks = rng.choice(len(pool), n, replace=False)
    cluster = np.array([rng.uniform(0.3, 0.7) * W, rng.uniform(0.35, 0.65) * H])
    spread = rng.uniform(*cfg["spread"])
    faces = []
    for j in picks:
        path, src = pool[int(j)]
        c_src, axes = _ellipse(src)
        s = rng.uniform(*cfg["face_size"]) * H / max(float(np.ptp(src[:, 1])), 1.0)
        c_dst = np.clip(cluster + rng.uniform(-spread, spread, 2) * (W, H), 0, (W - 1, H - 1))
        affine = np.array([[s, 0, c_dst[0] - s * c_src[0]], [0, s, c_dst[1] - s * c_src[1]]])
        ax = s * axes
        box = np.round(np.array([*(c_dst - ax), *(2 * ax)]), 4)
        faces.append({"path": path, "scale": s, "affine": affine, "kps": s * (src - c_src) + c_dst,
                      "centre": c_dst, "axes": ax, "box": box})
    return sorted(faces, key=lambda f: f["scale"])


def _masks(faces: list[dict[str, Any]], width: int, height: int) -> list[np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    return [(((xs - f["centre"][0]) / f["axes"][0]) ** 2 + ((ys - f["centre"][1]) / f["axes"][1]) ** 2) <= 1.0
            for f in faces]


def _visibility(faces: list[dict[str, Any]], masks: list[np.ndarray], cfg: Mapping[str, Any]) -> np.ndarray:
    """``(N, 68)`` visibility of the faces (farthest first), as the module doc defines it."""
    W, H, m = cfg["width"], cfg["height"], cfg["margin"]
    nearer = np.zeros((H, W), bool)
    vis = []
    for f, mask in zip(faces[::-1], masks[::-1]):  # nearest first, accumulating the masks in front
        v = mark_occluded(f["kps"], np.full(len(f["kps"]), 2, np.int64), nearer)
        x, y = f["kps"][:, 0], f["kps"][:, 1]
        out, far = outside_frame(x, y, W, H), outside_frame(x, y, W, H, margin=m)
        vis.append(np.where(far, 0, np.where(out, 1, v)))
        nearer |= mask
    return np.stack(vis[::-1])


def index_range(cfg: Mapping[str, Any], index: int) -> tuple[float, float]:
    """The crowd-index range of canvas ``index``: ``crowd_index``, narrowed to CrowdPose's band ``index % 3``
    (easy, medium, hard; :data:`adaanchor.metrics.coco.CROWD_INDEX_SPLIT`) when ``balanced``. A band is closed
    at its upper end 1e-6 below the next band's start."""
    from adaanchor.metrics.coco import CROWD_INDEX_SPLIT

    lo, hi = cfg["crowd_index"]
    if not cfg["balanced"]:
        return float(lo), float(hi)
    edges = (0.0, *CROWD_INDEX_SPLIT, float("inf"))
    b = index % 3
    return max(float(lo), edges[b]), min(float(hi), edges[b + 1] - 1e-6)


def generate_crowd_faces(rng: np.random.Generator, pool: list[tuple[str, np.ndarray]],
                         cfg: Mapping[str, Any], index: int = 0) -> dict[str, Any]:
    """One canvas: ``image (H, W, 3)`` uint8, ``keypoints (N, 68, 2)`` (rounded to 1e-4 px; 0 where ``v=0``),
    ``visibility (N, 68)``, ``boxes (N, 4)``, ``crowd_index``, ``sources`` (file names), ``masks`` (pasted
    ellipses) and ``layout`` (per face: ``kps`` true landmarks, ``affine``, ``box``, ...), farthest first. ``index`` picks the crowd-index band (:func:`index_range`). Raises AdaAnchorError
    when no layout of ``max_tries`` has its crowd index in range."""
    cfg = resolve_crowd_faces_config(cfg)
    W, H = cfg["width"], cfg["height"]
    lo, hi = index_range(cfg, index)
    for _ in range(cfg["max_tries"]):
        faces = _layout(rng, pool, cfg)
        masks = _masks(faces, W, H)
        vis = _visibility(faces, masks, cfg)
        kps = np.where(vis[..., None] > 0, np.round(np.stack([f["kps"] for f in faces]), 4), 0.0)
        boxes = np.stack([f["box"] for f in faces])
        ci = round(crowd.crowd_index(kps, vis, boxes), 6)
        if lo <= ci <= hi and (vis == 2).mean(1).min() >= cfg["min_visible"]:
            break
    else:
        raise AdaAnchorError(f"crowd-faces option 'crowd_index': no layout in {cfg['max_tries']} tries had a crowd "
                             f"index in [{lo}, {hi}] and every face at least {cfg['min_visible']} visible (widen the range, "
                             "lower 'min_visible' or change 'faces' / 'spread')")
    from adaanchor.data.image_read import load_image

    image = tx.background(rng, W, H, cfg["clutter"])
    for f, mask in zip(faces, masks):  # farthest first: a nearer face covers a farther one
        warped = cv2.warpAffine(load_image(f["path"]), f["affine"], (W, H), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
        image[mask] = warped[mask]
    return {"image": tx.to_uint8(image), "keypoints": kps, "visibility": vis, "boxes": boxes, "crowd_index": ci,
            "sources": [Path(f["path"]).name for f in faces], "masks": masks, "layout": faces}


def _record(root: Path, split: str, si: int, i: int, pool: list[tuple[str, np.ndarray]],
            cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Render canvas ``i`` of one split to PNG; returns its image record for :func:`crowd.coco_json`."""
    from PIL import Image

    sc = generate_crowd_faces(np.random.default_rng([cfg["seed"], 11, si, i]), pool, cfg, i)
    name = f"images/{split}/{i:06d}.png"
    Image.fromarray(sc["image"]).save(root / name, compress_level=1)
    anns = []
    for kp, v, box, src in zip(sc["keypoints"], sc["visibility"], sc["boxes"], sc["sources"]):
        flat = [float(x) for xyv in zip(kp[:, 0], kp[:, 1], v) for x in xyv]
        anns.append({"keypoints": flat, "bbox": [float(b) for b in box],
                     "area": synth._clipped_area(box, cfg["width"], cfg["height"]), "source": src})
    return {"file_name": name, "crowdIndex": sc["crowd_index"], "anns": anns}


def write_crowd_faces_benchmark(root: str | Path, options: Mapping[str, Any] | None = None,
                                progress: bool = True) -> dict[str, Path]:
    """Write the benchmark under ``root`` (``images/{train,val}/*.png``, ``train.json``, ``val.json``,
    ``manifest.json`` last), or reuse it when the manifest there has the same resolved options (as
    :func:`adaanchor.bench.crowd.write_crowd_benchmark`). Returns ``{"train", "val", "root"}`` paths."""
    cfg = resolve_crowd_faces_config(options)
    root = Path(root).expanduser()
    paths = {"train": root / "train.json", "val": root / "val.json", "root": root}
    with cache.writing(root, cfg, FORMAT_VERSION, "crowd-faces benchmark") as must_write:
        if must_write:
            cache.write_manifest(root, cfg, FORMAT_VERSION, _write_splits(root, cfg, paths, progress))
    return paths


def _write_splits(root: Path, cfg: dict[str, Any], paths: dict[str, Path], progress: bool) -> dict[str, Any]:
    """Render both splits into ``root`` (emptied); returns their counts."""
    from tqdm import tqdm

    pools = {split: face_pool(cfg, split) for split in cache.SPLITS}
    counts = {}
    for si, split in enumerate(cache.SPLITS):
        n = cfg[f"n_{split}"]
        records = [_record(root, split, si, i, pools[split], cfg)
                   for i in tqdm(range(n), desc=f"crowd faces {split}", unit="img", disable=not progress)]
        doc = crowd.coco_json(records, cfg, spec_name="face68", category="face",
                              description="adaanchor crowd-faces benchmark", version=FORMAT_VERSION)
        cache.write_json(paths[split], doc)
        counts[split] = {**synth.visibility_counts(paths[split]), "source_faces": len(pools[split])}
    return counts


__all__ = ["CROWD_FACES_DEFAULTS", "FACE_OKS_SIGMA", "FACES_ROOT", "face_pool", "face_sigmas", "generate_crowd_faces",
           "index_range", "resolve_crowd_faces_config", "write_crowd_faces_benchmark"]
