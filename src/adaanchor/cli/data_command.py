"""``adaanchor data stats``: the counts and problems of a config's data, the evaluation's AP ground truth checked as
training checks it; exit 1 when a training would stop at one of the problems listed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from ..errors import AdaAnchorError
from .commands import _config_or_custom
from .slow_note import said_when_slow


def cmd_data_stats(a: argparse.Namespace) -> int:
    from ..config import build_config
    from ..data.stats import dataset_stats, format_stats

    cfg = build_config(*_config_or_custom(a.config, a.overrides))
    results: dict[str, Any] = {}
    with said_when_slow("reading the annotations and opening every image's header: about a minute for 50,000 images"):
        stats = dataset_stats(cfg.data, task=str(cfg.task), results_out=results)
        _check_val_ground_truth(cfg, stats, results)
    print(format_stats(stats))
    if not stats["total"]["instances"]:  # a script must not read "nothing usable" as success
        print("error: no usable instance in any split (the problems above)", file=sys.stderr)
        return 2
    with said_when_slow("reading each split again as training reads it, to tell where it would stop"):
        stop = _training_stop(cfg, stats) if stats["total"]["problems"] else None
    if stop is not None:  # `data stats && train` passed the check, then the training stopped at a listed problem
        where, skippable = stop
        hint = "fix it, or data.skip_invalid=true skips every listed problem (counted)" if skippable else "fix it"
        print(f"training stops at {where}; {hint}", file=sys.stderr)
        return 1
    return 0


def _training_stop(cfg: Any, stats: Mapping[str, Any]) -> tuple[str, bool] | None:
    """Where a training of ``cfg`` would stop before its first step, or at a listed image, or None: each split read
    as training reads it (with ``data.skip_invalid`` as set), then its images' files checked, as a training with
    ``skip_invalid=false`` meets them. Listed problems that a reader passes over by design (a DeepLabCut row with
    no labelled point) do not stop it; the images are those ``data stats`` found unreadable. A refusal of the val file as the AP ground truth always does. Returns the
    problem and whether ``data.skip_invalid=true`` passes over it."""
    from ..data.build import read_split
    from ..data.paths import found_below

    val = stats["splits"].get("val", {}).get("problems", [])
    refused = [p for p in val if p.endswith("(the ground truth of the evaluation's AP)")]
    if refused:
        return refused[0], False
    if cfg.data.skip_invalid:
        return None
    for split in stats["splits"]:
        try:
            read_split(cfg.data, split, verbose=False)
        except AdaAnchorError as e:
            return f"the {split} split: {e}", _skippable(cfg, split)
        for path, why in stats["splits"][split]["unreadable_images"][:1]:
            hint = found_below(path) if why == "image file not found" else ""
            return f"the {split} split: {path}: {why}{hint}", True
    return None


def _skippable(cfg: Any, split: str) -> bool:
    """Whether ``split`` reads with ``data.skip_invalid=true`` (a refusal of the whole split, such as labels on the
    displayed frame of images read as stored, is not one a record skip passes over)."""
    from omegaconf import OmegaConf

    from ..data.build import read_split

    data = OmegaConf.merge(cfg.data, {"skip_invalid": True})
    try:
        read_split(data, split, verbose=False)
    except AdaAnchorError:
        return False
    return True


def _check_val_ground_truth(cfg: Any, stats: dict[str, Any], results: Mapping[str, Any]) -> None:
    """The evaluation's AP ground truth checked as training checks it before its first step (areas, counts of
    keypoints, ids), less the records listed as skipped; a refusal is one more problem of the val split (``data
    stats`` said "no problems found" for a val file that training then refused)."""
    from ..engine.ap_truth import check_ap_ground_truth

    val = results.get("val")
    if val is None or "val" not in stats["splits"]:
        return
    try:
        check_ap_ground_truth(cfg, val.instances, kept=True)
    except AdaAnchorError as e:
        stats["splits"]["val"]["problems"].append(f"{e} (the ground truth of the evaluation's AP)")
        stats["total"]["problems"] += 1
