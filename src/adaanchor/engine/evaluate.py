"""Prediction over a dataset and single-keypoint evaluation (paper appendix A.2 + COCO OKS AP).

Errors and scores are measured in input-crop pixels (the paper's Vis./Inv. Error) and, as ``*_orig``, in
original-image pixels after the exact inverse of the crop transform; PCK is normalised by the instance box
size; OKS AP is computed by pycocotools in original-image coordinates. A non-finite prediction (NaN or inf
coordinate or confidence, e.g. from NaN weights) is a miss on every path: left out of the COCO results
(so AP counts a missed instance), wrong in PCK, a failure in NME's FR, and counted in ``nonfinite``
(docs/metrics.md).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm import tqdm

from ..coords import outside_frame
from ..data.transforms import apply_affine, invert_affine
from ..data.types import collate
from ..errors import AdaAnchorError, check_stop
from ..progress import leave_bar
from ..strategies import Strategy
from ..strategies.flip_test import predict_flip
from .ap_truth import (  # noqa: F401 - re-exported: the engine's callers import them from here
    ap_ground_truth_file,
    check_ap_ground_truth,
    dataset_people,
    kept_ground_truth,
)


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
    flip_index: np.ndarray | None = None,
) -> dict[str, Any]:
    """Run the model over ``dataset`` (one instance per item) and decode; with ``flip_index`` (the spec's
    :meth:`~adaanchor.data.spec.KeypointSpec.flip_index`) each batch also mirrored and the two averaged
    (:mod:`adaanchor.strategies.flip_test`, ``eval.flip_test``).

    Returns numpy arrays: ``pred``/``gt``/``anchor`` ``(M, K, 2)`` in crop pixels, ``pred_orig``/``gt_orig``
    in original-image pixels, ``score (M, K)`` or None, ``vis (M, K)`` (in the crop: a labelled point the
    crop cuts off is ``v = 1``), ``vis_labelled (M, K)`` (the annotation's own flags), ``outside (M, K)`` (the labelled location lies outside the input crop or the
    original image), ``bbox_size (M,)`` in crop pixels, ``scale (M,)`` (crop pixels per original pixel), and
    lists ``image_id``, ``ann_id``, ``area``.
    """
    if max_images is not None and max_images < len(dataset):  # type: ignore[arg-type]
        dataset = Subset(dataset, range(int(max_images)))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate, num_workers=workers)
    was_training = model.training
    model.eval()
    out: dict[str, list] = {k: [] for k in ("pred", "gt", "anchor", "score", "vis", "meta")}
    in_hw = (0, 0)
    for batch in tqdm(loader, desc="eval", disable=not progress, leave=leave_bar()):
        check_stop()  # a SIGTERM whose exception a finalizer swallowed (adaanchor.errors.check_stop)
        in_hw = tuple(batch["image"].shape[-2:])
        x = batch["image"].to(device)
        dec = (strategy.predict(model, x) if flip_index is None
               else predict_flip(lambda t: strategy.predict(model, t), x, flip_index))
        out["pred"].append(dec.xy.float().cpu().numpy())
        out["anchor"].append(dec.anchor.cpu().numpy() if dec.anchor is not None else np.full(dec.xy.shape, np.nan))
        out["score"].append(dec.score.float().cpu().numpy() if dec.score is not None else None)
        out["gt"].append(batch["keypoints"][:, 0].numpy())
        out["vis"].append(batch["visibility"][:, 0].numpy())
        out["meta"].extend(batch["meta"])
    model.train(was_training)
    pred, gt = np.concatenate(out["pred"]), np.concatenate(out["gt"])
    inv = [invert_affine(np.asarray(m["affine"], dtype=np.float64)) for m in out["meta"]]
    scale = np.array([np.sqrt(abs(np.linalg.det(np.asarray(m["affine"])[:, :2]))) for m in out["meta"]])
    bbox = np.array([np.asarray(m["bbox"], dtype=np.float64) for m in out["meta"]])
    with np.errstate(invalid="ignore"):  # NaN predictions stay NaN through the inverse affine
        pred_orig = np.stack([apply_affine(a, p) for a, p in zip(inv, pred)])
    gt_orig = np.stack([apply_affine(a, g) for a, g in zip(inv, gt)])
    return {
        "pred": pred,
        "gt": gt,
        "anchor": np.concatenate(out["anchor"]),
        "score": None if out["score"][0] is None else np.concatenate(out["score"]),
        "vis": np.concatenate(out["vis"]),
        "vis_labelled": np.array([m["labelled_visibility"] for m in out["meta"]], dtype=np.int64).reshape(pred.shape[:2]),
        "outside": _outside(gt, gt_orig, in_hw, out["meta"]),
        "pred_orig": pred_orig,
        "gt_orig": gt_orig,
        "bbox_size": np.maximum(bbox[:, 2], bbox[:, 3]) * scale,
        "scale": scale,
        "image_id": [int(m["image_id"]) for m in out["meta"]],
        "ann_id": [int(m.get("ann_id", -1)) for m in out["meta"]],
        "area": [float(m.get("area", 0.0)) for m in out["meta"]],
        "det_score": np.array([float(m.get("det_score", 1.0)) for m in out["meta"]]),
    }


def _outside(gt: np.ndarray, gt_orig: np.ndarray, in_hw: tuple[int, ...], meta: list[dict]) -> np.ndarray:
    """``(M, K)``: the ground-truth location is outside the input crop ``in_hw`` or outside the original
    image (``meta["image_size"]``, when the dataset gives it), by the pixel-centre convention."""
    h, w = in_hw
    out = outside_frame(gt[..., 0], gt[..., 1], w, h)
    for m, meta_m in enumerate(meta):
        size = meta_m.get("image_size")
        if size is not None:
            iw, ih = size
            x, y = gt_orig[m, :, 0], gt_orig[m, :, 1]
            out[m] |= outside_frame(x, y, iw, ih)
    return out


def finite_instances(preds: dict[str, Any]) -> np.ndarray:
    """``(M,)`` True for instances whose every predicted coordinate and confidence is finite."""
    from ..metrics.keypoint import nonfinite_keypoints

    return ~nonfinite_keypoints(preds["pred_orig"], preds["score"]).any(axis=1)


def coco_results(preds: dict[str, Any], category_id: int = 1) -> list[dict]:
    """The predictions as COCO keypoint results (original-image pixels, with ``ann_id``), accepted by
    ``adaanchor score``, under ``preds["category_id"]`` (one id, or one per instance: set by
    :func:`evaluate_dataset` from the ground truth's categories) where given, else ``category_id``. Instances with a non-finite prediction are left out (misses; see ``nonfinite``).
    The instance score is the mean keypoint confidence times the person detector's score (1 for
    ground-truth boxes), as the top-down COCO protocol ranks detections."""
    from ..metrics.coco import predictions_to_coco_results

    keep = finite_instances(preds)
    idx = np.flatnonzero(keep)
    score = None if preds["score"] is None else preds["score"][idx]
    inst = None
    if score is not None and "det_score" in preds:
        inst = score.mean(axis=1) * np.asarray(preds["det_score"])[idx]
    ann = preds.get("ann_id")
    cats = preds.get("category_id", category_id)  # evaluate_dataset's: one id, or one per instance
    res = predictions_to_coco_results([preds["image_id"][i] for i in idx], preds["pred_orig"][idx], score, inst,
                                      category_id=cats if isinstance(cats, int) else 1,
                                      ann_ids=None if ann is None else [ann[i] for i in idx])
    if not isinstance(cats, int):
        for r, i in zip(res, idx, strict=True):
            r["category_id"] = int(cats[i])
    return res


def _error_breakdown(preds: dict[str, Any], names: Any) -> dict[str, Any]:
    """Errors in input pixels and in original-image pixels (``*_orig``): visible / invisible, invisible
    split into inside / outside the image, and per keypoint type (``per_keypoint``, ``per_keypoint_orig``)."""
    from ..metrics.keypoint import errors_by_keypoint, errors_by_visibility

    out: dict[str, Any] = {}
    for suffix, p, g in (("", preds["pred"], preds["gt"]), ("_orig", preds["pred_orig"], preds["gt_orig"])):
        e = errors_by_visibility(p, g, preds["vis"], preds.get("outside"))
        counts = e.pop("counts_inv", None)
        out.update({f"{k}{suffix}": val for k, val in e.items()})
        out[f"per_keypoint{suffix}"] = errors_by_keypoint(p, g, preds["vis"], names)
        if counts is not None:
            out["counts_inv"] = counts
    return out


def evaluate_predictions(
    preds: dict[str, Any],
    coco_gt: Any = None,
    sigmas: np.ndarray | None = None,
    pck: tuple[float, ...] = (0.05, 0.1),
    nme_pair: Any = None,
    ap_kind: str = "coco",
    keypoint_names: Any = None,
) -> dict[str, Any]:
    """Every metric of a prediction dict (from :func:`predict`).

    Always: :func:`~adaanchor.metrics.keypoint.single_keypoint_metrics` in input pixels, the same errors in
    original-image pixels (``vis_error_orig``, ``inv_error_orig``), the invisible error split into inside /
    outside the image (``inv_error_in``, ``inv_error_out``, and ``*_orig``), per keypoint type
    (``per_keypoint``, ``per_keypoint_orig``: named by ``keypoint_names``, default ``kp0..``) and
    ``nonfinite`` (misses). With ``coco_gt``: OKS AP (``ap_kind`` ``coco`` through pycocotools,
    ``crowdpose`` through xtcocotools) of the finite predictions. With ``nme_pair`` (two keypoint indices or
    index lists, e.g. the outer eye corners ``(36, 45)``): :func:`~adaanchor.metrics.nme.nme_metrics` in
    original-image pixels, under ``nme_detail``, and its headline numbers as ``nme`` (per-face mean),
    ``nme_vis`` / ``nme_inv`` (point-level over visible / occluded points) and ``fr`` (FR@0.1); when some
    landmarks lie outside the input (``data.truncation``), also ``nme_out`` over them and ``nme_vis_in`` /
    ``nme_inv_in`` over the visible / occluded ones inside it.
    """
    from ..metrics.coco import coco_keypoint_ap, crowdpose_ap
    from ..metrics.keypoint import single_keypoint_metrics

    m = single_keypoint_metrics(preds["pred"], preds["score"], preds["gt"], preds["vis"], preds["bbox_size"], tuple(pck))
    k = preds["pred"].shape[1]
    m.update(_error_breakdown(preds, list(keypoint_names) if keypoint_names is not None else [f"kp{j}" for j in range(k)]))
    m["ap"] = None
    if coco_gt is not None:
        results = coco_results(preds)
        m["coco"] = crowdpose_ap(coco_gt, results) if ap_kind == "crowdpose" else coco_keypoint_ap(coco_gt, results, sigmas=sigmas)
        m["ap"] = m["coco"]["AP"]
    if nme_pair is not None:
        from ..metrics.keypoint import threshold_key
        from ..metrics.nme import FR_THRESHOLD, nme_metrics, norm_pair, unlabelled_normaliser

        # Occluded is the annotation's flag here (the paper's NME of occluded landmarks), not the crop's: a landmark
        # the crop cuts off was counted as occluded.
        vis_own = preds.get("vis_labelled", preds["vis"])
        bad = unlabelled_normaliser(vis_own, norm_pair(nme_pair, k))
        if bad is not None:  # its ground truth there is a placeholder: the NME would be divided by a distance to it
            raise AdaAnchorError(f"NME: keypoint {bad[1]} of the inter-ocular normaliser is not labelled (v = 0) on the "
                                 f"face ann_id {preds['ann_id'][bad[0]]} (image_id {preds['image_id'][bad[0]]})")
        d = nme_metrics(preds["pred_orig"], preds["gt_orig"], vis_own, norm=nme_pair, outside=preds.get("outside"))
        m["nme_detail"] = d
        m.update({"nme": d["NME"], "nme_vis": d["NME_vis"], "nme_inv": d["NME_inv"],
                  "fr": d[f"FR@{threshold_key(FR_THRESHOLD)}"]})
        # Split by the input's edge (a truncating crop): None where no point lies outside it.
        if d.get("NME_out") is not None:
            m.update({"nme_vis_in": d["NME_vis_in"], "nme_inv_in": d["NME_inv_in"], "nme_out": d["NME_out"]})
    return m


def warn_nonfinite(m: dict[str, Any], total: int, out: Any = None) -> None:
    """One line on stderr when some predictions were not finite (counted as misses)."""
    n = (m.get("nonfinite") or {}).get("instances", 0)
    if n:
        print(f"warning: {n} of {total} instances have non-finite predictions (NaN/inf): counted as misses "
              "(left out of the errors and the AP results, wrong in PCK)", file=out or sys.stderr)


#: Formats without a COCO annotation file whose OKS AP is scored against ground truth built from the evaluated
#: instances (when the keypoint spec has OKS sigmas: a 17-keypoint YOLO dataset is COCO's).
AP_FROM_INSTANCES = ("yolo", "dlc", "slp", "nwb")


def _check_call(dataset: Any, device: Any) -> None:
    """One-line errors for what failed deep inside: an empty dataset (``need at least one array to concatenate``)
    and a CUDA device on a machine without one (torch's ``AssertionError``)."""
    if len(dataset) == 0:
        raise AdaAnchorError("evaluate_dataset: the dataset holds no instance to evaluate")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise AdaAnchorError(f"evaluate_dataset: device {device!r}: expected cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise AdaAnchorError(f"evaluate_dataset: device {device!r}: CUDA is not available on this machine (use cpu)")


def evaluate_dataset(model: nn.Module, strategy: Strategy, cfg: Any, dataset: Dataset, device: torch.device | str = "cpu",
                     progress: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """Predict on ``dataset`` and compute every metric its config calls for: single-keypoint errors and
    scores always; OKS AP for COCO-format sets with OKS sigmas (CrowdPose through xtcocotools); NME for
    sets whose spec names an inter-ocular pair. Returns ``(metrics, predictions)``."""
    from ..data.build import data_spec, splits_one_file

    _check_call(dataset, device)
    spec = data_spec(cfg.data)
    flip = spec.flip_index if cfg.eval.get("flip_test") else None
    preds = predict(model, strategy, dataset, int(cfg.eval.batch_size), device, cfg.eval.max_images, progress, 0, flip)
    fmt = str(cfg.data.format)
    # The dataset's own split: a training split's predictions were scored against the val file (AP 0.00004 where
    # its own annotations gave 0.21), or refused naming an image id of the val file.
    # A part of a split (a Subset) has no AP, as eval.max_images has none: its file's other people would be missed.
    gt: Any = None if isinstance(dataset, Subset) else ap_ground_truth_file(cfg, spec, str(getattr(dataset, "split", "val")))
    if gt is not None:
        gt = kept_ground_truth(cfg, gt, dataset_people(dataset))
        if splits_one_file(cfg.data):
            # The file holds both sides of the split: its other images' people would count as missed.
            from ..metrics.gt_subsets import gt_of_images
            from ..metrics.results import load_coco_gt

            gt = gt_of_images(load_coco_gt(gt)[0], {int(i) for i in preds["image_id"]})
    elif (spec.sigmas is not None and fmt in AP_FROM_INSTANCES and cfg.eval.max_images is None
          and getattr(dataset, "instances", None)):
        from ..metrics.gt_subsets import gt_from_instances

        gt = gt_from_instances(dataset.instances, spec.keypoints, spec.name)  # type: ignore[attr-defined]
    if gt is not None:  # the results' categories: the file's, not always 1 (metrics.checked.scoring_categories)
        from ..metrics.checked import scoring_categories

        ann = preds.get("ann_id")
        gt, preds["category_id"] = scoring_categories(gt, None if ann is None else list(ann))
    m = evaluate_predictions(preds, gt, spec.sigmas, tuple(cfg.eval.pck), nme_pair=spec.nme.get("interocular"),
                             ap_kind="crowdpose" if fmt == "crowdpose" else "coco", keypoint_names=spec.keypoints)
    warn_nonfinite(m, len(preds["image_id"]))
    return m, preds
