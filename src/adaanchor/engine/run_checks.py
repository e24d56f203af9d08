"""Checks of a run directory's ``config.yaml`` before it is read: a file that is not a run's config (a DeepLabCut
project's, an emptied one), one cut mid-line (not valid YAML), and one cut at a line's end, whose missing keys the
defaults would fill in silently (another data folder, another benchmark size)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import defaults
from ..config_files import RUN_SECTIONS, leaf_keys, read_yaml
from ..errors import AdaAnchorError


def check_run_config(cfg_path: Path) -> dict[str, Any]:
    """A run's ``config.yaml`` holds every key (training writes it resolved): one that lacks a section was emptied
    or replaced, and reading it with the defaults filled in would evaluate another model on other data. Returns
    the file's mapping, for :func:`check_config_complete`."""
    data = read_yaml(cfg_path)  # a file cut mid-line is "not valid YAML", not "no data section: emptied or replaced?"
    missing = [key for key in RUN_SECTIONS if key not in data]
    if missing and _is_dlc_config(cfg_path):  # `predict PROJECT video.mp4`: "emptied or replaced?" misled
        raise AdaAnchorError(f"{cfg_path.parent} is a DeepLabCut project, not a run directory: give the folder "
                             "`adaanchor train` wrote (its out_dir, with config.yaml and checkpoints/); to train on "
                             f"this project: adaanchor train data.format=dlc data.root={cfg_path.parent}")
    if missing:
        raise AdaAnchorError(f"{cfg_path}: not the config of a run (no {', '.join(missing)} section; training writes "
                             "every key there): emptied or replaced? Give a config file with the run's settings")
    return data


def _is_dlc_config(path: Path) -> bool:
    """Whether ``path`` is a DeepLabCut project's ``config.yaml`` (bodyparts and a scorer or task)."""
    from ..data.readers.dlc import read_dlc_config

    try:
        return read_dlc_config(path) is not None
    except AdaAnchorError:
        return False


def check_config_complete(cfg_path: Path, data: dict[str, Any], ckpt: Path | None) -> None:
    """Refuse a run's ``config.yaml`` that lacks keys its checkpoint's own config holds: the file was cut or edited
    since (``head -n 93 config.yaml``: ``data.root`` and the benchmark's size fell back to the demo's, and ``eval``
    generated and scored another benchmark without a word). A file holding every default key is complete without
    reading the checkpoint; a run trained before a key existed lacks it in both, and passes. ``data``: the file's
    mapping (:func:`check_run_config`)."""
    missing = leaf_keys(defaults()) - leaf_keys(data)
    if not missing or ckpt is None or not Path(ckpt).is_file():
        return
    import torch

    try:  # the config alone: mapped, not read (a ResNet-50 checkpoint is 100+ MB)
        state = torch.load(ckpt, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - an unreadable checkpoint is reported where it is loaded, with its reason
        return
    old = state.get("config") if isinstance(state, dict) else None
    lost = sorted(missing & leaf_keys(old)) if isinstance(old, dict) else []
    if lost:
        shown = ", ".join(lost[:5]) + (f" and {len(lost) - 5} more" if len(lost) > 5 else "")
        raise AdaAnchorError(f"{cfg_path}: lacks {len(lost)} key(s) that {Path(ckpt).name} was trained with ({shown}): "
                             "cut short or edited? The defaults would stand in for them; restore the file (its "
                             "checkpoint holds the config it was trained with) or give those keys as overrides")


__all__ = ["check_config_complete", "check_run_config"]
