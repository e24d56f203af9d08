"""Training on PyTorch's own engine: one process, or DDP under ``torchrun`` (docs/training.md).

Every step: forward, the strategy encodes targets from the *detached* outputs (the adaptive assignment
reads the model's current predictions), one generic loss, backward, Adam.

Crash safety: checkpoints are written atomically (temp file + rename) at every epoch end (``last.pt``), every
``train.ckpt_every_steps`` steps, on the time limit and on SIGTERM; the best evaluation also gets ``best.pt``.
``resume=PATH|auto`` restores the model, the optimizer, the scheduler, the step, the RNG states and the
position in the data order, and cuts ``train_log.csv``/``eval_log.csv`` back to the checkpoint's step, so the
logs stay one clean curve. Numerical safety: a batch whose loss or gradient is not finite is skipped and
reported; ``train.max_bad_steps`` in a row stop training, naming the last good checkpoint.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..data.types import collate
from ..errors import AdaAnchorError
from ..strategies import compute_loss
from .checkpoint import atomic_save, rng_state
from .csvlog import CsvLog
from .dist import (
    DistInfo,
    all_reduce_mean,
    any_rank,
    barrier,
    cleanup,
    convert_sync_batchnorm,
    gather_objects,
    init_distributed,
    param_fingerprint,
)
from .evaluate import evaluate_dataset
from .run import build_system, seed_everything
from .sampler import KeyedDataset, ResumableBatchSampler
from .session import TermSignal, amp_mode, autocast, build_data, load_resume, prepare_run_dir, restore

__all__ = ["train", "evaluate_model", "TrainingError", "CsvLog"]


class TrainingError(AdaAnchorError):
    """Training cannot go on (e.g. the loss stayed non-finite)."""


def evaluate_model(model: torch.nn.Module, strategy: Any, cfg: DictConfig, dataset: Any, device: torch.device,
                   progress: bool = False) -> dict[str, Any]:
    """Every metric the config calls for on ``dataset`` (see :func:`adaanchor.engine.evaluate.evaluate_dataset`)."""
    return evaluate_dataset(model, strategy, cfg, dataset, device, progress)[0]


def _select_metric(m: dict[str, Any]) -> float:
    """Higher is better: PCK at the first threshold."""
    v = next(iter(m["pck"].values()), None)
    return float(v) if v is not None else -math.inf


def train(cfg: DictConfig, progress: bool | None = None) -> dict[str, Any]:
    """Train per ``cfg``; returns a summary (run dir, steps, seconds, best and final metrics, skipped batches)."""
    det = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    info, device = init_distributed(cfg.train.device)
    try:
        with TermSignal() as term:
            return _train(cfg, info, device, cfg.train.progress if progress is None else progress, term)
    finally:
        torch.use_deterministic_algorithms(det[0], warn_only=det[1])  # process-wide: put it back
        cleanup(info)


def _train(cfg: DictConfig, info: DistInfo, device: torch.device, progress: bool, term: TermSignal) -> dict[str, Any]:
    tc = cfg.train
    run_dir = Path(str(cfg.out_dir))
    ckpt_dir = run_dir / "checkpoints"
    prepare_run_dir(cfg, run_dir, info)
    if tc.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    amp = amp_mode(device, str(tc.amp))
    seed = int(cfg.seed)
    seed_everything(seed)  # identical initial weights on every rank (DDP also broadcasts rank 0's)
    model, strategy = build_system(cfg)
    if info.world > 1 and tc.sync_bn:
        model = convert_sync_batchnorm(model, device)
    model.to(device)
    train_ds, val_ds = build_data(cfg, info, device)

    sampler = ResumableBatchSampler(len(train_ds), int(tc.batch_size), seed, info.rank, info.world)
    loader = DataLoader(KeyedDataset(train_ds, seed), batch_sampler=sampler, collate_fn=collate,
                        num_workers=int(tc.workers), pin_memory=device.type == "cuda")
    per_epoch = sampler.batches_per_epoch()
    total = int(tc.max_steps) if tc.max_steps else per_epoch * int(tc.epochs)
    epochs = math.ceil(total / per_epoch)
    # lr_steps are epochs, or steps when training is counted in steps (max_steps).
    milestones = [int(m) * (1 if tc.max_steps else per_epoch) for m in tc.lr_steps]
    opt = torch.optim.Adam(model.parameters(), lr=float(tc.lr), weight_decay=float(tc.weight_decay))
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=float(tc.lr_factor))
    scaler = torch.amp.GradScaler("cuda", enabled=amp == "fp16")

    step, best, start_epoch, start_batch, time_before = 0, -math.inf, 0, 0, 0.0
    resume, state = load_resume(cfg, run_dir, info, device)
    if resume is not None:
        restore(resume, state, cfg, model, opt, sched, scaler)
        step, best = int(state["step"]), float(state["best"])
        start_epoch, start_batch = int(state["epoch"]), int(state["batch"])
        time_before = float(state.get("time_s", 0.0))
        if start_batch >= per_epoch:
            start_epoch, start_batch = start_epoch + 1, 0
        if info.is_main:
            print(f"resumed from {resume} at step {step} (epoch {start_epoch}, batch {start_batch})")
    del state

    ddp: torch.nn.Module = model
    if info.world > 1:
        # A head-less neck (e.g. regression reads only the deep features) leaves parameters without gradients.
        unused = all(h == "coords" for h in strategy.heads) or bool(set(strategy.heads) - set(strategy.losses))
        ddp = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=unused)
    log = CsvLog(run_dir / "train_log.csv", info.is_main)
    eval_log = CsvLog(run_dir / "eval_log.csv", info.is_main)
    log.truncate_after(step)  # rows after the checkpoint are redone by this run (a fresh run starts empty logs)
    eval_log.truncate_after(step)

    t0 = time.time()
    written: dict[str, tuple[int, int, int]] = {}  # file -> (step, epoch, batch) it holds

    def save(name: str, epoch: int, batch: int, force: bool = False) -> Path:
        path = ckpt_dir / name
        if batch >= per_epoch:
            epoch, batch = epoch + 1, 0
        if not force and written.get(name) == (step, epoch, batch):
            return path  # e.g. a step checkpoint on the last batch of an epoch, then the epoch end
        written[name] = (step, epoch, batch)
        if info.is_main:
            ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "step": step, "epoch": epoch, "batch": batch, "best": best, "rng": rng_state(),
                    "time_s": time_before + time.time() - t0, "config": OmegaConf.to_container(cfg, resolve=True)}
            if scaler.is_enabled():
                ckpt["scaler"] = scaler.state_dict()
            try:
                atomic_save(ckpt, path)
            except OSError as e:
                raise AdaAnchorError(f"{path}: cannot write the checkpoint: {e.strerror or e}") from None
        return path

    bad = skipped = 0
    last_ckpt: tuple[Path, int] | None = (resume, step) if resume is not None else None
    limit = float(tc.time_limit_s) if tc.time_limit_s else None
    max_bad, clip = max(1, int(tc.max_bad_steps)), float(tc.grad_clip) if tc.grad_clip else None
    log_every, ckpt_every = max(1, int(tc.log_every)), int(tc.ckpt_every_steps or 0)
    bar = tqdm(total=total, initial=min(step, total), desc=f"train {cfg.strategy.name}",
               disable=not (progress and info.is_main), dynamic_ncols=True)
    stop, signalled, final_metrics = step >= total or (not tc.max_steps and start_epoch >= epochs), False, None
    if stop and info.is_main:
        print(f"nothing to do: the checkpoint is at step {step}, epoch {start_epoch} (training is {total} steps, "
              f"{epochs} epochs)")
    model.train()
    epoch = start_epoch - 1
    while not stop:  # counted in epochs, or in steps with max_steps (skipped batches are made up for)
        epoch += 1
        first = epoch == start_epoch
        sampler.set_epoch(epoch, start_batch if first else 0)
        batch_idx = start_batch if first else 0
        for batch in loader:
            batch_idx += 1
            timeup = limit is not None and time.time() - t0 > limit
            images = batch["image"].to(device, non_blocking=True)
            kpts, vis = batch["keypoints"].to(device), batch["visibility"].to(device)
            with autocast(device, amp):
                outputs = ddp(images)
            outputs = {k: v.float() for k, v in outputs.items()}
            enc = strategy.encode({k: v.detach() for k, v in outputs.items()}, kpts, vis, step=step)
            losses = compute_loss(outputs, enc.targets, strategy.losses, float(cfg.strategy.focal_gamma))
            loss = losses["loss"]
            # Every rank takes the same branch, or DDP's collectives would hang.
            local_bad = not bool(torch.isfinite(loss.detach()))
            nonfinite, timeup, signalled = any_rank([local_bad, timeup or term.requested, term.requested], info, device)
            why, gnorm = ("loss" if nonfinite else None), math.nan
            opt.zero_grad(set_to_none=True)
            if why is None:
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
                # Gradients are already averaged over ranks here, so the norm (and the decision) is the same on all.
                gnorm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip if clip else math.inf))
                if not math.isfinite(gnorm) and not scaler.is_enabled():  # fp16: the scaler skips such steps
                    why = "gradient"
            if why is not None:
                bad, skipped = bad + 1, skipped + 1
                opt.zero_grad(set_to_none=True)
                if info.is_main:
                    value = f"loss {float(loss.detach()):.4g}" if local_bad or why == "gradient" else "on another rank"
                    tqdm.write(f"non-finite {why} after step {step} ({value}): batch skipped "
                               f"({bad} in a row; train.max_bad_steps={max_bad})")
                if bad >= max_bad:
                    where = f"{last_ckpt[0]} (step {last_ckpt[1]})" if last_ckpt else "none written yet"
                    raise TrainingError(f"training stopped: non-finite {why} for {bad} consecutive batches after "
                                        f"step {step} (train.max_bad_steps={max_bad}); last good checkpoint: {where}")
                if timeup:
                    stop = True
                    break
                continue
            bad = 0
            scaler.step(opt)
            scaler.update()
            sched.step()
            step += 1
            bar.update(1)
            if step % log_every == 0 or step == total:
                vals = {k: float(v.detach()) for k, v in losses.items()}
                vals.update(enc.stats)
                vals["grad_norm"] = gnorm
                vals = all_reduce_mean(vals, info, device)
                log.write({"step": step, "epoch": epoch, "lr": sched.get_last_lr()[0],
                           "time_s": round(time_before + time.time() - t0, 2), **vals, "skipped": skipped})
                bar.set_postfix(loss=f"{vals['loss']:.4f}")
            if step >= total or timeup:
                stop = True
                break
            if ckpt_every and step % ckpt_every == 0:
                last_ckpt = (save("last.pt", epoch, batch_idx), step)
        if not tc.max_steps and epoch + 1 >= epochs:
            stop = True
        last_ckpt = (save("last.pt", epoch, batch_idx), step)
        due = val_ds is not None and ((epoch + 1) % int(tc.eval_every) == 0 or stop)
        if due and not signalled:
            t_eval = time.time()
            if info.is_main:  # rank 0 evaluates alone; the others wait at the barrier below
                final_metrics = evaluate_model(model, strategy, cfg, val_ds, device)
                metric = _select_metric(final_metrics)
                eval_log.write({"step": step, "epoch": epoch, "pck": metric,
                                "vis_error": final_metrics["vis_error"], "inv_error": final_metrics["inv_error"]})
                if metric > best:
                    best = metric
                    save("best.pt", epoch, batch_idx, force=True)
                    save("last.pt", epoch, batch_idx, force=True)  # so that a resume knows the new best
            barrier(info)
            t0 += time.time() - t_eval  # evaluation time does not count as training time
        if stop:
            break
    bar.close()
    if info.world > 1:  # DDP keeps replicas identical; check it rather than trust it
        prints = gather_objects(param_fingerprint(model.named_parameters()), info)
        if len(set(prints)) != 1:
            raise TrainingError(f"replicas diverged: parameter fingerprints differ across ranks: {prints}")
        if info.is_main:
            print(f"parameters identical on all {info.world} ranks (sha256 {prints[0][:16]})")
    if signalled:
        where = last_ckpt[0] if last_ckpt else ckpt_dir / "last.pt"
        raise TrainingError(f"stopped by SIGTERM after step {step}; saved {where}: continue with resume=auto")
    return {"run_dir": str(run_dir), "steps": step, "train_seconds": time.time() - t0, "best": best,
            "metrics": final_metrics, "params": sum(p.numel() for p in model.parameters()),
            "skipped_steps": skipped, "resumed_from": str(resume) if resume else None,
            "checkpoint": str(last_ckpt[0]) if last_ckpt else None}
