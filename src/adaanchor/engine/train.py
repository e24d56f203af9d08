"""Training on PyTorch's own engine: one process, or DDP under ``torchrun`` (docs/training.md).

Every step: forward, the strategy encodes targets from the *detached* outputs (the adaptive assignment
reads the model's current predictions), one generic loss, backward, Adam.

Crash safety: checkpoints are written atomically (temp file + rename) at every epoch end (``last.pt``), every
``train.ckpt_every_steps`` steps, on the time limit and on SIGTERM; the best evaluation also gets ``best.pt``.
``resume=PATH|auto`` restores the model, the optimizer, the scheduler, the step, the RNG states and the
position in the data order, and cuts ``train_log.csv``/``eval_log.csv`` back to the checkpoint's step, so the
logs stay one clean curve. Numerical safety: a batch whose loss or gradient is not finite is skipped and
reported; ``train.max_bad_steps`` in a row stop training, naming the last good checkpoint. A peer process gone
(torchrun) or a data worker killed is one line (:mod:`.stops`); ``train.status`` says how the training ended.
"""

from __future__ import annotations

import math
import signal
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from tqdm import tqdm

from ..config_checks import check_config
from ..data.image_cache import split_among
from ..malloc import keep_freed_memory
from ..strategies import compute_loss
from .amp import autocast
from .assign_step import encode_step, update_ema
from .csvlog import CsvLog
from .dist import (
    DistInfo,
    all_reduce_mean,
    any_rank,
    barrier,
    broadcast_object,
    cleanup,
    init_distributed,
    replica_mismatch,
)
from .loss_watch import watch_loss
from .rundir import absolute_paths, remove_empty_run_dir
from .saving import TrainingError, save_checkpoint
from .session import TermSignal, open_run_dir
from .state import Run, setup_run, stop_workers
from .stops import explain, loader_workers, record_end
from .train_eval import evaluate_during_training, evaluate_model, finished, missed_evaluation

__all__ = ["train", "evaluate_model", "TrainingError", "CsvLog"]


def train(cfg: DictConfig, progress: bool | None = None) -> dict[str, Any]:
    """Train per ``cfg``; returns a summary (run dir, steps, seconds, best and final metrics, skipped batches).

    The run directory is locked for the whole training (rank 0 holds ``train.lock``; a second training on
    the same out_dir stops at once) and released on every way out, errors and SIGTERM included."""
    check_config(cfg, "train")
    det = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    keep_freed_memory()  # 3.5-8 % of a CPU step was the kernel mapping freed memory in again (adaanchor/malloc.py)
    cfg = absolute_paths(cfg)  # config.yaml and the checkpoints then mean the same from any folder
    info, device = init_distributed(cfg.train.device)
    lock, run_dir = None, Path(str(cfg.out_dir))
    made, seen, summary, failure = not run_dir.exists(), {}, None, None
    # SIGTERM asks for a clean stop until the process group is gone: torchrun sends it to the other ranks as soon as
    # one ends, and it cut their cleanup short (a traceback) or replaced their own message (stopped by SIGTERM).
    with TermSignal(ctrl_c="finishing this step and saving a checkpoint") as term:
        try:
            lock = open_run_dir(run_dir, info)
            summary = _train(cfg, info, device, cfg.train.progress if progress is None else progress, term, seen)
            # Every rank finishes its last collective before any tears the process group down: a rank that
            # destroys its gloo pairs while another is still receiving can abort that one at exit.
            barrier(info)
            return summary
        except Exception as e:  # a peer process gone, a data worker killed: one line (adaanchor.engine.stops)
            failure = explain(e, seen.get("run"), info, seen.get("workers")) or e
            if failure is e:
                raise
            raise failure from e
        except BaseException as e:  # Ctrl-C where it stops at once (data reading, an evaluation)
            failure = e
            raise
        finally:
            if seen.get("started"):  # one refused before (its checkpoints, its resume) leaves the status before it
                record_end(run_dir, info, lock is not None, summary, failure, cfg.train.time_limit_s)  # train.status
            if lock is not None:
                lock.release()
                if made:  # a training that failed before writing anything leaves no empty run directory behind
                    remove_empty_run_dir(run_dir)
            if det != (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()):
                # Process-wide: put it back (only when changed: the first call imports torch's compiler, seconds).
                torch.use_deterministic_algorithms(det[0], warn_only=det[1])
            cleanup(info)


def _train(cfg: DictConfig, info: DistInfo, device: torch.device, progress: bool, term: TermSignal,
           seen: dict[str, Any]) -> dict[str, Any]:
    """:func:`train`'s work; ``seen`` gets the run once built and, at an error, the loader's workers before they
    are stopped (was one of them killed? :func:`.stops.explain`)."""
    seen["run"] = run = setup_run(cfg, info, device, seen)
    try:
        return _train_run(run, progress, term)
    except Exception:
        seen["workers"] = loader_workers(run.loader)
        raise
    finally:
        stop_workers(run.loader)
        # data.cache_mb's share is the training's: a later evaluation or training in this process starts whole.
        split_among(1)


