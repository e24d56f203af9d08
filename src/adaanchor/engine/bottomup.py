"""Bottom-up training steps and evaluation (AP, recall, the gamma sweep) on whole images.

The training step is the generic one (forward, the strategy encodes targets from detached outputs, one
generic loss with the ``ae`` kind for the tags, Adam); :func:`train_steps` runs it for a fixed number of
steps for benchmarks and the demo, optionally saving and resuming a partial run (``state_path``).
:func:`evaluate_bottomup` runs the model once per image, then decodes and groups at every gamma.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler
from tqdm import tqdm

from ..data.bottomup import BottomUpDataset, to_image_coords
from ..data.types import collate
from ..errors import AdaAnchorError
from ..metrics.checked import checked_gt
from ..metrics.coco import predictions_to_coco_results
from ..metrics.keypoint import nonfinite_keypoints
from ..metrics.sweep import GAMMAS, gamma_sweep, multi_person_metrics
from ..models.net import KeypointNet
from ..progress import leave_bar
from ..safe_torch import safe_load
from ..strategies import compute_loss
from ..strategies.flip_test import flip_outputs
from ..strategies.grouping import Poses, group_poses
from ..strategies.tags import BottomUpStrategy
from .checkpoint import atomic_save, rng_state, set_rng_state

#: What :func:`train_steps` multiplies the learning rate by at each of :func:`lr_milestones`.
LR_FACTOR = 0.1


def lr_milestones(steps: int) -> list[int]:
    """The steps after which :func:`train_steps` multiplies the learning rate by :data:`LR_FACTOR`: 90/140 and
    120/140 of the run (the paper's schedule shape), each once (a 1-step run has one)."""
    return sorted({round(steps * 90 / 140), round(steps * 120 / 140)})


def train_steps(model: KeypointNet, strategy: BottomUpStrategy, dataset: BottomUpDataset, steps: int,
                batch_size: int = 16, lr: float = 1e-3, seed: int = 0, focal_gamma: float = 2.0,
                log: Callable[[int, dict[str, float]], None] | None = None, log_every: int = 25,
                on_step: Callable[[int], None] | None = None, state_path: str | Path | None = None,
                save_every: int = 200) -> list[dict[str, float]]:
    """``steps`` Adam steps (lr divided by 10 at 90/140 and 120/140 of the run, the paper's schedule shape).

    ``on_step(step)`` is called after every step (e.g. to keep a snapshot of the weights). ``state_path``: the
    training state (weights, optimiser, schedule, RNGs, the logged rows) is written there atomically every
    ``save_every`` steps, and a run finding it there continues from it: the same data order and augmentation
    draws, so the same weights as a run that was not stopped (tested). The caller removes it when done.
    Returns the logged rows (``step``, every loss term, ``time_s``).
    """
    np.random.seed(seed)
    gen = torch.Generator().manual_seed(seed)
    # The whole order, drawn up front as the sampler draws it: a resumed run skips what was trained.
    order = list(RandomSampler(dataset, replacement=True, num_samples=steps * batch_size, generator=gen))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, lr_milestones(steps), LR_FACTOR)
    saved = _load_state(state_path, steps, batch_size, seed) if state_path is not None else None
    done = 0 if saved is None else int(saved["step"])
    rows: list[dict[str, float]] = [] if saved is None else [dict(r) for r in saved["rows"]]
    loader = DataLoader(dataset, batch_size=batch_size, sampler=order[done * batch_size:], collate_fn=collate,
                        drop_last=True)
    batches = iter(loader)  # creating it draws from the global RNG: restore the saved RNGs after it
    if saved is not None:
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        sched.load_state_dict(saved["scheduler"])
        set_rng_state(saved["rng"])
    model.train()
    t0 = time.time() - (rows[-1]["time_s"] if rows else 0.0)
    for step, batch in enumerate(batches, start=done + 1):
        outputs = model(batch["image"])
        enc = strategy.encode({k: v.detach() for k, v in outputs.items()}, batch["keypoints"], batch["visibility"], step)
        losses = compute_loss(outputs, enc.targets, strategy.losses, focal_gamma)
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        opt.step()
        sched.step()
        if on_step is not None:
            on_step(step)
        if step % log_every == 0 or step == steps:
            row = {"step": float(step), **{k: float(v.detach()) for k, v in losses.items()},
                   "time_s": round(time.time() - t0, 2)}
            rows.append(row)
            if log is not None:
                log(step, row)
        if state_path is not None and step % save_every == 0 and step < steps:
            atomic_save({"step": step, "steps": steps, "batch_size": batch_size, "seed": seed,
                         "model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                         "rng": rng_state(), "rows": rows}, state_path)
    return rows


def _load_state(path: str | Path, steps: int, batch_size: int, seed: int) -> dict[str, Any] | None:
    """The partial-run state at ``path`` (None when there is none), refused with a clear error when it belongs to
    a run of other steps, batch size or seed."""
    if not Path(path).is_file():
        return None
    state = safe_load(path)
    want = {"steps": steps, "batch_size": batch_size, "seed": seed}
    got = {k: state.get(k) if isinstance(state, dict) else None for k in want}
    if got != want or not isinstance(state.get("step"), int) or not 0 < state["step"] < steps:
        raise AdaAnchorError(f"{path}: a partial run of other settings ({got}, step {state.get('step')}; this run: "
                             f"{want}): delete it to start again")
    return state


@torch.no_grad()
def predict_outputs(model: KeypointNet, dataset: BottomUpDataset, batch_size: int = 8, strategy: Any = None,
                    flip_index: Any = None) -> list[tuple[dict, dict]]:
    """The model's outputs of every image, ``[(outputs with batch 1, meta), ...]`` in dataset order (batches of up
    to ``batch_size`` consecutive images of one input size); with ``flip_index`` (the spec's flip permutation) the
    flip test's maps, ``strategy.flip_merge`` of each image's and its mirror's
    (:func:`~adaanchor.strategies.flip_test.flip_outputs`)."""
    model.eval()
    out: list[tuple[dict, dict]] = []
    for batch in _same_size_batches(dataset, batch_size):
        o = model(batch["image"]) if flip_index is None else flip_outputs(model, strategy, batch["image"], flip_index)
        for i, meta in enumerate(batch["meta"]):
            out.append(({k: v[i: i + 1] for k, v in o.items()}, meta))
    return out


def _same_size_batches(dataset: Any, batch_size: int) -> Iterator[dict[str, Any]]:
    """Collated batches of consecutive items whose inputs have one size: a test-time input follows its image's
    aspect, and a fixed batch of images of two sizes stopped the evaluation in ``torch.stack``."""
    pending: list[dict[str, Any]] = []
    for i in range(len(dataset)):
        item = dataset[i]
        if pending and (len(pending) >= batch_size or item["image"].shape != pending[0]["image"].shape):
            yield collate(pending)
            pending = []
        pending.append(item)
    if pending:
        yield collate(pending)


def oracle_poses(strategy: BottomUpStrategy, outputs: dict, affine: np.ndarray, gt_xy: np.ndarray,
                 gt_vis: np.ndarray, gamma: float) -> Poses:
    """Poses grouped with oracle tags, in original-image pixels: each detection takes the tag of the ground-truth
    person whose keypoint of its type is nearest (``gt_xy (N, K, 2)``, ``gt_vis (N, K)``). This stands in for the
    paper's pretrained tagger: what is left to compare is the localization (duplicates and misses included)."""
    dec, _ = strategy.decode_multi(outputs, gamma)
    xy = to_image_coords(dec.xy[0].cpu().numpy().astype(np.float64), affine)  # (K, M, 2)
    k_types, m = xy.shape[:2]
    o = strategy.options
    # Tags 3 thresholds apart, so no two people (nor a person and a lone detection) are ever within the grouping's
    # tag_threshold: a fixed gap of 3 joined people under tag_threshold > 3.
    gap = 3.0 * float(o["tag_threshold"])
    tag = np.zeros((k_types, m))
    for k in range(k_types):
        d = np.linalg.norm(xy[k][:, None] - gt_xy[None, :, k], axis=-1)  # (M, N)
        d[:, gt_vis[:, k] <= 0] = np.inf
        owner = np.argmin(d, axis=1) if d.shape[1] else np.zeros(m, int)
        lonely = ~np.isfinite(d.min(axis=1)) if d.shape[1] else np.ones(m, bool)
        # No person: a tag of its own, unique over types too (slot j of every type had the same one, so the lone
        # detections of two unlabelled types made one pose).
        tag[k] = np.where(lonely, -gap * (k * m + np.arange(m) + 1), gap * owner)
    return group_poses(xy, dec.score[0].cpu().numpy(), dec.valid[0].cpu().numpy(), tag, order=o["order"],
                       tag_threshold=o["tag_threshold"], conf_weight=o["conf_weight"])


def pose_results(poses: Poses, image_id: Any, xy: np.ndarray) -> list[dict]:
    """COCO results of one image's poses, ``xy (P, K, 2)`` their keypoints in original-image pixels (the pose
    score is the instance score). A missing keypoint (score 0) is written ``(0, 0, 0)``, as ``predict`` writes it:
    its input-pixel ``(0, 0)`` mapped back to the image was ``(-0.25, -0.25)`` on an image at half the input's
    scale."""
    score = poses.keypoints[..., 2]
    xy = np.where(score[..., None] > 0, xy, 0.0)
    # A pose with a NaN or infinite keypoint (diverged weights) is a miss, as the top-down evaluation counts it
    # (docs/metrics.md, "Non-finite predictions"): predictions_to_coco_results refuses it, which stopped the run.
    keep = ~nonfinite_keypoints(xy, score).any(axis=1) & np.isfinite(poses.score)
    if not keep.any():
        return []
    return predictions_to_coco_results([image_id] * int(keep.sum()), xy[keep], score[keep],
                                       instance_scores=poses.score[keep])


def ground_truth(dataset: BottomUpDataset) -> dict[Any, tuple[np.ndarray, np.ndarray]]:
    """Image id -> its people's keypoints ``(N, K, 2)`` and visibility ``(N, K)`` (what the oracle grouping reads)."""
    return {grp[0].image_id: (np.stack([i.keypoints for i in grp]), np.stack([i.visibility for i in grp]))
            for grp in dataset.images}


def results_at(strategy: BottomUpStrategy, cached: Sequence[tuple[dict, dict]], gamma: float,
               oracle: Mapping[Any, tuple[np.ndarray, np.ndarray]] | None = None) -> list[dict]:
    """COCO results of every cached image at threshold ``gamma``, in original-image pixels; with ``oracle``
    (image id -> ground-truth ``(N, K, 2)`` keypoints and ``(N, K)`` visibility) grouped by oracle tags."""
    results: list[dict] = []
    for outputs, meta in cached:
        if oracle is not None:
            poses = oracle_poses(strategy, outputs, meta["affine"], *oracle[meta["image_id"]], gamma)
            xy = poses.keypoints[..., :2]
        else:
            poses = strategy.decode_poses(outputs, gamma=gamma)[0]
            xy = to_image_coords(poses.keypoints[..., :2], meta["affine"])
        results += pose_results(poses, meta["image_id"], xy)
    return results


def evaluate_bottomup(model: KeypointNet, strategy: BottomUpStrategy, dataset: BottomUpDataset, gt: Any,
                      sigmas: Any | None = None, gamma: float | None = None,
                      gammas: Sequence[float] = GAMMAS, oracle_tags: bool = False,
                      flip_index: Any = None, progress: bool = False) -> dict[str, Any]:
    """AP family and recall at ``gamma`` (default the strategy's) and the sweep over ``gammas``, grouped by the
    learned tags; with ``oracle_tags`` also grouped by oracle tags (:func:`oracle_poses`) under ``"oracle_tags"``;
    with ``flip_index`` on the flip test's merged maps (:func:`predict_outputs`). ``progress``: a bar over the
    thresholds decoded, grouped and scored (minutes for a barely trained model, whose low thresholds keep thousands
    of detections).

    Returns ``ap, ap50, ap75, apm, apl, ar, recall, ap_by_gamma, recall_by_gamma, gamma, eval_s``.
    """
    t0 = time.time()
    cached = predict_outputs(model, dataset, strategy=strategy, flip_index=flip_index)
    g = float(strategy.options["gamma"] if gamma is None else gamma)
    gt = checked_gt(gt)  # read and checked once for every threshold and grouping, not twice for each
    n = len({g, *map(float, gammas)}) * (2 if oracle_tags else 1)
    bar = tqdm(total=n, desc="evaluating: thresholds", disable=not progress, leave=leave_bar())

    def scored(x: float, truth: Mapping[Any, tuple[np.ndarray, np.ndarray]] | None = None) -> list[dict]:
        bar.update()
        return results_at(strategy, cached, x, truth)

    out: dict[str, Any] = dict(multi_person_metrics(gt, scored(g), sigmas))
    out.update(gamma_sweep(scored, gt, sigmas, gammas, known={g: dict(out)}))
    if oracle_tags:
        truth = ground_truth(dataset)
        orc: dict[str, Any] = dict(multi_person_metrics(gt, scored(g, truth), sigmas))
        orc.update(gamma_sweep(lambda x: scored(x, truth), gt, sigmas, gammas, known={g: dict(orc)}))
        out["oracle_tags"] = orc
    bar.close()
    out["gamma"] = g
    out["eval_s"] = round(time.time() - t0, 2)
    return out


__all__ = ["evaluate_bottomup", "ground_truth", "oracle_poses", "pose_results", "predict_outputs", "results_at", "train_steps"]
