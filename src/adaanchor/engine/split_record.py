"""The split a run trained with: ``RUN/split.json``, written when a training splits one annotation file into train
and val (``data.split``), and checked whenever the run's data is read again.

``data.split`` is drawn from the images there are each time the data is read: one frame added to a project moves
images from one side to the other (one frame added to a 200-frame project: 21 of the 40 new val images had been
training images). So:

- a new training of a split file writes the train and val image files it drew (relative to ``data.root`` where
  they lie under it), the split options and the counts (rank 0, atomically);
- ``resume`` refuses any difference between the split drawn now and the recorded one (the images of each side,
  as it counts them): a resumed training trains on its recorded training images and chooses its best checkpoint
  on its recorded val images, or does not start;
- ``adaanchor eval RUN`` evaluates on the recorded val images that still exist when the split drawn now differs,
  with one ``note:`` counting what it left out; it never scores recorded training images.

A run directory without ``split.json`` (older runs, a dataset with its own val file) is read as before.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..atomic import write_text_atomic
from ..data.paths import splits_one_file
from ..data.splits import choosing_split, split_by_config
from ..errors import AdaAnchorError
from .dist import DistInfo, broadcast_object, said_once

SPLIT_NAME = "split.json"
SPLIT_OPTIONS = ("by", "val_fraction", "seed", "dev_fraction")


def image_key(path: str | os.PathLike, root: str | os.PathLike) -> str:
    """An image's name in ``split.json``: its path relative to ``root`` (``/``-separated) when it lies under it,
    else its absolute path. The same project moved elsewhere (``data.root=NEW``) keeps its names."""
    a, r = os.path.abspath(os.fspath(path)), os.path.abspath(os.path.expanduser(os.fspath(root)))
    rel = os.path.relpath(a, r)
    return a if rel == os.pardir or rel.startswith(os.pardir + os.sep) else Path(rel).as_posix()


def _options(sp: Mapping[str, Any]) -> dict[str, Any]:
    return {k: sp.get(k) for k in SPLIT_OPTIONS}


def drawn_sides(instances: list[Any], data_cfg: Mapping[str, Any]) -> dict[str, set[str]]:
    """The image names of each side of the split drawn now from ``instances`` (every instance of the file)."""
    sp, root = data_cfg.get("split") or {}, data_cfg["root"]
    return {s: {image_key(i.image_path, root) for i in split_by_config(instances, s, sp)} for s in ("train", "val")}


def read_record(run_dir: Path) -> dict[str, Any] | None:
    """``run_dir/split.json``, or None when there is none (an older run, a dataset with its own val file)."""
    path = Path(run_dir) / SPLIT_NAME
    if not path.is_file():
        return None
    try:
        rec = json.loads(path.read_text())
        rec["train"], rec["val"] = set(rec["train"]), set(rec["val"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise AdaAnchorError(f"{path}: not a split record ({e}): the split this run trained with is unknown; restore "
                             "the file from a copy, or remove it to read the data as if the run had none") from None
    return rec


def record_text(sides: Mapping[str, set[str]], data_cfg: Mapping[str, Any]) -> str:
    """The text of ``split.json`` for ``sides`` (image names) drawn with ``data_cfg``'s split."""
    rec = {"root": str(Path(str(data_cfg["root"])).expanduser().resolve()),
           "split": _options(data_cfg.get("split") or {}),
           "counts": {s: len(sides[s]) for s in ("train", "val")},
           "train": sorted(sides["train"]), "val": sorted(sides["val"])}
    return json.dumps(rec, indent=1) + "\n"


def _options_hint(rec: Mapping[str, Any], data_cfg: Mapping[str, Any]) -> str:
    old, now = rec.get("split") or {}, _options(data_cfg.get("split") or {})
    diff = [f"data.split.{k}={old.get(k)}" for k in SPLIT_OPTIONS if old.get(k) != now.get(k)]
    return f"; or give the recorded options: {' '.join(diff)}" if diff else ""


def resume_difference(rec: Mapping[str, Any], sides: Mapping[str, set[str]], where: Path,
                      data_cfg: Mapping[str, Any]) -> str | None:
    """The line refusing a resume whose split drawn now differs from the recorded one, or None when they match."""
    rt, rv, nt, nv = rec["train"], rec["val"], sides["train"], sides["val"]
    if rt == nt and rv == nv:
        return None
    counts = [(len(rv & nt), "recorded val images would be training images"),
              (len(rt & nv), "recorded training images would be val images"),
              (len(nv - rv - rt), "new images would be val images"), (len(nt - rv - rt), "new images would be training images"),
              (len((rv | rt) - nv - nt), "recorded images are gone")]
    said = ", ".join(f"{n} {what}" for n, what in counts if n)
    return (f"{where / SPLIT_NAME}: cannot resume: the data.split drawn from the data now differs from the one this "
            f"run trained with ({len(rt)} train / {len(rv)} val images): {said}. Keep the data as it was (data.root="
            f"{data_cfg['root']}), or start a new run in another out_dir (model.weights=CHECKPOINT to start from these "
            f"weights){_options_hint(rec, data_cfg)}")