def _train_run(run: Run, progress: bool, term: TermSignal) -> dict[str, Any]:
    cfg, info = run.cfg, run.info
    start_step = run.step
    bar = tqdm(total=run.total, initial=min(run.step, run.total), desc=f"train {cfg.strategy.name}",
               disable=not (progress and info.is_main), dynamic_ncols=True)
    try:
        if finished(run):
            if info.is_main:
                print(f"nothing to do: the checkpoint is at step {run.step}, epoch {run.start_epoch} (training is "
                      f"{run.total} step{'s' * (run.total != 1)}, {run.epochs} epoch{'s' * (run.epochs != 1)})")
            if broadcast_object(missed_evaluation(run) if info.is_main else None, info):
                if info.is_main:
                    print("running the final evaluation, which a stop skipped")
                with term.plain_ctrl_c():
                    evaluate_during_training(run, run.start_epoch - (run.start_batch == 0),
                                             run.start_batch or run.per_epoch)
        else:
            _loop(run, bar, term)
    finally:  # also on an error: its line then starts a line of its own (it came glued to the bar's last state)
        bar.close()
    _check_replicas(run)
    if run.signalled:
        where = run.last_ckpt[0] if run.last_ckpt else run.run_dir / "checkpoints" / "last.pt"
        err = TrainingError(f"stopped by {term.name or 'a signal'} after step {run.step}; saved {where}: continue "
                            "with resume=auto")
        err.same_on_every_rank = True  # the CLI prints it once (rank 0), not once per process
        err.signal_stop = True  # train.status: stopped, not an error
        raise err
    timed_out = run.timed_out and run.step < run.total
    if timed_out and info.is_main:
        print(f"stopped at train.time_limit_s={cfg.train.time_limit_s} after step {run.step} of {run.total}; saved "
              f"{run.last_ckpt[0] if run.last_ckpt else 'last.pt'}: continue with resume=auto")
    return {"run_dir": str(run.run_dir), "steps": run.step, "start_step": start_step, "timed_out": timed_out,
            "train_seconds": time.time() - run.t0, "best": run.best,
            "metrics": run.final_metrics, "metrics_step": run.final_metrics_step, "params": sum(p.numel() for p in run.model.parameters()),
            "skipped_steps": run.skipped, "resumed_from": str(run.resume) if run.resume else None,
            "checkpoint": str(run.last_ckpt[0]) if run.last_ckpt else None}


def _loop(run: Run, bar: tqdm, term: TermSignal) -> None:
    """Epochs until the step or epoch count is reached (skipped batches are made up for), a time limit or
    SIGTERM; a checkpoint every ``train.ckpt_every_steps`` steps and at each epoch end."""
    ckpt_every = int(run.cfg.train.ckpt_every_steps or 0)
    term.arm_ctrl_c()  # before the loop (data reading, setup) Ctrl-C stops at once: there is no step to finish
    run.model.train()
    epoch, stop = run.start_epoch - 1, False
    if broadcast_object(missed_evaluation(run) if run.info.is_main else None, run.info):
        with term.plain_ctrl_c():
            evaluate_during_training(run, run.start_epoch - 1, run.per_epoch)
    while not stop:
        epoch += 1
        batch_idx = run.start_batch if epoch == run.start_epoch else 0
        run.sampler.set_epoch(epoch, batch_idx)
        for batch in run.loader:
            batch_idx += 1
            stepped, stop = _step(run, batch, epoch, bar, term)
            if stop:
                break
            if stepped and ckpt_every and run.step % ckpt_every == 0:
                run.last_ckpt = (save_checkpoint(run, "last.pt", epoch, batch_idx), run.step)
        stop = _end_epoch(run, epoch, batch_idx, stop, term)


