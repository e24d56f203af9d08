"""Setting up a training session: the run directory, the data (in turn under DDP), mixed precision, the
checkpoint to resume from, and a clean stop on SIGTERM. Used by :mod:`adaanchor.engine.train`."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from ..config import save_config
from ..data.build import build_dataset
from ..errors import AdaAnchorError
from .checkpoint import newest_checkpoint, safe_load, set_rng_state
from .dist import DistInfo, any_rank, broadcast_object


def amp_mode(device: torch.device, amp: str) -> str | None:
    if amp not in ("auto", "bf16", "fp16", "off"):
        raise AdaAnchorError(f"train.amp must be auto, bf16, fp16 or off, got {amp!r}")
    if device.type != "cuda" or amp == "off":
        return None
    if amp == "auto":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return amp


def autocast(device: torch.device, mode: str | None) -> contextlib.AbstractContextManager:
    if mode is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.float16 if mode == "fp16" else torch.bfloat16)


class TermSignal:
    """While training, SIGTERM (a scheduler's preemption, torchrun's shutdown) asks for a checkpoint and a
    clean stop at the next step instead of killing the process mid-step."""

    def __init__(self) -> None:
        self.requested, self._old = False, None

    def __enter__(self) -> TermSignal:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True

    def __exit__(self, *exc: Any) -> None:
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)


def prepare_run_dir(cfg: DictConfig, run_dir: Path, info: DistInfo) -> None:
    """Rank 0 creates the run directory and writes the resolved config; every rank learns if that failed."""
    err = None
    if info.is_main:
        try:
            (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
            for stale in (run_dir / "checkpoints").glob("*.pt.*.tmp"):  # left by a crash during a write
                stale.unlink(missing_ok=True)
            tmp = run_dir / f".config.yaml.{os.getpid()}.tmp"
            save_config(cfg, tmp)
            os.replace(tmp, run_dir / "config.yaml")
        except OSError as e:
            err = f"{run_dir}: cannot write the run directory (out_dir): {e.strerror or e}"
    err = broadcast_object(err, info)
    if err:
        raise AdaAnchorError(err)


def build_data(cfg: DictConfig, info: DistInfo, device: torch.device) -> tuple[Any, Any]:
    """Training and evaluation sets. Under DDP, rank 0 reads first (and writes the synthetic benchmark's cache),
    then each node's local rank 0 (a cache on a disk that only its node sees), then the rest: no two processes
    write the same cache, and an error on any rank stops every rank."""
    out, err = (None, None), None
    phases = (info.is_main, not info.is_main and info.local_rank == 0, not info.is_main and info.local_rank != 0)
    for mine in phases if info.world > 1 else (True,):
        if mine:
            try:
                train_ds = build_dataset(cfg.data, "train", verbose=info.is_main)
                out = (train_ds, build_dataset(cfg.data, "val", verbose=False) if cfg.train.eval_every else None)
            except AdaAnchorError as e:
                err = e
        if any_rank([err is not None], info, device)[0]:
            raise err or AdaAnchorError(f"another rank could not read the data (data.root={cfg.data.root})")
    return out


def load_resume(cfg: DictConfig, run_dir: Path, info: DistInfo, device: torch.device) -> tuple[Path | None, Any]:
    """The checkpoint to resume from (rank 0 decides; every rank reads the same file) and its content."""
    resume = cfg.resume
    if resume == "auto":
        found = newest_checkpoint(run_dir) if info.is_main else None
        resume = broadcast_object(str(found) if found else None, info)
        if resume is None:
            if info.is_main:
                print(f"resume=auto: no checkpoint in {run_dir / 'checkpoints'}: starting from scratch")
            return None, None
    if not resume:
        return None, None
    err, state = None, None
    try:
        state = safe_load(resume)
    except AdaAnchorError as e:
        err = str(e)
    if any_rank([err is not None], info, device)[0]:
        raise AdaAnchorError(err or f"{resume}: another rank cannot read this checkpoint "
                             "(out_dir must be on a filesystem that every node sees)")
    need = ("model", "optimizer", "scheduler", "step", "epoch", "batch", "best", "rng")
    if not isinstance(state, dict) or any(k not in state for k in need):
        have = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise AdaAnchorError(f"{resume}: not a training checkpoint (expected keys {', '.join(need)}; found {have}); "
                             "to start from weights only, use model.weights=PATH")
    return Path(resume), state


def restore(path: Path, state: dict, cfg: DictConfig, model: torch.nn.Module, opt: Any, sched: Any, scaler: Any) -> None:
    try:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        if "scaler" in state and scaler.is_enabled():
            scaler.load_state_dict(state["scaler"])
    except (KeyError, RuntimeError, ValueError, TypeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise AdaAnchorError(f"{path}: cannot resume: the checkpoint does not match the model or optimizer of this "
                             f"config (backbone {cfg.model.backbone}, strategy {cfg.strategy.name}): {first}") from None
    set_rng_state(state["rng"])
    old = state.get("config") or {}
    for key, now in (("train.batch_size", cfg.train.batch_size), ("seed", cfg.seed)):
        node: Any = old
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None and node != now:
            print(f"warning: {path} was trained with {key}={node}, now {now}: the data order will not continue exactly")
