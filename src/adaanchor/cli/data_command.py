"""``adaanchor data stats``: the counts and problems of a config's data, the evaluation's AP ground truth checked as
training checks it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from ..errors import AdaAnchorError
from .commands import _config_or_custom


def cmd_data_stats(a: argparse.Namespace) -> int:
    from ..config import build_config
    from ..data.stats import dataset_stats, format_stats

    cfg = build_config(*_config_or_custom(a.config, a.overrides))
    results: dict[str, Any] = {}
    stats = dataset_stats(cfg.data, task=str(cfg.task), results_out=results)
    _check_val_ground_truth(cfg, stats, results)
    print(format_stats(stats))
    if not stats["total"]["instances"]:  # a script must not read "nothing usable" as success
        print("error: no usable instance in any split (the problems above)", file=sys.stderr)
        return 2
    return 0


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