def _step(run: Run, batch: dict[str, Any], epoch: int, bar: tqdm, term: TermSignal) -> tuple[bool, bool]:
    """One optimizer step on ``batch`` (or a skipped one); returns (stepped, stop)."""
    cfg, info, device = run.cfg, run.info, run.device
    limit = float(cfg.train.time_limit_s) if cfg.train.time_limit_s else None
    timeup = limit is not None and time.time() - run.t0 > limit
    images = batch["image"].to(device, non_blocking=True)
    kpts, vis = batch["keypoints"].to(device), batch["visibility"].to(device)
    with autocast(device, run.amp):
        outputs = run.ddp(images)
    outputs = {k: v.float() for k, v in outputs.items()}
    enc = encode_step(run.strategy, run.ema, images, outputs, kpts, vis, run.step, lambda: autocast(device, run.amp))
    losses = compute_loss(outputs, enc.targets, run.strategy.losses, float(cfg.strategy.focal_gamma))
    loss = losses["loss"]
    # Every rank takes the same branch, or DDP's collectives would hang.
    local_bad = not bool(torch.isfinite(loss.detach()))
    nonfinite, timeup, run.signalled, by_term = any_rank(
        [local_bad, timeup or term.requested, term.requested, term.name == "SIGTERM"], info, device)
    if run.signalled and not term.name:  # the signal reached another rank only: rank 0 says which it was
        term.name = "SIGTERM" if by_term else TermSignal.SIGNALS[signal.SIGINT]
    run.timed_out = timeup and not run.signalled
    why, gnorm = ("loss" if nonfinite else None), math.nan
    run.opt.zero_grad(set_to_none=True)
    if why is None:
        why, gnorm = _backward(run, loss)
    if why is not None:
        _skip(run, why, loss, local_bad)
        return False, timeup
    run.bad = 0
    run.scaler.step(run.opt)
    run.scaler.update()
    if run.ema is not None:
        update_ema(run.ema, run.model, run.info)
    lr = run.opt.param_groups[0]["lr"]  # this step's rate: the scheduler's next one was logged
    run.sched.step()
    run.step += 1
    bar.update(1)
    if run.loss_low is None:  # the first step's loss is the reference (a run can diverge before its first log row)
        watch_loss(run, float(loss.detach()))
    # The last step before a stop (time limit, signal) is logged too: its row was lost when not a multiple.
    if run.step % max(1, int(cfg.train.log_every)) == 0 or run.step == run.total or timeup:
        vals = {k: float(v.detach()) for k, v in losses.items()}
        vals.update({k: float(v) for k, v in enc.stats.items()})  # tensors are read here, not every step
        vals["grad_norm"] = gnorm
        vals = all_reduce_mean(vals, info, device)
        assert run.log is not None
        run.log.write({"step": run.step, "epoch": epoch, "lr": lr,
                       "time_s": round(run.time_before + time.time() - run.t0, 2), **vals, "skipped": run.skipped})
        bar.set_postfix(loss=f"{vals['loss']:.4f}")
        watch_loss(run, vals["loss"])
    return True, run.step >= run.total or timeup


def _backward(run: Run, loss: torch.Tensor) -> tuple[str | None, float]:
    """Backward, unscale and clip; returns ("gradient" if the gradient norm is not finite, else None; the norm)."""
    clip = float(run.cfg.train.grad_clip) if run.cfg.train.grad_clip else math.inf
    run.scaler.scale(loss).backward()
    run.scaler.unscale_(run.opt)
    # Gradients are already averaged over ranks here, so the norm (and the decision) is the same on all.
    gnorm = float(torch.nn.utils.clip_grad_norm_(run.model.parameters(), clip))
    if not math.isfinite(gnorm) and not run.scaler.is_enabled():  # fp16: the scaler skips such steps
        return "gradient", gnorm
    return None, gnorm


def _skip(run: Run, why: str, loss: torch.Tensor, local_bad: bool) -> None:
    """Count a skipped batch and say so; too many in a row stop training, naming the last good checkpoint."""
    max_bad = max(1, int(run.cfg.train.max_bad_steps))
    run.bad, run.skipped = run.bad + 1, run.skipped + 1
    run.opt.zero_grad(set_to_none=True)
    if run.info.is_main:
        value = f"loss {float(loss.detach()):.4g}" if local_bad or why == "gradient" else "on another rank"
        tqdm.write(f"non-finite {why} after step {run.step} ({value}): batch skipped "
                   f"({run.bad} in a row; train.max_bad_steps={max_bad})")
    if run.bad >= max_bad:
        where = f"{run.last_ckpt[0]} (step {run.last_ckpt[1]})" if run.last_ckpt else "none written yet"
        raise TrainingError(f"training stopped: non-finite {why} for {run.bad} consecutive batches after "
                            f"step {run.step} (train.max_bad_steps={max_bad}); last good checkpoint: {where}")


def _end_epoch(run: Run, epoch: int, batch_idx: int, stop: bool, term: TermSignal) -> bool:
    """Checkpoint the epoch's end (or the stop), evaluate when due (not on SIGTERM or a first Ctrl-C; a Ctrl-C
    during the evaluation stops at once, the checkpoint written); returns ``stop``."""
    tc = run.cfg.train
    if not tc.max_steps and epoch + 1 >= run.epochs:
        stop = True
    run.last_ckpt = (save_checkpoint(run, "last.pt", epoch, batch_idx), run.step)
    due = run.val_ds is not None and ((epoch + 1) % int(tc.eval_every) == 0 or stop)
    # No evaluation on the way out after SIGTERM, a Ctrl-C or the time limit (a scheduler's limit may follow it:
    # the evaluation that was due runs on resume, :func:`.train_eval.missed_evaluation`).
    stopped_early = run.signalled or (run.timed_out and run.step < run.total)
    if due and not stopped_early:
        with term.plain_ctrl_c():
            evaluate_during_training(run, epoch, batch_idx)
    return stop


def _check_replicas(run: Run) -> None:
    """DDP keeps replicas identical; check it rather than trust it (:func:`.dist.replica_mismatch`)."""
    ema = run.ema.module.state_dict().items() if run.ema is not None else None
    what = replica_mismatch(run.model.named_parameters(), ema, run.info)
    if what:
        _diverged(what)


def _diverged(what: str) -> None:
    err = TrainingError(f"replicas diverged: {what}")
    err.same_on_every_rank = True  # every rank compared the same gathered fingerprints: said once
    raise err
