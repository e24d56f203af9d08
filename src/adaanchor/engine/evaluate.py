"""Prediction over a dataset and single-keypoint evaluation (paper appendix A.2 + COCO OKS AP).

Errors and scores are measured in input-crop pixels (the paper's Vis./Inv. Error); PCK is normalised by
the instance box size; OKS AP is computed by pycocotools in original-image coordinates, after the exact
inverse of the crop transform.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm import tqdm

from ..data.transforms import apply_affine, invert_affine
from ..data.types import collate
from ..strategies import Strategy


@torch.no_grad()
def predict(
    model: nn.Module,
    strategy: Strategy,
    dataset: Dataset,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    max_images: int | None = None,
    progress: bool = True,
    workers: int = 0,
) -> dict[str, Any]:
    """Run the model over ``dataset`` (one instance per item) and decode.

    Returns numpy arrays: ``pred``/``gt``/``anchor`` ``(M, K, 2)`` in crop pixels, ``pred_orig``/``gt_orig``
    in original-image pixels, ``score (M, K)`` or None, ``vis (M, K)``, ``bbox_size (M,)`` in crop pixels,
    and lists ``image_id``, ``ann_id``, ``area``.
    """
    if max_images is not None and max_images < len(dataset):  # type: ignore[arg-type]
        dataset = Subset(dataset, range(int(max_images)))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate, num_workers=workers)
    was_training = model.training
    model.eval()
    out: dict[str, list] = {k: [] for k in ("pred", "gt", "anchor", "score", "vis", "meta")}
    for batch in tqdm(loader, desc="eval", disable=not progress, leave=False):
        outputs = model(batch["image"].to(device))
        dec = strategy.decode(outputs)
        out["pred"].append(dec.xy.cpu().numpy())
        out["anchor"].append(dec.anchor.cpu().numpy() if dec.anchor is not None else np.full(dec.xy.shape, np.nan))
        out["score"].append(dec.score.cpu().numpy() if dec.score is not None else None)
        out["gt"].append(batch["keypoints"][:, 0].numpy())
        out["vis"].append(batch["visibility"][:, 0].numpy())
        out["meta"].extend(batch["meta"])
    model.train(was_training)
    pred, gt = np.concatenate(out["pred"]), np.concatenate(out["gt"])
    inv = [invert_affine(np.asarray(m["affine"], dtype=np.float64)) for m in out["meta"]]
    scale = np.array([np.sqrt(abs(np.linalg.det(np.asarray(m["affine"])[:, :2]))) for m in out["meta"]])
    bbox = np.array([np.asarray(m["bbox"], dtype=np.float64) for m in out["meta"]])
    return {
        "pred": pred,
        "gt": gt,
        "anchor": np.concatenate(out["anchor"]),
        "score": None if out["score"][0] is None else np.concatenate(out["score"]),
        "vis": np.concatenate(out["vis"]),
        "pred_orig": np.stack([apply_affine(a, p) for a, p in zip(inv, pred)]),
        "gt_orig": np.stack([apply_affine(a, g) for a, g in zip(inv, gt)]),
        "bbox_size": np.maximum(bbox[:, 2], bbox[:, 3]) * scale,
        "image_id": [int(m["image_id"]) for m in out["meta"]],
        "ann_id": [int(m.get("ann_id", -1)) for m in out["meta"]],
        "area": [float(m.get("area", 0.0)) for m in out["meta"]],
        "det_score": np.array([float(m.get("det_score", 1.0)) for m in out["meta"]]),
    }


def evaluate_predictions(
    preds: dict[str, Any],
    coco_gt: str | None = None,
    sigmas: np.ndarray | None = None,
    pck: tuple[float, ...] = (0.05, 0.1),
    nme_pair: Any = None,
    ap_kind: str = "coco",
) -> dict[str, Any]:
    """Single-keypoint metrics, plus OKS AP when a ground-truth file is given (``ap_kind``: ``coco`` through
    pycocotools, ``crowdpose`` through xtcocotools), plus NME when
    ``nme_pair`` (two keypoint indices, e.g. the outer eye corners ``(36, 45)``) is given: ``nme`` over all
    labelled points, ``nme_vis`` / ``nme_inv`` over visible / occluded ones, and ``fr`` (FR@0.1)."""
    from ..metrics.coco import coco_keypoint_ap, crowdpose_ap, predictions_to_coco_results
    from ..metrics.keypoint import single_keypoint_metrics

    m = single_keypoint_metrics(preds["pred"], preds["score"], preds["gt"], preds["vis"], preds["bbox_size"], tuple(pck))
    m["ap"] = None
    if coco_gt is not None:
        # Instance score: mean keypoint confidence times the person detector's score (1 for ground-truth
        # boxes), as the top-down COCO protocol ranks detections.
        inst = None
        if preds["score"] is not None and "det_score" in preds:
            inst = preds["score"].mean(axis=1) * preds["det_score"]
        results = predictions_to_coco_results(preds["image_id"], preds["pred_orig"], preds["score"], inst)
        m["coco"] = crowdpose_ap(coco_gt, results) if ap_kind == "crowdpose" else coco_keypoint_ap(coco_gt, results, sigmas=sigmas)
        m["ap"] = m["coco"]["AP"]
    if nme_pair is not None:
        from ..metrics.nme import failure_rate, nme_per_instance, normaliser

        g, v = preds["gt_orig"], preds["vis"]
        norm = normaliser(g, nme_pair)
        err = np.linalg.norm(preds["pred_orig"] - g, axis=-1) / norm[:, None]  # (M, K) normalised errors
        per_face = nme_per_instance(preds["pred_orig"], g, v, norm)
        m["nme"] = float(per_face.mean())
        m["nme_vis"] = float(err[v == 2].mean()) if (v == 2).any() else None
        m["nme_inv"] = float(err[v == 1].mean()) if (v == 1).any() else None
        m["fr"] = failure_rate(per_face, 0.1)
    return m


def evaluate_dataset(model: nn.Module, strategy: Strategy, cfg: Any, dataset: Dataset, device: torch.device | str = "cpu",
                     progress: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """Predict on ``dataset`` and compute every metric its config calls for: single-keypoint errors and
    scores always; OKS AP for COCO-format sets with OKS sigmas (CrowdPose through xtcocotools); NME for
    sets whose spec names an inter-ocular pair. Returns ``(metrics, predictions)``."""
    from ..data.build import annotation_path
    from ..data.spec_source import load_spec

    preds = predict(model, strategy, dataset, int(cfg.eval.batch_size), device, cfg.eval.max_images, progress, 0)
    spec = load_spec(cfg.data.spec)
    fmt = str(cfg.data.format)
    gt = None
    if spec.sigmas is not None and fmt in ("synth", "coco", "crowdpose") and cfg.eval.max_images is None and not cfg.data.get("csv"):
        gt = str(annotation_path(cfg.data, "val"))
    m = evaluate_predictions(preds, gt, spec.sigmas, tuple(cfg.eval.pck), nme_pair=spec.nme.get("interocular"),
                             ap_kind="crowdpose" if fmt == "crowdpose" else "coco")
    return m, preds
