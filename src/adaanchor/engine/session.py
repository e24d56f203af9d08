"""Setting up a training session: the run directory, the data (in turn under DDP), the
checkpoint to resume from, and a clean stop on SIGTERM. Used by :mod:`adaanchor.engine.train`."""

from __future__ import annotations

import bisect
import contextlib
import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from ..data.paths import found_below
from ..data.splits import shared_images
from ..errors import AdaAnchorError, DataError
from .ap_truth import check_ap_ground_truth, dataset_people
from .checkpoint import load_checkpoint, load_model_state, newest_checkpoint, set_rng_state
from .dist import DistInfo, any_rank, broadcast_object, one_error, said_once
from .multi import check_sigmas
from .resume_config import describe_changes, keep_started_weights
from .run import build_split, is_multi_person
from .rundir import STATUS_NAME, RunLock, check_resume_config, write_run_files


class TermSignal:
    """While training, SIGTERM (a scheduler's preemption, torchrun's shutdown) and a first Ctrl-C (SIGINT) ask
    for a checkpoint and a clean stop at the next step instead of ending the process mid-step, with the work since
    the last checkpoint lost. A second Ctrl-C stops at once, as Python's own handler does."""

    SIGNALS = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "Ctrl-C (SIGINT)"}

    def __init__(self, ctrl_c: str | None = None) -> None:
        """``ctrl_c``: what a first Ctrl-C does once :meth:`arm_ctrl_c` is called (e.g. "finishing this step and
        saving a checkpoint"), said when it comes; until then, and with None, Ctrl-C is Python's
        (KeyboardInterrupt)."""
        self.requested, self.name, self.ctrl_c = False, "", ctrl_c
        self._old: dict[int, Any] = {}

    def __enter__(self) -> TermSignal:
        self._catch(signal.SIGTERM)
        return self

    def arm_ctrl_c(self) -> None:
        """From here on a first Ctrl-C asks for a clean stop (training's loop: there is a step to finish). A process
        that ignores SIGINT (started in the background by a shell, or under nohup) keeps ignoring it."""
        if self.ctrl_c and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            self._catch(signal.SIGINT)

    def _catch(self, sig: int) -> None:
        if sig not in self._old and threading.current_thread() is threading.main_thread():
            self._old[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested, self.name = True, self.SIGNALS.get(signum, str(signum))
        if signum == signal.SIGINT:
            signal.signal(signal.SIGINT, self._old[signal.SIGINT])  # the next Ctrl-C is Python's again
            if os.environ.get("RANK", "0") in ("", "0"):  # under torchrun every rank gets it: said once
                print(f"\nCtrl-C: {self.ctrl_c} (Ctrl-C again stops at once)", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def plain_ctrl_c(self) -> Iterator[None]:
        """Within it, Ctrl-C is Python's (KeyboardInterrupt at once): an evaluation has no step to finish and the
        checkpoint before it is written, so a Ctrl-C there must not wait for it to end (a COCO evaluation takes
        minutes) and then let the run finish as if nothing was asked. SIGTERM keeps its clean stop."""
        ours = signal.SIGINT in self._old and signal.getsignal(signal.SIGINT) == self._handle
        if ours:
            signal.signal(signal.SIGINT, self._old[signal.SIGINT])
        try:
            yield
        finally:
            if ours and not self.requested:
                signal.signal(signal.SIGINT, self._handle)

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old = {}


def open_run_dir(run_dir: Path, info: DistInfo) -> RunLock | None:
    """Rank 0 creates the run directory, takes its lock (one training at a time) and removes temp files a
    crash left; every rank learns if that failed. Returns the lock (rank 0) to release at the end. ``train.status``
    stays until the training is accepted (:func:`clear_status`): a training refused before (its checkpoints, a
    resume of another model) leaves the one before it."""
    err, lock = None, None
    if info.is_main:
        try:
            (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
            lock = RunLock(run_dir)
            took_over = lock.acquire()
            if took_over:
                print(f"note: {took_over}")
            for stale in (run_dir / "checkpoints").glob("*.pt.*.tmp"):  # left by a crash during a write
                stale.unlink(missing_ok=True)
        except OSError as e:
            err = f"{run_dir}: cannot write the run directory (out_dir): {e.strerror or e}"
        except AdaAnchorError as e:
            err = str(e)
    err = broadcast_object(err, info)
    if err:
        if lock is not None:
            lock.release()
        raise said_once(AdaAnchorError(err))
    return lock


def clear_status(run_dir: Path, info: DistInfo) -> None:
    """Rank 0 removes ``train.status``, how the training before ended (:mod:`.stops`), once this one is accepted:
    every check that could refuse it has passed."""
    if info.is_main:
        with contextlib.suppress(OSError):  # a folder that cannot be written says so when config.yaml is written
            (run_dir / STATUS_NAME).unlink(missing_ok=True)


def record_config(cfg: DictConfig, run_dir: Path, info: DistInfo, resumed_from: Path | None, step: int,
                  changes: dict[str, Any] | None) -> None:
    """Rank 0 writes ``config.yaml``, the spec copy and the history entry (:func:`rundir.write_run_files`)."""
    err = None
    if info.is_main:
        try:
            write_run_files(cfg, run_dir, resumed_from, step, changes)
        except OSError as e:
            err = f"{run_dir}: cannot write the run directory (out_dir): {e.strerror or e}"
        except AdaAnchorError as e:  # e.g. the keypoint spec cannot be read: every rank must stop
            err = str(e)
    err = broadcast_object(err, info)
    if err:
        raise said_once(AdaAnchorError(err))


def build_data(cfg: DictConfig, info: DistInfo, device: torch.device, stride: int = 4) -> tuple[Any, Any]:
    """Training and evaluation sets of the config's task (``stride``: the model's, for the padding of the
    whole-image test inputs of a multi-person task). Under DDP, rank 0 reads first (and writes the synthetic benchmark's cache),
    then each node's local rank 0 (a cache on a disk that only its node sees), then the rest: no two processes
    write the same cache, and an error on any rank stops every rank."""
    out, err = (None, None), None
    phases = (info.is_main, not info.is_main and info.local_rank == 0, not info.is_main and info.local_rank != 0)
    for mine in phases if info.world > 1 else (True,):
        if mine:
            try:
                train_ds = build_split(cfg, "train", stride, verbose=info.is_main)
                # The val split says what it skipped too (with data.skip_invalid): its counts were silent.
                out = (train_ds, build_split(cfg, "val", stride, verbose=info.is_main) if cfg.train.eval_every else None)
                for split, ds in zip(("train", "val"), out, strict=True):
                    check_images(ds, split)
                if cfg.train.eval_every:
                    check_ap_ground_truth(cfg, dataset_people(out[1]))
                    if is_multi_person(cfg):
                        check_sigmas(cfg)
            except AdaAnchorError as e:
                err = e
        if any_rank([err is not None], info, device)[0]:
            raise err or said_once(AdaAnchorError(f"another rank could not read the data (data.root={cfg.data.root})"),
                                   another_rank=True)
    if info.is_main:
        print("data: " + "; ".join(f"{name} {describe_dataset(ds)}" for name, ds in zip(("train", "val"), out, strict=True)
                                   if ds is not None))
        shared = out[1] is not None and shared_images(getattr(out[0], "instances", []), getattr(out[1], "instances", []), cfg.data)
        if shared:
            print(f"warning: {shared}")
    return out


def check_images(ds: Any, split: str) -> None:
    """Every image of ``ds`` exists, or one error, before training starts, naming the first missing one and the
    count (``data.skip_invalid=true`` has already skipped them, counted)."""
    if ds is None:
        return
    paths = {i.image_path for i in ds.instances}
    missing = sorted(p for p in paths if not Path(p).is_file())
    if not missing:
        return
    first = next(i for i in ds.instances if i.image_path == missing[0])
    gone = [p for p in missing if not Path(p).exists()]
    if len(gone) == len(missing):
        raise DataError(missing[0], f"image file not found ({len(missing)} of {len(paths)} {split} images are "
                        "missing: the data moved? give data.root=... or data.images=..., or data.skip_invalid=true "
                        f"to skip them){found_below(missing[0])}", record=f"image_id {first.image_id}")
    # A folder or a pipe where an image goes was "image file not found" here and "a folder" in data stats.
    what = "a folder, not an image file" if Path(missing[0]).is_dir() else \
        "image file not found" if not Path(missing[0]).exists() else "not a regular file (a pipe or a device)"
    raise DataError(missing[0], f"{what} ({len(missing)} of {len(paths)} {split} image paths are no image files: "
                    f"{len(missing) - len(gone)} folders or other non-files, {len(gone)} missing; "
                    "data.skip_invalid=true skips them)", record=f"image_id {first.image_id}")


def describe_dataset(ds: Any) -> str:
    """``N images, M instances`` of a dataset of instances (each with an ``image_path``)."""
    insts = getattr(ds, "instances", [])
    return f"{len({i.image_path for i in insts})} images, {len(insts)} instances"


def load_resume(cfg: DictConfig, run_dir: Path, info: DistInfo) -> tuple[Path | None, Any]:
    """The checkpoint to resume from (rank 0 decides; every rank reads the same file) and its content. A file that
    some rank cannot read stops every rank, said once (:func:`.dist.one_error`)."""
    resume = cfg.resume
    if resume and cfg.overwrite:
        # Opposite instructions: the resume went on and overwrite was dropped without a word. Refused whether or not
        # a checkpoint is there yet: the same command, requeued after its first checkpoint, must not fail then.
        raise said_once(AdaAnchorError(f"resume={cfg.resume} and overwrite=true: one continues the training in "
                                       f"{run_dir}, the other starts it again over its checkpoints; give one"))
    if resume == "auto":
        found = newest_checkpoint(run_dir) if info.is_main else None
        resume = broadcast_object(str(found) if found else None, info)
        if resume is None:
            if info.is_main:
                print(f"resume=auto: no checkpoint in {run_dir / 'checkpoints'}: starting from scratch")
            return None, None
    if not resume:
        check_fresh_start(cfg, run_dir, info)
        return None, None
    err, state = None, None
    try:
        state = load_checkpoint(resume, training=True)
    except AdaAnchorError as e:
        err = str(e) if cfg.resume == "auto" else f"{e} (given as resume)"  # the key that named the file
    refused = one_error(err, info, " (rank 0 reads it: out_dir must be on a filesystem that every node sees)")
    if refused is not None:  # printed once, by rank 0
        raise refused
    return Path(resume), state


def check_fresh_start(cfg: DictConfig, run_dir: Path, info: DistInfo) -> None:
    """A new run does not replace the checkpoints of an earlier one unless ``overwrite=true``: running the same
    command twice would otherwise lose the first training at the second's first checkpoint. With ``overwrite=true``
    the earlier checkpoints are removed once the new run is built (:func:`remove_earlier_checkpoints`, called by
    ``setup_run``): a ``best.pt`` left behind was what ``eval RUN`` then scored, and a ``last.pt`` what
    ``resume=auto`` continued after a crash before the new run's first checkpoint; removed before, a config refused
    while the run was built (an option's value, data not found) cost them for nothing."""
    if cfg.overwrite:
        return
    found = newest_checkpoint(run_dir) if info.is_main else None
    found = broadcast_object(str(found) if found else None, info)
    if found:
        raise said_once(AdaAnchorError(f"{run_dir}: holds the checkpoints of an earlier training ({found}): continue it "
                                       "with resume=auto, start again over it with overwrite=true, or give another "
                                       "out_dir"))


def remove_earlier_checkpoints(run_dir: Path) -> None:
    """Delete ``run_dir/checkpoints/*.pt`` (a new training over an earlier one, ``overwrite=true``), saying so."""
    d = run_dir / "checkpoints"
    old = sorted(p for p in d.glob("*.pt") if p.is_file()) if d.is_dir() else []
    for p in old:
        p.unlink()
    if old:
        print(f"overwrite=true: removed the earlier training's checkpoints ({', '.join(p.name for p in old)})")


def check_resume(path: Path, state: dict, cfg: DictConfig, info: DistInfo) -> dict[str, Any]:
    """The options changed against the checkpoint's config (applied; printed by rank 0); refuses changes to
    the options that fix the model (:func:`rundir.check_resume_config`)."""
    old = state.get("config")
    if not isinstance(old, dict):
        return {}  # a checkpoint without its config: only the model's shapes can be checked
    keep_started_weights(old, cfg, info.is_main)
    changes = check_resume_config(old, cfg, path)
    if info.is_main:
        step, epoch = state.get("step"), state.get("epoch")
        by_epochs = cfg.train.get("max_steps") is None and isinstance(epoch, int)
        for line in describe_changes(changes, step if isinstance(step, int) else None, epoch if by_epochs else None):
            print(line)
    return changes


def restore(path: Path, state: dict, cfg: DictConfig, model: torch.nn.Module, opt: Any, sched: Any, scaler: Any,
            milestones: list[int]) -> None:
    """Load the training state into the model, optimizer, scheduler and scaler, then apply this config's
    learning-rate schedule and weight decay (they may change on resume) and restore the RNGs."""
    load_model_state(model, state, path, f"backbone {cfg.model.backbone}, strategy {cfg.strategy.name}; cannot resume")
    try:
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        if "scaler" in state and scaler.is_enabled():
            scaler.load_state_dict(state["scaler"])
    except (KeyError, RuntimeError, ValueError, TypeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise AdaAnchorError(f"{path}: cannot resume: the checkpoint does not match the model or optimizer of this "
                             f"config (backbone {cfg.model.backbone}, strategy {cfg.strategy.name}): {first}") from None
    apply_schedule(cfg, opt, sched, milestones)
    set_rng_state(state["rng"])


def apply_schedule(cfg: DictConfig, opt: Any, sched: Any, milestones: list[int]) -> None:
    """Make the restored optimizer and MultiStepLR follow ``train.lr``, ``lr_steps``, ``lr_factor`` and
    ``weight_decay`` of this config (the state dicts carry the values of the run that saved them). Nothing is
    touched when they are unchanged, so an unchanged resume stays bit-exact."""
    lr, gamma, wd = float(cfg.train.lr), float(cfg.train.lr_factor), float(cfg.train.weight_decay)
    wanted = Counter(milestones)
    groups = opt.param_groups
    if (list(sched.base_lrs) == [lr] * len(groups) and sched.milestones == wanted and sched.gamma == gamma
            and all(g["weight_decay"] == wd for g in groups)):
        return
    sched.base_lrs, sched.milestones, sched.gamma = [lr] * len(groups), wanted, gamma
    # The closed form of MultiStepLR at the restored step: lr * gamma ** (milestones passed).
    now = lr * gamma ** bisect.bisect_right(sorted(wanted.elements()), sched.last_epoch)
    for g in groups:
        g["initial_lr"], g["lr"], g["weight_decay"] = lr, now, wd
    sched._last_lr = [now] * len(groups)
