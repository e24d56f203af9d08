"""The text ``adaanchor score`` prints of a :func:`adaanchor.metrics.score.score` result: headline numbers first,
then tables (PCKh per group and joint, NME per subset)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def _fmt_value(v: Any) -> str:
    if v is None:
        return "N/A"
    if isinstance(v, float):
        return f"{v:.4e}" if abs(v) >= 1e6 else f"{v:.4f}"  # an absurd error in 200 digits says no more
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v)
    return str(v)


def format_scores(d: Mapping[str, Any]) -> str:
    """Human-readable text of a :func:`score` result: headline numbers first, then tables."""
    metric = d.get("metric", "?")
    lines = [f"metric: {metric}"]
    if metric == "pckh":
        keys = [k for k in d if k.startswith("PCKh@")]
        lines += [f"{k} (total, percent, pelvis and thorax excluded): {_fmt_value(d[k])}" for k in keys]
        groups = d.get("groups") or {}
        if groups:
            first = next(iter(groups.values()))
            cols = list(first) + ["Mean"]
            lines.append("")
            lines.append("| t | " + " | ".join(cols) + " |")
            lines.append("|---" * (len(cols) + 1) + "|")
            for t, row in groups.items():
                vals = [row.get(c) for c in first] + [d.get(f"PCKh@{t}")]
                lines.append(f"| {t} | " + " | ".join("N/A" if x is None else f"{x:.2f}" for x in vals) + " |")
        per = d.get("per_joint") or {}
        for t, row in per.items():
            lines.append(f"per joint @{t}: " + ", ".join(f"{n} {_fmt_value(x)}" for n, x in row.items()))
        for k in ("head_size_source", "num_instances", "unmatched_results", "format", "spec"):
            if k in d:
                lines.append(f"{k}: {_fmt_value(d[k])}")
        return "\n".join(lines)
    if metric == "nme":
        head = [k for k in d if k in ("NME",) or k.startswith(("FR@", "AUC@"))]
        lines += [f"{k}: {_fmt_value(d[k])}" for k in head]
        subs = d.get("subsets") or {}
        if subs:
            cols = ["count"] + head
            lines += ["", "| subset | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
            lines.append("| full | " + " | ".join(_fmt_value(d.get(c)) for c in cols) + " |")
            for name, row in subs.items():
                lines.append(f"| {name} | " + " | ".join(_fmt_value(row.get(c)) for c in cols) + " |")
        for k in ("norm", "count", "nonfinite", "num_instances", "unmatched_results", "format", "spec"):
            if k in d:
                lines.append(f"{k}: {_fmt_value(d[k])}")
        return "\n".join(lines)
    lines += [f"{k}: {_fmt_value(v)}" + (_NO_GT if _is_empty_range(k, v) else "") + (_LEFT_OUT if k == _NO_CONF and v else "")
              for k, v in d.items() if k not in ("metric", _NO_RESULTS)]
    if d.get(_NO_RESULTS):
        n, of = d[_NO_RESULTS]
        lines.append(f"note: {n} of the {of} ground-truth images with people to find have no result: their people count "
                     "as missed (results of part of the images? score against the ground truth of those images)")
    return "\n".join(lines)


#: The count of ground-truth images with people but no result, and of those with people (``[n, of]``).
_NO_RESULTS = "gt_images_without_results"


#: CrowdPose AP's count of results whose keypoint confidences are all <= 0, and what it means.
_NO_CONF = "results_without_keypoint_confidence"
_LEFT_OUT = (" (left out of the evaluation, as xtcocotools' CrowdPose evaluation leaves out a result with no keypoint "
             "confidence above 0)")


#: What an AP/AR of -1 means in the COCO and CrowdPose evaluations (the JSON keeps their -1).
_NO_GT = " (no ground-truth instance in this range)"


def _is_empty_range(key: str, value: Any) -> bool:
    """An AP or AR the official evaluation reports as -1: no ground truth of that size or crowd level."""
    return key.startswith(("AP", "AR")) and isinstance(value, (int, float)) and value == -1


__all__ = ["format_scores"]
