"""Which categories of a detections file are kept: ``data.det_category`` (evaluation on detected boxes) and
``--box-category`` (``adaanchor predict`` / ``viz``).

A detector's results list every class it finds, so the boxes to crop are those of the categories the keypoint
model was trained on. Only category 1 (COCO's person) was kept before: a detector of one other class (an animal
detector numbering its class 0) left every detection out, and the evaluation stopped with "no detection above
data.det_score_thr", a message about scores. The choice:

- ``auto`` (the default): with the ground truth (an evaluation), its categories that have keypoints; without it
  (prediction), category 1 where the file has detections of category 1, else the file's only category; a file of
  several categories and none of them 1 is an error that lists them.
- ``all``: every detection, whatever its category.
- an id or a list of ids: those categories.

A detection without a ``category_id`` (or with null) claims no class and is always kept; one that is not an integer
(``1.0``, ``"1"``, ``true``) is an error naming the record. A choice that keeps none of the file's detections is an
error naming the categories the file has, with their counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AdaAnchorError, DataError
from .readers import is_int_id as _is_id

#: The words ``data.det_category`` / ``--box-category`` take besides category ids.
CATEGORY_WORDS = ("auto", "all")


def _is_choice(value: Any) -> bool:
    """``auto`` (or None), ``all``, an integer id or a non-empty list of them."""
    if value is None or _is_id(value) or (isinstance(value, str) and value in CATEGORY_WORDS):
        return True
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and bool(value) and all(map(_is_id, value))


@dataclass(frozen=True)
class CategoryOption:
    """The config check of ``data.det_category``: null or ``auto``, ``all``, an integer id, or a non-empty list of
    integer ids (the protocol of :mod:`adaanchor.ranges`' checkers)."""

    def check(self, key: str, value: Any, nullable: bool = False) -> None:
        if _is_choice(value):
            return
        raise AdaAnchorError(f"config key '{key}': the value must be {self.describe()}, got {value!r}")

    def describe(self) -> str:
        return "auto (or null), all, a category id, or a list of category ids"


def parse_category(text: str, option: str = "--box-category") -> str | list[int]:
    """A command line's ``auto`` / ``all`` / ``3`` / ``1,3`` as ``auto``, ``all`` or a list of ids."""
    text = text.strip()
    if text in CATEGORY_WORDS:
        return text
    try:
        ids = [int(part) for part in text.split(",")]
    except ValueError:
        raise AdaAnchorError(f"{option}: expected auto, all or category ids such as 1 or 1,3, got {text!r}") from None
    return ids


def _counts(found: Mapping[Any, int]) -> str:
    return ", ".join(f"category {c}: {n}" for c, n in sorted(found.items(), key=lambda kv: -kv[1]))


def kept_categories(found: Counter, choice: Any, path: str | Path, expected: Collection[int] | None = None,
                    option: str = "--box-category") -> frozenset[int] | None:
    """The category ids whose detections are kept; None: every detection.

    Args:
        found: category id -> number of detections of the file (records without a ``category_id`` not counted).
        choice: ``auto`` (or None), ``all``, an id or a list of ids.
        expected: the ground truth's categories with keypoints (an evaluation); None without a ground truth.
        option: how the user sets the choice, for the messages.

    Raises:
        DataError: naming the file, when the choice keeps none of the file's (categorised) detections, or ``auto``
            cannot choose among several categories.
    """
    if not _is_choice(choice):  # "3" from Python was split into the categories "3"; np.int64(3) was a TypeError
        raise AdaAnchorError(f"{option}: expected auto, all, a category id or a list of category ids, got {choice!r}")
    if (isinstance(choice, str) and choice == "all") or not found:  # nothing to choose among: records without a category are kept
        return None
    if choice is None or (isinstance(choice, str) and choice == "auto"):
        if expected is not None:
            keep = frozenset(expected)
            how = f"the annotations' keypoint categories {sorted(keep)}"
        elif 1 in found or len(found) == 1:
            keep = frozenset([1 if 1 in found else next(iter(found))])
            return keep
        else:
            raise DataError(path, f"detections of several categories and none of category 1 (COCO's person): "
                                  f"{_counts(found)}; choose with {option}=ID (or a list, or all)", field="category_id")
    else:
        keep = frozenset(int(c) for c in ([choice] if _is_id(choice) else choice))
        how = f"{option}={','.join(map(str, sorted(keep)))}"
    if not keep & set(found):
        raise DataError(path, f"none of the detections is of {how}: the file has {_counts(found)}; choose the "
                              f"category with {option}=ID (or all)", field="category_id")
    return keep


def keypoint_categories(data: Any) -> list[int]:
    """The ids of a COCO-style file's categories that have a keypoint list, in file order: the people to find (a
    "background" category without keypoints is none)."""
    cats = data.get("categories") if isinstance(data, Mapping) else None
    if not isinstance(cats, list):
        return []
    return [c["id"] for c in cats if isinstance(c, Mapping) and c.get("keypoints") and _is_id(c.get("id"))]


def category_counts(records: Sequence[Any]) -> Counter:
    """``category_id -> count`` over the dict records that have an integer ``category_id``."""
    return Counter(int(r["category_id"]) for r in records if isinstance(r, dict) and _is_id(r.get("category_id")))


__all__ = ["CATEGORY_WORDS", "CategoryOption", "category_counts", "keypoint_categories", "kept_categories",
           "parse_category"]
