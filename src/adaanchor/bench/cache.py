"""The folder of a generated benchmark (synthetic poses, crowds, crowd faces): reuse, write once, never replace.

A folder holds ``images/{train,val}/``, ``train.json``, ``val.json`` and ``manifest.json`` (the resolved options,
counts, format version and the annotation files' sizes), the manifest written last so that an interrupted write is
not taken for a finished one; annotation files cut since are found by their sizes, and the folder is written again.

Two rules keep results honest when several processes share a folder:
- **Written once.** The write holds an exclusive lock on ``<folder>/.lock``: a second process asking for the same
  benchmark waits, then finds it finished and reuses it (two writers would interleave their files).
- **Never replaced by other options.** A finished benchmark written with other options (same format version) is
  not overwritten: a run that trained on it, or one reading it right now, would silently read other images. The
  error names the options that differ. An unfinished folder, or one of an older format version, is rewritten.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from adaanchor.atomic import write_text_atomic
from adaanchor.child_signals import PARENT_POLL_S, absorb_first_sigterm
from adaanchor.errors import AdaAnchorError

SPLITS = ("train", "val")



def jsonable(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """``cfg`` as it reads back from JSON (tuples become lists), so that manifests compare equal."""
    return json.loads(json.dumps(dict(cfg)))


def write_json(path: Path, data: Any) -> None:
    """Write compact JSON through a temporary file: a reader never sees a half-written file."""
    write_text_atomic(path, json.dumps(data, separators=(",", ":")))


def _manifest(root: Path) -> dict[str, Any] | None:
    try:
        m = json.loads((root / "manifest.json").read_text())
        return m if isinstance(m, dict) else None
    except (OSError, ValueError):
        return None


def _files_complete(root: Path, cfg: Mapping[str, Any]) -> bool:
    """Both JSON files, and every image where the options count them (``images/SPLIT/000000.png`` ...). Each image
    is looked for by name: a count of the folder's files took a stray ``.DS_Store`` for an unfinished benchmark,
    which another run with other options then replaced under the runs reading it."""
    try:
        return all((root / f"{s}.json").is_file()
                   and all((root / "images" / s / f"{i:06d}.png").is_file() for i in range(int(cfg.get(f"n_{s}", 0))))
                   for s in SPLITS)
    except (OSError, TypeError, ValueError):
        return False


def cache_ok(root: Path, cfg: Mapping[str, Any], version: int) -> bool:
    """Whether ``root`` holds a finished benchmark written with ``cfg`` at format ``version``, its annotation files
    of the sizes the manifest records."""
    m = _manifest(root)
    return (m is not None and m.get("format_version") == version and m.get("config") == jsonable(cfg)
            and _files_complete(root, m["config"]) and _damage(root, m) is None)


def _damage(root: Path, manifest: Mapping[str, Any]) -> str | None:
    """How an annotation file differs in size from the one the manifest records (cut by hand or by a disk error:
    ``synth`` gave a JSONDecodeError traceback and ``train`` an invalid-JSON error on a cache it took for finished),
    or None; manifests written before the sizes were recorded are not checked."""
    sizes = manifest.get("sizes")
    if not isinstance(sizes, Mapping):
        return None
    for name, size in sizes.items():
        try:
            now = (root / name).stat().st_size
        except OSError:
            now = None
        if now != size:
            return f"{name} is {now if now is not None else 'missing'} bytes, {size} when it was written"
    return None


def _differences(old: Mapping[str, Any], new: Mapping[str, Any], most: int = 4) -> str:
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    parts = [f"{k}: {json.dumps(old.get(k))} there, {json.dumps(new.get(k))} asked" for k in keys[:most]]
    return "; ".join(parts) + (f"; and {len(keys) - most} more" if len(keys) > most else "")


def _refuse_other_options(root: Path, cfg: Mapping[str, Any], version: int, what: str) -> None:
    """Raise when ``root`` holds a finished ``what`` of format ``version`` written with options other than ``cfg``."""
    m = _manifest(root)
    if m is None or m.get("format_version") != version or not isinstance(m.get("config"), dict):
        return
    old, new = m["config"], jsonable(cfg)
    if old != new and _files_complete(root, old):
        # Each benchmark has its own options: other keys mean another benchmark (the synth one where crowd was asked).
        held = f"another benchmark than the {what}" if set(old) != set(new) else f"the {what} written with other options"
        raise AdaAnchorError(
            f"{root}: holds {held} ({_differences(old, new)}); it is not replaced, "
            "since runs trained on it would then read other images. Use another folder for these options (the "
            "data.root option, or the OUT_DIR of `adaanchor synth`), or delete this folder to replace it")


def prepare_folder(root: Path, what: str) -> None:
    """Empty ``root``'s benchmark files for a new write; the manifest goes first, so that from here on the folder
    is not taken for a finished cache. ``what`` names the benchmark in the error."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        (root / "manifest.json").unlink(missing_ok=True)
        for s in SPLITS:
            (root / f"{s}.json").unlink(missing_ok=True)
            _empty_folder(root / "images" / s)
    except OSError as exc:
        raise AdaAnchorError(f"{root}: cannot write the {what} there ({exc.strerror or exc})") from None


