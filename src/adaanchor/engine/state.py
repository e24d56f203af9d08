"""Everything a training holds (:class:`Run`) and how it is set up: the checkpoint to resume from, checked
against the config before anything is written; the run files; the model, the data in its resumable order,
the optimizer and the LR schedule; the restored state; DDP and the logs. Used by
:mod:`adaanchor.engine.train`."""

from __future__ import annotations

import math
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from ..child_signals import absorb_first_sigterm
from ..data.image_cache import split_among
from ..data.types import collate
from ..errors import AdaAnchorError
from ..strategies.assign_ema import AssignEMA
from ..strategies.inert import inert_warnings
from .amp import amp_mode, amp_note
from .assign_step import make_assign_ema
from .checkpoint import load_checkpoint
from .csvlog import CsvLog
from .dist import DistInfo, convert_sync_batchnorm, said_once
from .resume_config import scored_otherwise
from .run import build_system, seed_everything
from .rundir import check_out_dir, close_inherited_locks
from .sampler import KeyedDataset, ResumableBatchSampler
from .schedule import candidate_warning, describe_schedule, evaluation_note, milestones_in_steps, warmup_warning
from .session import (
    build_data,
    check_resume,
    clear_status,
    load_resume,
    record_config,
    remove_earlier_checkpoints,
    restore,
)
from .split_record import record_split, training_split


@dataclass
class Run:
    """What one training holds: the parts built by :func:`_setup` and the counters the loop moves."""

    cfg: DictConfig
    info: DistInfo
    device: torch.device
    run_dir: Path
    model: torch.nn.Module
    strategy: Any
    opt: torch.optim.Optimizer
    sched: Any
    scaler: Any
    sampler: ResumableBatchSampler
    loader: DataLoader
    val_ds: Any
    amp: str | None
    per_epoch: int
    total: int
    epochs: int
    ddp: torch.nn.Module | None = None
    ema: Any = None  # the AssignEMA the assignment scores (strategy.assign_ema_decay > 0), else None
    log: CsvLog | None = None
    eval_log: CsvLog | None = None
    resume: Path | None = None
    step: int = 0
    best: float = -math.inf
    start_epoch: int = 0
    start_batch: int = 0
    time_before: float = 0.0
    t0: float = 0.0
    bad: int = 0
    skipped: int = 0
    signalled: bool = False
    timed_out: bool = False  # the last step stopped the loop at train.time_limit_s
    last_ckpt: tuple[Path, int] | None = None
    final_metrics: dict[str, Any] | None = None
    final_metrics_step: int | None = None  # the step those metrics were measured at
    loss_low: float | None = None  # the lowest logged loss (engine/loss_watch.py)
    loss_warned: bool = False
    written: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # file -> (step, epoch, batch) it holds


def setup_run(cfg: DictConfig, info: DistInfo, device: torch.device, seen: dict[str, Any] | None = None) -> Run:
    """Checkpoint to resume from (checked against this config before anything is written), the model, the data,
    the optimizer, then the run files; the training state restored; DDP and the logs. ``seen["started"]`` is set
    once nothing refused the training (``train.status`` removed then: :func:`.session.clear_status`)."""
    run_dir = Path(str(cfg.out_dir))
    if cfg.train.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    try:
        check_out_dir(run_dir)  # before overwrite=true removes anything
    except AdaAnchorError as e:
        raise said_once(e) from None  # every rank read the same file
    resume, state = load_resume(cfg, run_dir, info)
    changes = check_resume(resume, state, cfg, info) if resume is not None else None
    with training_split(run_dir, resume) as chosen:  # split.json: a resume's split checked against it
        run = _build(cfg, info, device, run_dir, pretrained=resume is None)  # a resume's weights are its checkpoint's
    if resume is None and cfg.overwrite and cfg.resume != "auto" and info.is_main:
        remove_earlier_checkpoints(run_dir)  # the new run is built: nothing refused it
    clear_status(run_dir, info)
    if seen is not None:
        seen["started"] = True
    # The run files are written once the model, the data and the schedule are built: a run that stops before
    # (a batch size that the processes do not divide, data not found) leaves config.yaml and its history as they were.
    at_step = int(state["step"]) if resume is not None else 0
    # A resume whose budget the checkpoint has reached trains nothing: config.yaml keeps the options the model was
    # trained with (it said max_steps 2 of a model trained for 4) and the history gains no entry.
    if resume is None or at_step < run.total:
        record_config(cfg, run_dir, info, resume, at_step, changes)
        record_split(run_dir, info, chosen, cfg, fresh=resume is None)
    if resume is not None:
        _restore(run, resume, state)
        _rescore(run, changes or {})
    del state
    run.ddp = _wrap_ddp(run)
    run.log = CsvLog(run_dir / "train_log.csv", info.is_main)
    run.eval_log = CsvLog(run_dir / "eval_log.csv", info.is_main)
    run.log.truncate_after(run.step)  # rows after the checkpoint are redone by this run (a fresh run starts empty logs)
    run.eval_log.truncate_after(run.step)
    run.last_ckpt = (resume, run.step) if resume is not None else None
    run.t0 = time.time()
    return run


