"""A run directory that tells the truth: one writer at a time (a lock file), absolute paths, its own copy of
the keypoint spec, and a history of the options each training in it ran with.

- ``train.lock`` holds the pid and host of the training writing the directory, under an exclusive
  ``flock``: the kernel drops the lock when that process dies however it dies (SIGKILL included), so a lock
  file nobody holds is stale and is taken over, with a message.
- ``config.yaml`` is the current resolved config with absolute paths (``data.root``, ``out_dir``, ...);
  ``spec.yaml`` is the keypoint spec it was trained with; ``config_history.yaml`` lists every training
  started in the directory and the options it changed.
- Resuming may change the options of the schedule, logging and evaluation (applied and logged), not the ones
  that fix the model (:data:`.resume_config.FROZEN`): those are refused with the difference.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from ..atomic import write_text_atomic
from ..config import RUN_SECTIONS, missing_run_sections, read_yaml, save_config
from ..data.build import data_spec
from ..data.spec import KeypointSpec, spec_to_dict
from ..data.spec_source import is_builtin_name, load_spec, read_from_data
from ..errors import AdaAnchorError
from ..safe_yaml import dump_yaml
from ..versions import versions
from .resume_config import config_changes, frozen, spec_signature

LOCK_NAME, SPEC_NAME, HISTORY_NAME = "train.lock", "spec.yaml", "config_history.yaml"
STATUS_NAME = "train.status"  # how the last training ended (adaanchor.engine.stops)

_HELD: set[int] = set()  # lock descriptors of this process (copied into forked children with their numbers)


def close_inherited_locks(worker_id: int = 0) -> None:
    """``worker_init_fn`` of the data loader: a forked worker closes its copies of the lock descriptors, so that
    the lock dies with the training process itself, not seconds later with its workers. (The parent's own
    descriptor keeps the lock; a spawned worker has none: its set is empty.)"""
    for fd in list(_HELD):
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


class RunLock:
    """Exclusive lock of ``run_dir/train.lock`` for one training process (rank 0 under torchrun)."""

    def __init__(self, run_dir: Path):
        self.path, self.fd = Path(run_dir) / LOCK_NAME, None

    def acquire(self) -> str | None:
        """Take the lock; returns a message when a stale lock (its process gone) was taken over.

        Raises:
            AdaAnchorError: a live process holds the lock (names its pid and host).
        """
        for _ in range(10):  # the holder may release (unlink) it between our open and our flock
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                held = not _try_flock(fd, _owner(fd))
            except BaseException:
                os.close(fd)
                raise
            if held:
                owner = _owner(fd)
                os.close(fd)
                raise AdaAnchorError(
                    f"{self.path.parent}: another training is writing this run directory ({_who(owner)}; lock "
                    f"file {self.path}): wait for it to end, stop it, or choose another out_dir")
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            previous = _owner(fd)
            me = {"pid": os.getpid(), "host": socket.gethostname(), "started": _now()}
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
            os.fsync(fd)
            self.fd = fd
            _HELD.add(fd)
            if previous:
                # Checkpoints are written whole or not at all: whatever the dead process left is complete (it may
                # have left none, killed before its first).
                ckpts = sorted((self.path.parent / "checkpoints").glob("*.pt"))
                left = "its last checkpoint is intact" if ckpts else "it left no checkpoint"
                return f"{self.path}: took over a stale lock ({_who(previous)}, no longer running; {left})"
            return None
        raise AdaAnchorError(f"{self.path}: cannot take the lock (it keeps being replaced by another process)")

    def release(self) -> None:
        """Remove the lock file and drop the lock (idempotent)."""
        if self.fd is None:
            return
        try:
            os.unlink(self.path)  # while still holding it: a waiting process then sees a new inode and retries
        except FileNotFoundError:
            pass
        _HELD.discard(self.fd)
        os.close(self.fd)
        self.fd = None


def training_now(run_dir: Path) -> str | None:
    """Who holds ``run_dir``'s training lock (pid, host, since), or None when no training is writing the run: a
    shared lock is tried on ``train.lock`` without creating it, so nothing of the run is changed."""
    path = Path(run_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        owner = _owner(fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _who(owner)
        except OSError:  # no flock on this filesystem: the pid in the file decides, as for the lock itself
            pid = owner.get("pid")
            live = isinstance(pid, int) and owner.get("host") == socket.gethostname() and _alive(pid)
            return _who(owner) if live else None
        return None
    finally:
        os.close(fd)


def _try_flock(fd: int, owner: dict[str, Any]) -> bool:
    """True if this process now holds ``fd``'s lock. Where the filesystem has no ``flock`` (some network
    filesystems), the pid in the file decides: a live process on this host keeps it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as e:
        if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
            raise
    pid = owner.get("pid")
    return not (isinstance(pid, int) and owner.get("host") == socket.gethostname() and pid != os.getpid()
                and _alive(pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner(fd: int) -> dict[str, Any]:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (ValueError, UnicodeDecodeError, OSError):
        return {}
    return data if isinstance(data, dict) else {}


def _who(owner: Mapping[str, Any]) -> str:
    if not owner:
        return "owner unknown"
    return f"pid {owner.get('pid', '?')} on host {owner.get('host', '?')}, since {owner.get('started', '?')}"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def absolute_paths(cfg: DictConfig) -> DictConfig:
    """A copy of ``cfg`` whose file paths are absolute, so that ``config.yaml`` means the same from any
    working directory: ``out_dir``, ``data.root``, ``data.csv``, a spec file, ``model.weights`` and ``resume``
    (``data.train``/``val``/``images``/``detections`` stay relative to ``data.root``)."""
    out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))

    def fix(key: str, must_exist: bool = False) -> None:
        v = OmegaConf.select(out, key)
        if not isinstance(v, str) or not v:
            return
        p = Path(v).expanduser()
        if not p.is_absolute() and (not must_exist or p.exists()):
            OmegaConf.update(out, key, str(p.resolve()))

    fix("out_dir")
    fix("data.root")
    fix("data.csv")
    fix("model.weights", must_exist=True)  # a name such as timm:resnet50 is not a path
    if not is_builtin_name(OmegaConf.select(out, "data.spec")):  # a built-in name is not a path (a folder 'coco' here)
        fix("data.spec", must_exist=True)
    if out.get("resume") not in (None, "auto"):
        fix("resume")
    return out  # type: ignore[return-value]


