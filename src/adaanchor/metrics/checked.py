"""A ground truth or a results list read and checked once, handed on to the metrics that read it.

``adaanchor score`` read and checked its files twice (its own checks, then the AP function's), and a
bottom-up evaluation checked its ground truth 13 times (AP and recall at the evaluation's threshold and at each
of the sweep's six). :func:`checked_gt` and :func:`checked_results` wrap what
:func:`~adaanchor.metrics.results.load_coco_gt` and :func:`~adaanchor.metrics.results.load_results` return; given
one of these wrappers, those functions return its contents without reading or checking again.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CheckedGt:
    """A checked COCO-style ground truth: ``data`` (the dict), ``name`` (for messages) and ``path`` (its file, or
    None: xtcocotools reads the file again for its crowdIndex split)."""

    data: dict
    name: str
    path: str | None = None


@dataclass(frozen=True)
class CheckedResults:
    """A checked COCO results list: ``data``, ``name``, ``with_score`` (every record's score checked) and ``owned``
    (read from a file here: no caller holds the list, so pycocotools' ``loadRes``, which adds ``area``, ``id`` and
    ``bbox`` to its records, may have it without a copy)."""

    data: list
    name: str
    with_score: bool = True
    owned: bool = False


def checked_gt(gt: Any) -> CheckedGt:
    """``gt`` (a path, a dict, a COCO object or a :class:`CheckedGt`) read and checked once."""
    if isinstance(gt, CheckedGt):
        return gt
    from .results import load_coco_gt

    data, name = load_coco_gt(gt)
    return CheckedGt(data, name, str(gt) if isinstance(gt, (str, os.PathLike)) else None)


def scoring_categories(gt: Any, ann_ids: Sequence[Any] | None = None) -> tuple[CheckedGt, int | list[int]]:
    """The category ids an evaluation's own results are scored under, and the ground truth to score them against.
    (They were all ``category_id`` 1, whatever the file: a single category of another id stopped the evaluation,
    and people of a second category sharing the keypoint set, AP-10K's species, were all counted as missed.)

    - One category with keypoints in ``gt`` (categories without a keypoint list are no people to find): its id.
    - Several, and ``ann_ids`` (the results' annotations, a top-down evaluation on the ground-truth boxes) all in
      ``gt``: each annotation's category, a list in the order of ``ann_ids``; AP is pycocotools' per-category mean.
    - Several otherwise (a multi-person model or detected boxes: people found, not their category): the first
      category with keypoints, and the ground truth with those categories pooled into it (class-agnostic AP).

    Returns the checked ground truth (pooled, or ``gt`` as given) and an id or a list of ids."""
    gt = checked_gt(gt)
    cats = gt.data["categories"]
    # The categories of people to find: those with a keypoint list (a "background" category listed first is not one).
    kp = [c for c in cats if c.get("keypoints")] or cats
    if len(kp) <= 1:  # none: nothing to label with, and the scorer names what is missing
        return gt, kp[0]["id"] if kp else 1
    of_ann = {a.get("id"): a.get("category_id") for a in gt.data["annotations"] if isinstance(a, dict)}
    if ann_ids is not None and len(ann_ids) and all(a in of_ann for a in ann_ids):
        return gt, [of_ann[a] for a in ann_ids]
    first, pooled = kp[0]["id"], {c["id"] for c in kp}
    anns = [{**a, "category_id": first} if isinstance(a, dict) and a.get("category_id") in pooled else a
            for a in gt.data["annotations"]]
    keep = [c for c in cats if c["id"] == first or c["id"] not in pooled]
    return CheckedGt({**gt.data, "categories": keep, "annotations": anns}, gt.name), first


def labelled(results: list[dict], category_id: int) -> list[dict]:
    """``results`` under ``category_id`` (copies where it differs)."""
    return [r if r.get("category_id") == category_id else {**r, "category_id": category_id} for r in results]


def checked_results(results: Any, require_score: bool = True) -> CheckedResults:
    """``results`` (a path, a list or a :class:`CheckedResults`) read and checked once."""
    if isinstance(results, CheckedResults) and (results.with_score or not require_score):
        return results
    from .results import load_results

    data, name = load_results(results, require_score=require_score)
    return CheckedResults(data, name, require_score, owned=isinstance(results, (str, os.PathLike)))


def own_results(results: Any) -> bool:
    """Whether the results list of ``results`` belongs to this call alone (read from its file here)."""
    return isinstance(results, (str, os.PathLike)) or (isinstance(results, CheckedResults) and results.owned)


__all__ = ["CheckedGt", "CheckedResults", "checked_gt", "checked_results", "labelled", "own_results", "scoring_categories"]