def _empty_folder(folder: Path) -> None:
    """``folder`` made empty (created if missing). The render workers of a writer killed a moment ago still write
    until they see their parent gone (``child_signals.PARENT_POLL_S``): a folder they filled again while it was
    being removed was 'File exists', so the removal is tried again until they have left."""
    for _ in range(10):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            break
        time.sleep(PARENT_POLL_S)
    folder.mkdir(parents=True, exist_ok=True)


@contextmanager
def _locked(root: Path, what: str) -> Iterator[None]:
    try:
        root.mkdir(parents=True, exist_ok=True)
        f = open(root / ".lock", "a+")  # noqa: SIM115 - held open for the lock's lifetime
    except OSError as exc:
        raise AdaAnchorError(f"{root}: cannot write the {what} there ({exc.strerror or exc})") from None
    try:
        try:
            import fcntl
        except ImportError:  # no advisory locks on this platform: one writer is assumed
            fcntl = None  # type: ignore[assignment]
        if fcntl is not None:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        f.close()  # closing the file releases the lock


@contextmanager
def writing(root: Path, cfg: Mapping[str, Any], version: int, what: str) -> Iterator[bool]:
    """Guard one benchmark folder. Yields False when ``root`` already holds the benchmark written with ``cfg``
    (nothing to write), True when the caller must write it now (the folder has been emptied for it); the folder is
    locked meanwhile. Raises :class:`AdaAnchorError` when it holds a finished benchmark of other options."""
    if cache_ok(root, cfg, version):  # the common case, without taking the lock
        yield False
        return
    with _locked(root, what):
        if cache_ok(root, cfg, version):  # another process wrote it while this one waited
            yield False
            return
        _refuse_other_options(root, cfg, version, what)
        m = _manifest(root)
        why = _damage(root, m) if m is not None and m.get("config") == jsonable(cfg) else None
        if why is not None:  # the same options, the files damaged since: written again, as they were
            print(f"note: {root}: {why}: the {what} is written again", file=sys.stderr)
        prepare_folder(root, what)
        yield True


def write_manifest(root: Path, cfg: Mapping[str, Any], version: int, counts: Mapping[str, Any]) -> None:
    """The manifest, written last: from then on the folder is a finished benchmark."""
    sizes = {f"{s}.json": (root / f"{s}.json").stat().st_size for s in SPLITS}  # checked on reuse (_damage)
    write_json(root / "manifest.json", {"format_version": version, "config": jsonable(cfg), "counts": dict(counts),
                                        "sizes": sizes})


# One rendering job: (folder, split index in SPLITS, first image, image after the last, resolved options).
Job = tuple[str, int, int, int, dict[str, Any]]


def render_splits(root: Path, cfg: dict[str, Any], render_chunk: Callable[[Job], list[dict[str, Any]]], what: str,
                  chunk: int, progress: bool, workers: int | None, parallel_from: int) -> dict[str, list[dict[str, Any]]]:
    """Render both splits into ``root`` in chunks of ``chunk`` images; returns split -> records in image order.

    ``render_chunk`` (a module-level function: it runs in spawned workers) renders one :data:`Job`. The records do
    not depend on ``workers`` (default: 2 processes when there are ``parallel_from`` images or more, else none).
    A folder that cannot be written to raises an :class:`AdaAnchorError` naming it.
    """
    from tqdm import tqdm

    total = cfg["n_train"] + cfg["n_val"]
    workers = workers if workers is not None else (min(2, os.cpu_count() or 1) if total >= parallel_from else 1)
    # Spawned (not forked) workers: the parent may hold torch threads, which fork does not copy safely.
    pool = (ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=absorb_first_sigterm)
            if workers > 1 else None)
    out: dict[str, list[dict[str, Any]]] = {}
    try:
        for si, split in enumerate(SPLITS):
            n = cfg[f"n_{split}"]
            jobs = [(str(root), si, a, min(a + chunk, n), cfg) for a in range(0, n, chunk)]
            records: list[dict[str, Any]] = []
            with tqdm(total=n, desc=f"{what} {split}", unit="img", disable=not progress) as bar:
                for part in (pool.map(render_chunk, jobs) if pool else map(render_chunk, jobs)):
                    records += part
                    bar.update(len(part))
            out[split] = records
    except OSError as exc:
        raise AdaAnchorError(f"{root}: cannot write the {what} there ({exc.strerror or exc})") from None
    finally:
        if pool is not None:  # on an interrupt the chunks not started are dropped, not rendered first
            pool.shutdown(cancel_futures=True)
    return out


__all__ = ["SPLITS", "Job", "cache_ok", "jsonable", "prepare_folder", "render_splits", "write_json", "write_manifest",
           "writing"]