class TrainingSplit:
    """The chooser of a training's reads: the drawn split, kept for ``split.json``; on a resume of a run with a
    record, a difference is refused (on every rank alike)."""

    def __init__(self, record: dict[str, Any] | None, record_dir: Path | None) -> None:
        self.record, self.record_dir, self.sides = record, record_dir, None

    def __call__(self, instances: list[Any], split: str, data_cfg: Mapping[str, Any]) -> list[Any]:
        self.sides = drawn_sides(instances, data_cfg)
        if self.record is not None:
            why = resume_difference(self.record, self.sides, self.record_dir or Path("."), data_cfg)
            if why:
                raise said_once(AdaAnchorError(why))
        return split_by_config(instances, split, data_cfg.get("split") or {})


def checkpoint_run_dir(ckpt: Path) -> Path:
    """The run directory of a checkpoint (``RUN/checkpoints/x.pt`` -> ``RUN``)."""
    return ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent


@contextmanager
def training_split(run_dir: Path, resume: Path | None) -> Iterator[TrainingSplit]:
    """The block that reads a training's data: a new training keeps the split it draws; a resume is checked against
    the ``split.json`` of the checkpoint's run (none: read as before)."""
    rec_dir = checkpoint_run_dir(Path(resume)) if resume is not None else None
    rec = read_record(rec_dir) if rec_dir is not None else None
    chooser = TrainingSplit(rec, rec_dir)
    with choosing_split(chooser):
        yield chooser
    if rec is not None and chooser.sides is None:  # data.split.by=null, or other files: the recorded val in training?
        raise said_once(AdaAnchorError(
            f"{rec_dir / SPLIT_NAME}: cannot resume: this run trained on a split of one file ({len(rec['train'])} "
            f"train / {len(rec['val'])} val images) and the data is not split so now (data.train, data.val, "
            "data.split.by): its val images could be trained on. Keep the data options as they were, or start a new "
            f"run in another out_dir (model.weights=CHECKPOINT to start from these weights){_options_hint(rec, {})}"))


def record_split(run_dir: Path, info: DistInfo, chooser: TrainingSplit, cfg: Any, fresh: bool) -> None:
    """Rank 0 writes ``run_dir/split.json`` for a new training of a split file, or for a resume whose record it
    matched; a new training that splits nothing removes an earlier run's file (``overwrite=true``). A resume of a
    run without a record writes none: the split it trained with is unknown."""
    err = None
    if info.is_main:
        path = run_dir / SPLIT_NAME
        try:
            if chooser.sides is not None and splits_one_file(cfg.data) and (fresh or chooser.record is not None):
                write_text_atomic(path, record_text(chooser.sides, cfg.data))
            elif fresh:
                path.unlink(missing_ok=True)
        except OSError as e:
            err = f"{path}: cannot write the run directory (out_dir): {e.strerror or e}"
    err = broadcast_object(err, info)
    if err:
        raise said_once(AdaAnchorError(err))


class RecordedVal:
    """The chooser of ``adaanchor eval RUN``: the val side is the recorded val images that still exist when the
    split drawn now differs (one ``note:``); the train side is drawn as before."""

    def __init__(self, record: dict[str, Any], where: Path) -> None:
        self.record, self.where = record, where

    def __call__(self, instances: list[Any], split: str, data_cfg: Mapping[str, Any]) -> list[Any]:
        sp = data_cfg.get("split") or {}
        drawn = split_by_config(instances, split, sp)
        if split != "val":
            return drawn
        root = data_cfg["root"]
        rt, rv = self.record["train"], self.record["val"]
        now = {image_key(i.image_path, root) for i in drawn}
        if now == rv:
            return drawn
        there = {image_key(i.image_path, root) for i in instances}
        kept = [i for i in instances if image_key(i.image_path, root) in rv]
        if not kept:
            raise AdaAnchorError(f"{self.where / SPLIT_NAME}: none of the {len(rv)} val images this run was scored on "
                                 f"is in the data now (data.root={root}): its held-out images are gone; evaluating "
                                 "on the split drawn now would score training images")
        n_kept = len(rv & there)
        print(f"note: the data.split drawn now differs from the one this run trained with ({self.where / SPLIT_NAME}): "
              f"evaluating on its {n_kept} recorded val images that are still there; left out of the current val "
              f"split: {len(now & rt)} that were training images, {len(now - rt - rv)} new; {len(rv - there)} "
              "recorded val images are gone", file=sys.stderr)
        return kept


def run_dir_of(target: str | os.PathLike) -> Path | None:
    """The run directory ``adaanchor eval TARGET`` names (itself, or a checkpoint's), or None (a config file)."""
    p = Path(target)
    if p.is_file() and p.suffix in (".pt", ".pth", ".ckpt"):
        return checkpoint_run_dir(p)
    return p if p.is_dir() else None


@contextmanager
def recorded_val(run_dir: Path | None) -> Iterator[None]:
    """The block of an evaluation of the run in ``run_dir``: its recorded val (:class:`RecordedVal`) where it has
    a ``split.json``, else the split drawn as before."""
    rec = read_record(run_dir) if run_dir is not None and Path(run_dir).is_dir() else None
    with choosing_split(RecordedVal(rec, Path(run_dir)) if rec is not None and run_dir is not None else None):
        yield


__all__ = ["SPLIT_NAME", "RecordedVal", "TrainingSplit", "checkpoint_run_dir", "image_key", "read_record",
           "record_split", "recorded_val", "resume_difference", "run_dir_of", "training_split"]
