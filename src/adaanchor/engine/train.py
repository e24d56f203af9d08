"""Training on PyTorch's own engine: one process, or DDP under ``torchrun`` (see README).

Every step: forward, the strategy encodes targets from the *detached* outputs (the adaptive assignment
reads the model's current predictions), one generic loss, backward, Adam. Crash safety: checkpoints are
written atomically at every epoch end (``last.pt``), every ``train.ckpt_every_steps`` steps, and when the
time limit is hit; the best evaluation gets ``best.pt``. ``resume=PATH|auto`` restores the model, the
optimizer, the scheduler, the step, the RNG states and the position in the data order.
"""

from __future__ import annotations

import contextlib
import csv
import math
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..config import save_config
from ..data.build import annotation_path, build_dataset
from ..data.types import collate
from ..errors import AdaAnchorError
from ..strategies import compute_loss
from .checkpoint import atomic_save, newest_checkpoint, rng_state, safe_load, set_rng_state
from .dist import DistInfo, all_reduce_mean, barrier, cleanup, init_distributed
from .evaluate import evaluate_predictions, predict
from .run import build_system, seed_everything
from .sampler import KeyedDataset, ResumableBatchSampler


class TrainingError(AdaAnchorError):
    """Training cannot go on (e.g. the loss stayed non-finite)."""


class CsvLog:
    """Append rows to a CSV file; the header is taken from the first row (extra keys later are dropped)."""

    def __init__(self, path: Path, enabled: bool):
        self.path, self.enabled, self.fields = path, enabled, None
        if enabled and path.is_file():
            with path.open() as f:
                self.fields = next(csv.reader(f), None)

    def write(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        new = self.fields is None
        if new:
            self.fields = list(row)
        with self.path.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.fields, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow(row)


def _autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager:
    if device.type != "cuda" or amp == "off":
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=torch.float16 if amp == "fp16" else torch.bfloat16)


def evaluate_model(model: torch.nn.Module, strategy: Any, cfg: DictConfig, dataset: Any, device: torch.device,
                   progress: bool = False) -> dict[str, Any]:
    """Single-keypoint metrics on ``dataset`` (+ OKS AP when the spec has OKS sigmas and GT is COCO JSON)."""
    from ..data.spec import load_spec

    preds = predict(model, strategy, dataset, cfg.eval.batch_size, device, cfg.eval.max_images, progress, 0)
    spec = load_spec(cfg.data.spec)
    gt = None
    if spec.sigmas is not None and cfg.data.format in ("synth", "coco", "crowdpose") and cfg.eval.max_images is None:
        gt = str(annotation_path(cfg.data, "val"))
    return evaluate_predictions(preds, gt, spec.sigmas, tuple(cfg.eval.pck))


def _select_metric(m: dict[str, Any]) -> float:
    """Higher is better: PCK at the first threshold."""
    v = next(iter(m["pck"].values()), None)
    return float(v) if v is not None else -math.inf


def train(cfg: DictConfig, progress: bool | None = None) -> dict[str, Any]:
    """Train per ``cfg``; returns a summary (run dir, steps, seconds, best and final metrics)."""
    info, device = init_distributed(cfg.train.device)
    try:
        return _train(cfg, info, device, cfg.train.progress if progress is None else progress)
    finally:
        cleanup(info)


