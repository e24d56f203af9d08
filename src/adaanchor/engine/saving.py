"""Writing a training's checkpoints (rank 0), and the error that stops a training."""

from __future__ import annotations

import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

from ..errors import AdaAnchorError
from .checkpoint import atomic_save, rng_state
from .state import Run


class TrainingError(AdaAnchorError):
    """Training cannot go on (e.g. the loss stayed non-finite)."""


def save_checkpoint(run: Run, name: str, epoch: int, batch: int, force: bool = False) -> Path:
    """Write checkpoint ``name`` (rank 0) at the position after ``batch`` batches of ``epoch``; a file that
    already holds this position is not written again unless ``force``."""
    path = run.run_dir / "checkpoints" / name
    if batch >= run.per_epoch:
        epoch, batch = epoch + 1, 0
    if not force and run.written.get(name) == (run.step, epoch, batch):
        return path  # e.g. a step checkpoint on the last batch of an epoch, then the epoch end
    run.written[name] = (run.step, epoch, batch)
    check_finite_weights(run)
    if run.info.is_main:
        ckpt = {"model": run.model.state_dict(), "optimizer": run.opt.state_dict(),
                "scheduler": run.sched.state_dict(), "step": run.step, "epoch": epoch, "batch": batch,
                "per_epoch": run.per_epoch,
                "best": run.best, "rng": rng_state(), "time_s": run.time_before + time.time() - run.t0,
                "config": OmegaConf.to_container(run.cfg, resolve=True)}
        if run.scaler.is_enabled():
            ckpt["scaler"] = run.scaler.state_dict()
        if run.ema is not None:
            ckpt["assign_ema"] = run.ema.state_dict()
        atomic_save(ckpt, path)  # a failed write (full disk ...) keeps the previous file and says why
    return path


def check_finite_weights(run: Run) -> None:
    """Before a checkpoint: a finite loss and gradient can still give an update that overflows the weights (a huge
    ``train.lr``). Such a file was then named the "last good checkpoint", and resuming from it failed the same way;
    training stops here instead, naming the checkpoint written before. Costs one pass over the weights."""
    tensors = [t for t in run.model.state_dict().values() if t.is_floating_point()]
    if all(bool(torch.isfinite(t).all()) for t in tensors):
        return
    where = f"{run.last_ckpt[0]} (step {run.last_ckpt[1]})" if run.last_ckpt else "none written"
    raise TrainingError(f"training stopped: the weights are not finite after step {run.step} (an update overflowed "
                        f"them: lower train.lr, or set train.grad_clip); not saved; last good checkpoint: {where}")


__all__ = ["TrainingError", "save_checkpoint", "check_finite_weights"]
