"""Splitting one annotation file into train and val (``data.split``): by identity (face images named
``Name_NN``) or by image at random, with a fixed seed, no group on both sides, and a dev split carved from the
training side."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import unknown_name_error


def identity_of(path: str) -> str:
    """The identity of a face image: its file name before the last ``_NN`` (``Luis_Fonsi_21.jpg`` -> ``Luis_Fonsi``)."""
    return re.sub(r"_\d+$", "", Path(path).stem)


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
