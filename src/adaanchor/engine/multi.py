"""Evaluation of the multi-person tasks (``task=bottomup`` or ``centre``) in the generic pipeline: training-time evaluation
(best checkpoint by AP) and ``adaanchor eval RUN``.

Each image of the whole-image evaluation set goes through the model once (batch 1: the test-time input
follows each image's size); its poses are decoded and grouped at every threshold asked for right away, so
only the COCO results are kept, not the model's outputs (which would not fit in memory on COCO val). The
strategy is read through ``decode_poses(outputs, gamma)`` and ``options["gamma"]`` only
(:mod:`adaanchor.strategies.tasks`); with ``eval.flip_test`` each image also goes through mirrored and the two
passes' maps are merged by the strategy's ``flip_merge`` before decoding (:mod:`adaanchor.strategies.flip_test`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm import tqdm

from ..data.bottomup import to_image_coords
from ..data.build import annotation_path, data_spec, splits_one_file
from ..data.jsonio import load_json
from ..data.paths import COCO_JSON_FORMATS, GENERATED_FORMATS
from ..data.types import collate
from ..errors import AdaAnchorError, check_stop
from ..metrics.checked import checked_gt, labelled, scoring_categories
from ..metrics.coco import crowdpose_ap
from ..metrics.gt_subsets import gt_from_instances, gt_of_images, gt_of_kept
from ..metrics.sweep import GAMMAS, gamma_sweep, multi_person_metrics
from ..progress import leave_bar
from ..strategies.flip_test import flip_outputs
from .ap_truth import dataset_people
from .bottomup import pose_results


@torch.no_grad()
def results_by_gamma(model: nn.Module, strategy: Any, dataset: Dataset, gammas: Sequence[float],
                     device: torch.device | str = "cpu", progress: bool = False,
                     dropped: dict[float, int] | None = None, flip_index: Any = None) -> dict[float, list[dict]]:
    """COCO results (original-image pixels, several people per image) of every image at each threshold.

    The model sees each item's ``image (1, 3, H, W)``; ``strategy.decode_poses`` returns poses in input
    pixels, mapped back through the inverse of the item's ``meta["affine"]``. ``dropped`` (when given) receives,
    per threshold, the number of poses left out for a NaN or infinite value (misses, as in top-down evaluation).
    With ``flip_index`` (the spec's flip permutation) the flip test: the maps of the image and of its mirror merged
    (:func:`~adaanchor.strategies.flip_test.flip_outputs`).
    """
    loader = DataLoader(dataset, batch_size=1, shuffle=False, collate_fn=collate)
    was_training = model.training
    model.eval()
    out: dict[float, list[dict]] = {float(g): [] for g in gammas}
    for batch in tqdm(loader, desc="eval", disable=not progress, leave=leave_bar()):
        check_stop()  # a SIGTERM whose exception a finalizer swallowed (adaanchor.errors.check_stop)
        x = batch["image"].to(device)
        outputs = ({k: v.float() for k, v in model(x).items()} if flip_index is None
                   else flip_outputs(model, strategy, x, flip_index))
        meta = batch["meta"][0]
        for g, results in out.items():
            poses = strategy.decode_poses(outputs, gamma=g)[0]
            kept = pose_results(poses, meta["image_id"], to_image_coords(poses.keypoints[..., :2], meta["affine"]))
            if dropped is not None:
                dropped[g] = dropped.get(g, 0) + len(poses.score) - len(kept)
            results += kept
    model.train(was_training)
    return out


def split_ground_truth(cfg: Any, dataset: Dataset) -> tuple[dict[str, Any], Dataset]:
    """The val annotations, and the dataset. An annotation without ``area`` (CrowdPose) gets ``0.53 * w * h``
    of its box, xtcocotools' ``use_area=False`` scale, for AP and recall alike. With ``eval.max_images`` the
    first images only, and the ground truth cut to them (the images left out would count as misses); the same
    cut to the evaluated images when ``data.split`` divides one file into train and val.

    Data read from files that are not COCO JSON (a DeepLabCut or SLEAP project, an NWB file, a YOLO dataset)
    is scored against the people its reader gave the dataset (:func:`~adaanchor.metrics.results.gt_from_instances`):
    their annotation files were read as COCO JSON, which stopped the run at its first evaluation."""
    n = cfg.eval.max_images
    keep = len(dataset) if n is None else min(int(n), len(dataset))  # type: ignore[arg-type]
    kept = dataset if keep == len(dataset) else Subset(dataset, range(keep))  # type: ignore[arg-type]
    if str(cfg.data.format) not in (*COCO_JSON_FORMATS, *GENERATED_FORMATS):
        spec = data_spec(cfg.data)
        people = [inst for group in dataset.images[:keep] for inst in group]  # type: ignore[attr-defined]
        return gt_from_instances(people, spec.keypoints, spec.name), kept
    # the dataset's own split (an evaluation of the training split scored against the val file)
    data = dict(load_json(annotation_path(cfg.data, str(getattr(dataset, "split", "val")))))
    if cfg.data.get("skip_invalid"):  # the people the reader skipped are out of the evaluation too
        data = gt_of_kept(data, (inst.ann_id for inst in dataset_people(dataset) or ()))
    anns = [a if "area" in a else {**a, "area": 0.53 * a["bbox"][2] * a["bbox"][3]} for a in data["annotations"]]
    data["annotations"] = anns
    split = splits_one_file(cfg.data)
    if keep == len(dataset) and not split:  # type: ignore[arg-type]
        return data, dataset
    ids = {dataset.images[i][0].image_id for i in range(keep)}  # type: ignore[attr-defined]
    return gt_of_images(data, ids), kept


def check_sigmas(cfg: Any) -> Any:
    """The keypoint spec of a multi-person run, which its OKS AP evaluation needs with sigmas (checked before
    training too: a spec without them stopped the run at its first evaluation, after the training)."""
    spec = data_spec(cfg.data)
    if spec.sigmas is None:
        raise AdaAnchorError(f"task={cfg.task} is evaluated by OKS AP: the keypoint spec {cfg.data.spec} needs "
                             "OKS sigmas (a spec YAML file with 'sigmas', given as data.spec; docs/datasets.md)")
    return spec


def evaluate_multi(model: nn.Module, strategy: Any, cfg: Any, dataset: Dataset, device: torch.device | str = "cpu",
                   progress: bool = False, sweep: bool = False) -> tuple[dict[str, Any], list[dict]]:
    """AP family (pycocotools, the spec's OKS sigmas) and keypoint recall at ``bottomup.gamma`` (with the flip test
    where ``eval.flip_test`` says so); with
    ``sweep`` also ``ap_by_gamma``/``recall_by_gamma`` over :data:`~adaanchor.metrics.sweep.GAMMAS`; for
    ``data.format=crowdpose`` also the official CrowdPose AP (easy/medium/hard) under ``crowdpose``.

    Returns ``(metrics, COCO results at gamma)``; metrics: ``ap, ap50, ap75, apm, apl, ar, recall, gamma,
    images, poses, eval_s`` (and the above), and ``nonfinite_poses`` when poses with a NaN or infinite value were
    left out (misses).
    """
    t0 = time.time()
    spec = check_sigmas(cfg)
    gt, dataset = split_ground_truth(cfg, dataset)
    g = float(strategy.options["gamma"])
    dropped: dict[float, int] = {}
    flip = spec.flip_index if cfg.eval.get("flip_test") else None
    res = results_by_gamma(model, strategy, dataset, sorted({g, *(GAMMAS if sweep else ())}), device, progress, dropped,
                           flip)
    gt = checked_gt(gt)  # read and checked once for every threshold and the CrowdPose AP, not twice for each
    # The poses carry no category: the file's one, or its categories pooled (metrics.checked.scoring_categories).
    gt, cat = scoring_categories(gt)
    res = {x: labelled(r, int(cat)) for x, r in res.items()}  # type: ignore[arg-type]
    m: dict[str, Any] = dict(multi_person_metrics(gt, res[g], spec.sigmas))
    if dropped.get(g):  # only then: the key would widen every run's eval log
        m["nonfinite_poses"] = dropped[g]
    if sweep:
        m.update(gamma_sweep(lambda x: res[float(x)], gt, spec.sigmas, GAMMAS, known={g: dict(m)}))
    if str(cfg.data.format) == "crowdpose":
        m["crowdpose"] = crowdpose_ap(gt, res[g])
    m.update(gamma=g, images=len(dataset), poses=len(res[g]), eval_s=round(time.time() - t0, 2))  # type: ignore[arg-type]
    return m, res[g]


def format_multi_eval(method: str, m: dict[str, Any]) -> str:
    """The text of ``adaanchor eval`` on a multi-person run: AP family in percent, recall, the sweep."""
    pct = lambda v: "N/A" if v is None or v < 0 else f"{100 * v:.1f}"  # noqa: E731 (pycocotools: -1 = no data)
    keys = ("ap", "ap50", "ap75", "apm", "apl", "ar")
    lines = ["| Method | " + " | ".join(k.upper() for k in keys) + " | Recall |", "|---" * (len(keys) + 2) + "|",
             f"| {method} | " + " | ".join(pct(m.get(k)) for k in keys) + f" | {m.get('recall', 0.0):.3f} |", "",
             f"gamma = {m.get('gamma')}: {m.get('poses', 0)} poses on {m.get('images', 0)} images"]
    cp = m.get("crowdpose")
    if cp:
        lines.append("CrowdPose AP " + ", ".join(f"{k} {pct(cp.get(k))}" for k in ("AP", "AP_easy", "AP_medium", "AP_hard")))
    if m.get("ap_by_gamma"):
        gs = list(m["ap_by_gamma"])
        lines += ["", "| gamma | " + " | ".join(gs) + " |", "|---" * (len(gs) + 1) + "|",
                  "| AP | " + " | ".join(pct(m["ap_by_gamma"][x]) for x in gs) + " |",
                  "| recall | " + " | ".join(f"{m['recall_by_gamma'][x]:.3f}" for x in gs) + " |"]
    return "\n".join(lines)


def eval_multi_command(cfg: Any, model: nn.Module, strategy: Any, info: dict[str, Any],
                       predictions: str | None = None, device: torch.device | str = "cpu") -> dict[str, Any]:
    """``adaanchor eval`` of a multi-person run on the val split: prints the table, writes the COCO results at
    gamma to ``predictions`` (when given); returns the metrics with the sweep and ``checkpoint``."""
    from ..metrics.coco import write_results
    from .run import build_split

    ds = build_split(cfg, "val", strategy.stride, train=False)
    m, res = evaluate_multi(model, strategy, cfg, ds, device, progress=True, sweep=True)
    m["checkpoint"] = info.get("checkpoint")
    warn_no_poses(m)
    print(format_multi_eval(cfg.strategy.name, m))
    if predictions:
        write_results(res, predictions)  # a DataError naming the file when it cannot be written
        print(f"wrote {predictions} ({len(res)} poses at gamma={m['gamma']}, COCO results)")
    return m


def warn_no_poses(m: dict[str, Any], out: Any = None) -> None:
    """One line on stderr when nothing was found at the threshold (an untrained model, or gamma too high), and
    one when poses with a NaN or infinite value were left out (diverged weights)."""
    if not m.get("poses"):
        print(f"warning: no pose found at gamma={m.get('gamma')} on {m.get('images')} images (AP is 0)",
              file=out or sys.stderr)
    warn_nonfinite_poses(m, out)


def warn_nonfinite_poses(m: dict[str, Any], out: Any = None) -> None:
    """One line on stderr when poses with a NaN or infinite value were left out (``eval`` and training's
    evaluations alike; top-down evaluation says the same of its instances)."""
    if m.get("nonfinite_poses"):
        print(f"warning: {m['nonfinite_poses']} pose(s) had NaN or infinite keypoints or scores (diverged weights?) "
              "and were left out of the results: misses for AP and recall", file=out or sys.stderr)


__all__ = ["eval_multi_command", "evaluate_multi", "format_multi_eval", "results_by_gamma", "split_ground_truth",
           "warn_no_poses",
           "warn_nonfinite_poses"]