def _old_spec(old_cfg: Mapping[str, Any], ckpt: Path) -> KeypointSpec | None:
    """The spec a checkpoint was trained with: the copy in its run directory, else its config's spec."""
    copy = ckpt.parent.parent / SPEC_NAME
    try:
        return load_spec(copy if copy.is_file() else (old_cfg.get("data") or {}).get("spec", "coco"))
    except AdaAnchorError:
        return None  # neither is readable here: the model's shapes are still checked when it is loaded


def check_resume_config(old_cfg: Mapping[str, Any], cfg: DictConfig, ckpt: Path) -> dict[str, tuple[Any, Any]]:
    """Compare the checkpoint's config with this run's: returns the changes that are applied.

    Raises:
        AdaAnchorError: an option of :data:`.resume_config.FROZEN` or the keypoint spec changed (lists every such key with
            its old and new value).
    """
    new = OmegaConf.to_container(cfg, resolve=True)
    changes = config_changes(old_cfg, new)  # type: ignore[arg-type]
    refused = [f"{k}: {v[0]!r} -> {v[1]!r}" for k, v in changes.items() if frozen(k)]
    before, now = _old_spec(old_cfg, ckpt), data_spec(cfg.data)
    if before is not None and spec_signature(before) != spec_signature(now):
        refused.append(f"keypoint spec: {before.name} ({before.num_keypoints} keypoints, {before.source}) -> "
                       f"{now.name} ({now.num_keypoints} keypoints, {now.source})")
    if refused:
        raise AdaAnchorError(f"{ckpt}: cannot resume: options that fix the model changed: {'; '.join(refused)} "
                             "(start a new run in another out_dir, with model.weights=CHECKPOINT to start from "
                             "these weights)")
    changes.pop("data.spec", None)  # the same keypoint set under another name or path
    return changes