def _train(cfg: DictConfig, info: DistInfo, device: torch.device, progress: bool) -> dict[str, Any]:
    run_dir = Path(cfg.out_dir)
    ckpt_dir = run_dir / "checkpoints"
    if info.is_main:
        try:
            ckpt_dir.mkdir(parents=True, exist_ok=True)
            save_config(cfg, run_dir / "config.yaml")
        except OSError as e:
            raise AdaAnchorError(f"{run_dir}: cannot write the run directory ({e.strerror})") from None
    barrier(info)
    if cfg.train.deterministic:
        torch.use_deterministic_algorithms(True)
    seed_everything(int(cfg.seed))  # identical initial weights on every rank
    model, strategy = build_system(cfg)
    model.to(device)
    train_ds = build_dataset(cfg.data, "train", verbose=info.is_main)
    val_ds = build_dataset(cfg.data, "val", verbose=False) if cfg.train.eval_every else None

    gb = int(cfg.train.batch_size)
    sampler = ResumableBatchSampler(len(train_ds), gb, int(cfg.seed), info.rank, info.world)
    loader = DataLoader(KeyedDataset(train_ds, int(cfg.seed)), batch_sampler=sampler, collate_fn=collate,
                        num_workers=int(cfg.train.workers), persistent_workers=False)
    per_epoch = sampler.batches_per_epoch()
    max_steps = cfg.train.max_steps
    total = int(max_steps) if max_steps else per_epoch * int(cfg.train.epochs)
    epochs = math.ceil(total / per_epoch)
    # lr_steps are epochs, or steps when training is counted in steps (max_steps).
    milestones = [int(m) * (1 if max_steps else per_epoch) for m in cfg.train.lr_steps]
    opt = torch.optim.Adam(model.parameters(), lr=float(cfg.train.lr), weight_decay=float(cfg.train.weight_decay))
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=float(cfg.train.lr_factor))

    step, best, start_epoch, start_batch = 0, -math.inf, 0, 0
    resume = cfg.resume
    if resume == "auto":
        resume = newest_checkpoint(run_dir)
    if resume:
        state = safe_load(resume)
        try:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
        except (KeyError, RuntimeError, ValueError) as e:
            raise AdaAnchorError(f"{resume}: cannot resume from this checkpoint ({str(e).splitlines()[0]})") from None
        sched.load_state_dict(state["scheduler"])
        step, best = int(state["step"]), float(state["best"])
        start_epoch, start_batch = int(state["epoch"]), int(state["batch"])
        set_rng_state(state["rng"])
        if info.is_main:
            print(f"resumed from {resume} at step {step} (epoch {start_epoch}, batch {start_batch})")

    ddp = model
    if info.world > 1:
        ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    log = CsvLog(run_dir / "train_log.csv", info.is_main)
    eval_log = CsvLog(run_dir / "eval_log.csv", info.is_main)

    def save(name: str, epoch: int, batch: int) -> Path:
        path = ckpt_dir / name
        if info.is_main:
            atomic_save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                         "step": step, "epoch": epoch, "batch": batch, "best": best, "rng": rng_state(),
                         "config": OmegaConf.to_container(cfg, resolve=True)}, path)
        return path

    t0, bad, last_ckpt = time.time(), 0, resume
    limit = cfg.train.time_limit_s
    bar = tqdm(total=total, initial=step, desc=f"train {cfg.strategy.name}", disable=not (progress and info.is_main),
               dynamic_ncols=True)
    stop, final_metrics = False, None
    model.train()
    for epoch in range(start_epoch, epochs):
        sampler.set_epoch(epoch, start_batch if epoch == start_epoch else 0)
        batch_idx = start_batch if epoch == start_epoch else 0
        for batch in loader:
            images = batch["image"].to(device, non_blocking=True)
            kpts, vis = batch["keypoints"].to(device), batch["visibility"].to(device)
            with _autocast(device, cfg.train.amp):
                outputs = ddp(images)
            outputs = {k: v.float() for k, v in outputs.items()}
            enc = strategy.encode({k: v.detach() for k, v in outputs.items()}, kpts, vis, step=step)
            losses = compute_loss(outputs, enc.targets, strategy.losses, float(cfg.strategy.focal_gamma))
            loss = losses["loss"]
            batch_idx += 1
            finite = torch.isfinite(loss.detach())
            if info.world > 1:  # every rank must skip together, or DDP's collectives would hang
                flag = finite.float().to(device)
                torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MIN)
                finite = flag > 0
            if not bool(finite):
                bad += 1
                if info.is_main:
                    tqdm.write(f"step {step}: non-finite loss ({float(loss):.4g}), step skipped ({bad} in a row)")
                if bad >= int(cfg.train.max_bad_steps):
                    raise TrainingError(f"training stopped: loss non-finite for {bad} consecutive steps at step {step}; "
                                        f"last good checkpoint: {last_ckpt or 'none written yet'}")
                opt.zero_grad(set_to_none=True)
                continue
            bad = 0
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.train.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), float(cfg.train.grad_clip))
            opt.step()
            sched.step()
            step += 1
            bar.update(1)
            if step % int(cfg.train.log_every) == 0 or step == total:
                vals = {k: float(v.detach()) for k, v in losses.items()}
                vals.update(enc.stats)
                vals = all_reduce_mean(vals, info, device)
                log.write({"step": step, "epoch": epoch, "lr": sched.get_last_lr()[0],
                           "time_s": round(time.time() - t0, 2), **vals})
                bar.set_postfix(loss=f"{vals['loss']:.4f}")
            if cfg.train.ckpt_every_steps and step % int(cfg.train.ckpt_every_steps) == 0:
                last_ckpt = save("last.pt", epoch, batch_idx)
            if step >= total or (limit and time.time() - t0 > float(limit)):
                stop = True
                break
        done_epoch = not stop or batch_idx >= per_epoch
        last_ckpt = save("last.pt", epoch + 1 if done_epoch else epoch, 0 if done_epoch else batch_idx)
        if val_ds is not None and info.is_main and ((epoch + 1) % int(cfg.train.eval_every) == 0 or stop or epoch == epochs - 1):
            t_eval = time.time()
            final_metrics = evaluate_model(model, strategy, cfg, val_ds, device)
            t0 += time.time() - t_eval  # evaluation time does not count as training time
            eval_log.write({"step": step, "epoch": epoch, "pck": _select_metric(final_metrics),
                            "vis_error": final_metrics["vis_error"], "inv_error": final_metrics["inv_error"]})
            if _select_metric(final_metrics) > best:
                best = _select_metric(final_metrics)
                save("best.pt", epoch + 1 if done_epoch else epoch, 0 if done_epoch else batch_idx)
        barrier(info)
        if stop:
            break
    bar.close()
    return {"run_dir": str(run_dir), "steps": step, "train_seconds": time.time() - t0, "best": best,
            "metrics": final_metrics, "params": sum(p.numel() for p in model.parameters())}