def _build(cfg: DictConfig, info: DistInfo, device: torch.device, run_dir: Path, pretrained: bool = True) -> Run:
    """The model, the strategy, the data in its resumable order, the optimizer and the LR schedule; ``pretrained``:
    ``model.weights`` loaded (not for a resume, whose checkpoint replaces them)."""
    tc = cfg.train
    seed = int(cfg.seed)
    seed_everything(seed)  # identical initial weights on every rank (DDP also broadcasts rank 0's)
    model, strategy = build_system(cfg, load_pretrained=pretrained)
    if info.world > 1 and tc.sync_bn:
        model = convert_sync_batchnorm(model, device)
    model.to(device)
    train_ds, val_ds = build_data(cfg, info, device, int(strategy.stride))
    sampler = ResumableBatchSampler(len(train_ds), int(tc.batch_size), seed, info.rank, info.world)
    workers = usable_workers(int(tc.workers), info.is_main)
    split_among(workers + 1 if workers else 1)  # data.cache_mb: the workers' caches and this process's (evaluation)
    # Persistent workers keep their decoded-image cache (data.cache_images) from one epoch to the next.
    loader = DataLoader(KeyedDataset(train_ds, seed), batch_sampler=sampler, collate_fn=collate, num_workers=workers,
                        pin_memory=device.type == "cuda", persistent_workers=workers > 0,
                        worker_init_fn=_worker_init if workers > 0 else None)
    per_epoch = sampler.batches_per_epoch()
    total = int(tc.max_steps) if tc.max_steps else per_epoch * int(tc.epochs)
    opt = torch.optim.Adam(model.parameters(), lr=float(tc.lr), weight_decay=float(tc.weight_decay))
    milestones = milestones_in_steps(cfg, per_epoch)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=float(tc.lr_factor))
    if info.is_main:
        line, warnings = describe_schedule(cfg, per_epoch, total, milestones)
        warnings += warmup_warning(strategy, total) + candidate_warning(strategy) + evaluation_note(cfg, per_epoch, total)
        warnings += inert_warnings(OmegaConf.to_container(cfg, resolve=True))  # options nothing reads
        warnings += amp_note(device, str(tc.amp))
        print(line)
        for w in warnings:
            print(w, file=sys.stderr)
    amp = amp_mode(device, str(tc.amp))
    scaler = torch.amp.GradScaler("cuda", enabled=amp == "fp16")
    return Run(cfg, info, device, run_dir, model, strategy, opt, sched, scaler, sampler, loader, val_ds, amp,
                per_epoch, total, math.ceil(total / per_epoch), ema=make_assign_ema(strategy, model))


def _worker_init(worker_id: int) -> None:
    """A data worker closes its copies of the run lock (:func:`.rundir.close_inherited_locks`), ignores Ctrl-C and
    outlives the first SIGTERM (:mod:`adaanchor.child_signals`), which the terminal, a scheduler (Slurm) and
    torchrun send to the whole process group: the training process finishes its step and saves
    (:class:`.TermSignal`), then stops its workers itself. A worker whose training process is gone exits on its own
    (torch's worker watchdog)."""
    close_inherited_locks(worker_id)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    absorb_first_sigterm()


def stop_workers(loader: DataLoader) -> None:
    """Ends the loader's persistent workers now, the way torch ends them after an epoch (each gets a 'stop' in
    its queue and exits 0). Left to the end of the process, multiprocessing's exit handler stopped them with a
    SIGTERM: after a stop by the process group's SIGTERM that was their second, which ends them
    (:mod:`adaanchor.child_signals`), and torch's SIGCHLD handler then printed 'DataLoader worker ... is killed
    by signal: Terminated' with a traceback under the clean stop's message."""
    iterator = getattr(loader, "_iterator", None)  # torch keeps persistent workers' iterator there
    shutdown = getattr(iterator, "_shutdown_workers", None)
    if shutdown is not None:
        shutdown()
    loader._iterator = None