def remove_empty_run_dir(run_dir: Path) -> None:
    """Remove ``run_dir`` when it holds nothing but an empty ``checkpoints/`` and its ``train.status`` (a training
    that this call started in a new folder and that failed before writing a file: bad data, a wrong option found
    late); anything else in it stays."""
    with contextlib.suppress(OSError):  # gone already, or not ours to remove: leave it
        names = sorted(p.name for p in run_dir.iterdir())
        if names in (["checkpoints"], ["checkpoints", STATUS_NAME]) and not any((run_dir / "checkpoints").iterdir()):
            (run_dir / STATUS_NAME).unlink(missing_ok=True)
            (run_dir / "checkpoints").rmdir()
            run_dir.rmdir()


def check_out_dir(run_dir: Path) -> None:
    """``out_dir`` must not hold another tool's ``config.yaml``: a run writes its own there, and an out_dir that was
    a DeepLabCut project (``out_dir`` = ``data.root``) lost the project's config (its bodyparts and skeleton)."""
    cfg_path = run_dir / "config.yaml"
    has_text = cfg_path.is_file() and bool(cfg_path.read_bytes().strip())  # an emptied file holds nothing to lose
    if has_text and missing_run_sections(cfg_path) == list(RUN_SECTIONS):
        raise AdaAnchorError(f"{cfg_path}: a config.yaml that is not a run's (a DeepLabCut project's?) would be "
                             "replaced by the run's: give out_dir a folder of its own")


def write_run_files(cfg: DictConfig, run_dir: Path, resumed_from: Path | None, step: int,
                    changes: Mapping[str, tuple[Any, Any]] | None) -> None:
    """Write ``config.yaml`` (atomically), the spec copy and a ``config_history.yaml`` entry.

    ``changes`` are the options changed against the checkpoint (resume); for a new run they are computed
    against the ``config.yaml`` already in ``run_dir``, if any."""
    cfg_path = run_dir / "config.yaml"
    if changes is None:
        old = read_yaml(cfg_path) if cfg_path.is_file() else {}
        changes = config_changes(old, OmegaConf.to_container(cfg, resolve=True)) if old else {}  # type: ignore[arg-type]
    spec = data_spec(cfg.data)
    # A spec file is copied; a spec read from the data (a DeepLabCut project, a .slp or .nwb, a COCO file's categories)
    # is written out, so that the run predicts without its data (on another machine, after the data changed).
    src, own = Path(spec.source) if spec.source else None, run_dir / SPEC_NAME
    if src is not None and src.is_file() and not read_from_data(spec):
        if src.resolve() != own.resolve():
            write_text_atomic(own, src.read_text())
    else:
        text = f"# The keypoint spec this run was trained with, read from {spec.source or 'its data'}.\n"
        # dump_yaml: a name such as '1e5' quoted, as the spec loader reads an unquoted 1e5 as a number.
        write_text_atomic(own, text + dump_yaml(spec_to_dict(spec), sort_keys=False))
    tmp = run_dir / f".config.yaml.{os.getpid()}.tmp"
    save_config(cfg, tmp)
    os.replace(tmp, cfg_path)
    entry = {"started": _now(), "host": socket.gethostname(), "pid": os.getpid(),
             "resumed_from": str(resumed_from) if resumed_from else None, "start_step": int(step),
             "versions": versions(),
             "changed": {k: {"old": a, "new": b} for k, (a, b) in changes.items()}}
    hist = run_dir / HISTORY_NAME
    # One YAML list item appended per start: a crash cannot damage the earlier entries.
    with hist.open("a") as f:
        f.write(yaml.safe_dump([entry], sort_keys=False))
