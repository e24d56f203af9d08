"""Splitting one annotation file into train and val (``data.split``): by identity (face images named
``Name_NN``) or by image at random, with a fixed seed, no group on both sides, and a dev split carved from the
training side."""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import unknown_name_error

#: What reads a split of one file instead of :func:`split_by_config` while set (:func:`choosing_split`): a run's
#: recorded split (``RUN/split.json``, :mod:`adaanchor.engine.split_record`) checks or replaces the drawn one.
SplitChooser = Callable[[list[Any], str, Mapping[str, Any]], list[Any]]
_CHOOSER: contextvars.ContextVar[SplitChooser | None] = contextvars.ContextVar("split_chooser", default=None)
_SAID: set[str] = set()  # the identity warnings printed by this process


def identity_of(path: str) -> str:
    """The identity of a face image: its file name before the last ``_NN`` (``Luis_Fonsi_21.jpg`` -> ``Luis_Fonsi``).

    The folder is not part of it: ``vidA/img005.png`` and ``vidB/img005.png`` are one identity (``img005``)."""
    return re.sub(r"_\d+$", "", Path(path).stem)


@contextlib.contextmanager
def choosing_split(chooser: SplitChooser | None) -> Iterator[None]:
    """While in the block, a split of one file read by this thread is ``chooser(instances, split, data_cfg)``
    (``None``: the drawn split, as outside the block)."""
    token = _CHOOSER.set(chooser)
    try:
        yield
    finally:
        _CHOOSER.reset(token)


def split_one_file(instances: list[Any], split: str, data_cfg: Mapping[str, Any]) -> list[Any]:
    """The ``split`` part of the instances of one file split by ``data_cfg['split']``: drawn
    (:func:`split_by_config`), or what the chooser of :func:`choosing_split` gives."""
    chooser = _CHOOSER.get()
    if chooser is not None:
        return chooser(instances, split, data_cfg)
    return split_by_config(instances, split, data_cfg.get("split") or {})


def warn_identity_folders(instances: list[Any]) -> None:
    """Once per process (rank 0 under torchrun): a warning when an identity of ``data.split.by=identity`` has
    images in several folders (frames named alike in different videos: ``vidA/img005.png``, ``vidB/img005.png``).
    Such frames are one group, so every one of those folders has images on both sides of the split."""
    folders: dict[str, set[str]] = {}
    for i in instances:
        folders.setdefault(identity_of(str(i.image_path)), set()).add(os.path.dirname(os.path.abspath(str(i.image_path))))
    spread = sorted(k for k, v in folders.items() if len(v) > 1)
    if not spread or os.environ.get("RANK", "0") not in ("", "0"):
        return
    first = spread[0]
    line = (f"warning: data.split.by=identity: {len(spread)} of {len(folders)} identities have images in several "
            f"folders (e.g. '{first}' in {len(folders[first])} folders): an identity is the file name before a "
            "trailing _NN, whatever its folder, so frames named alike in different folders (videos) are one group "
            "and those folders have images on both sides of the split; data.split.by=random splits by image "
            "(docs/datasets.md, 'Splitting one file')")
    if line not in _SAID:
        _SAID.add(line)
        print(line, file=sys.stderr)


def split_instances(instances: list[Any], split: str, by: str, val_fraction: float, seed: int,
                    dev_fraction: float = 0.0) -> list[Any]:
    """The ``split`` part of ``instances``: groups (identities, or single images for ``random``) are shuffled
    with ``seed`` and the first ``val_fraction`` of them form ``val``; no group is on both sides.

    ``dev_fraction > 0`` gives the *dev* split instead: the groups of ``train`` are split again (shuffled with
    ``(seed, 1)``), the first ``dev_fraction`` of them form ``val`` and the rest ``train``, so choices can be
    made without ever reading the evaluation groups."""
    if by not in ("identity", "random"):
        raise unknown_name_error("data.split.by", str(by), ("identity", "random"))
    key = identity_of if by == "identity" else (lambda p: p)
    if by == "identity":
        warn_identity_folders(instances)
    held_out = _held_out_groups(instances, key, val_fraction, seed)
    if dev_fraction > 0:
        instances = [i for i in instances if key(i.image_path) not in held_out]
        held_out = _held_out_groups(instances, key, dev_fraction, [seed, 1])
    return [i for i in instances if (key(i.image_path) in held_out) == (split == "val")]


def split_by_config(instances: list[Any], split: str, sp: Mapping[str, Any]) -> list[Any]:
    """:func:`split_instances` with the options of a ``data.split`` section."""
    return split_instances(instances, split, str(sp["by"]), float(sp["val_fraction"]), int(sp["seed"]),
                           float(sp.get("dev_fraction") or 0.0))


def _held_out_groups(instances: list[Any], key: Callable[[str], str], fraction: float, seed: Any) -> set[str]:
    """The first ``fraction`` (at least one) of the sorted groups of ``instances`` shuffled with ``seed``."""
    groups = sorted({key(i.image_path) for i in instances})
    order = np.random.default_rng(seed).permutation(len(groups))
    n_val = max(1, int(round(fraction * len(groups))))
    return {groups[j] for j in order[:n_val]}


def shared_images(train: list[Any], val: list[Any], cfg: Mapping[str, Any] | None = None) -> str | None:
    """A line saying that the val instances' images include training images, or None when they share none.

    A config that names the train part of a dataset (``data.train=CollectedData_a.csv``, a YOLO ``images/train``)
    and leaves ``data.val`` at the whole dataset evaluated on the training images too, without a word. Images are
    compared by absolute path (no file system access: the same file under two links counts as two).

    Args:
        train, val: instances (each with an ``image_path``); cfg: the ``data`` section, to name its keys.
    """
    def paths(insts: list[Any]) -> set[str]:
        return {os.path.abspath(str(i.image_path)) for i in insts}

    val_paths = paths(val)
    both = val_paths & paths(train)
    if not both:
        return None
    keys = f" (data.train={cfg.get('train')}, data.val={cfg.get('val')})" if cfg is not None else ""
    return (f"the val split shares {len(both)} of its {len(val_paths)} images with the train split{keys}: its "
            f"evaluation is not held out (one is {sorted(both)[0]})")