def usable_workers(asked: int, say: bool = True) -> int:
    """``train.workers``, at most the CPUs this process may run on (a paper config asks for 8): more loader
    processes than cores only compete with training, and torch warns that they may stall. The data order does
    not depend on the number of workers (:mod:`.sampler`), so neither do the results."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    # torchrun's processes on one machine share its CPUs: 2 ranks with 2 workers each were 4 loaders on 2 cores.
    local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
    share = max(1, cpus // local)
    if asked <= share:
        return asked
    if say:
        who = f"the {local} training processes on this machine share its {cpus} CPU(s)" if local > 1 else \
            f"this process may use {cpus} CPU(s)"
        print(f"note: train.workers={asked} but {who}: {share} data loader worker(s) each", file=sys.stderr)
    return share


def _restore(run: Run, resume: Path, state: dict[str, Any]) -> None:
    _check_epoch_length(run, resume, state)
    restore(resume, state, run.cfg, run.model, run.opt, run.sched, run.scaler, milestones_in_steps(run.cfg, run.per_epoch))
    if run.ema is not None:  # the average of the resumed run, else one started from the restored weights
        if "assign_ema" in state:
            run.ema.load_state_dict(state["assign_ema"])
        else:
            run.ema = AssignEMA(run.model, run.ema.decay)
    run.resume, run.step, run.best = resume, int(state["step"]), max(float(state["best"]), _best_written(resume, state))
    run.start_epoch, run.start_batch = int(state["epoch"]), int(state["batch"])
    run.time_before = float(state.get("time_s", 0.0))
    if run.start_batch >= run.per_epoch:
        run.start_epoch, run.start_batch = run.start_epoch + 1, 0
    if run.info.is_main:
        print(f"resumed from {resume} at step {run.step} (epoch {run.start_epoch}, batch {run.start_batch})")


def _check_epoch_length(run: Run, resume: Path, state: dict[str, Any]) -> None:
    """An epoch-counted schedule (``train.max_steps`` null: the length and ``train.lr_steps`` in epochs) cannot go on
    where an epoch is another number of steps (another ``train.batch_size``, other data, other processes): the
    checkpoint's step no longer marks its epoch, and a resume with twice the batch size ended at epoch 5 of 8 with the
    learning rate dropped two epochs early (or trained nothing: "the checkpoint is at step 18, training is 15 steps").
    Checkpoints written before their epoch length was recorded are not checked."""
    before = state.get("per_epoch")
    if run.cfg.train.max_steps is not None or not isinstance(before, int) or before == run.per_epoch:
        return
    raise AdaAnchorError(
        f"{resume}: an epoch was {before} steps when this checkpoint was written and is {run.per_epoch} now (another "
        f"train.batch_size, other data or another number of processes), so the epoch-counted schedule (train.epochs, "
        f"train.lr_steps in epochs) cannot continue from step {state['step']}: give train.max_steps (and "
        "train.lr_steps in steps), or resume with the checkpoint's batch size and data")


def _best_written(resume: Path, state: dict[str, Any]) -> float:
    """The score of a ``best.pt`` beside ``resume`` written at or after its step: a new best writes ``best.pt`` and
    then ``last.pt`` (which carries the score to beat), and a process killed between the two left ``last.pt`` with
    the old score, so that a worse model replaced ``best.pt`` later. ``-inf`` when there is no such file."""
    best = resume.parent / "best.pt"
    if best == resume or not best.is_file():
        return -math.inf
    try:
        other = load_checkpoint(best)
        if int(other.get("step", -1)) >= int(state["step"]):
            return float(other.get("best", -math.inf))
    except (AdaAnchorError, TypeError, ValueError):  # unreadable or another kind of file: the resumed state decides
        pass
    return -math.inf


def _rescore(run: Run, changes: dict[str, Any]) -> None:
    """After a change of what the evaluation scores (``data.val``, ``eval.pck``, ...), ``best.pt`` is chosen anew
    from the next evaluation: it compared a score on the old validation data with scores on the new, silently."""
    keys = scored_otherwise(changes)
    if not keys or run.best == -math.inf:
        return
    if run.info.is_main:
        print(f"note: {', '.join(keys)} changed what the evaluation scores: best.pt (score {run.best:.4g} on the "
              "earlier setting) is chosen anew from the next evaluation")
    run.best = -math.inf


def _wrap_ddp(run: Run) -> torch.nn.Module:
    if run.info.world == 1:
        return run.model
    # A head-less neck (e.g. regression reads only the deep features) leaves parameters without gradients.
    heads = run.strategy.heads
    unused = all(h == "coords" for h in heads) or bool(set(heads) - set(run.strategy.losses))
    ids = [run.device.index] if run.device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(run.model, device_ids=ids, find_unused_parameters=unused)
