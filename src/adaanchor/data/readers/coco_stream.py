"""A COCO file read as a stream (ijson's C parser), so that a large annotation file is never held as Python
objects; :func:`stream` says when the file must be read whole instead (:mod:`.coco` does both)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any


def stream(path: Path) -> tuple[list, Any, Iterator[Any]] | None:
    """``(images, categories, annotations)`` of a COCO file read as a stream (ijson's C parser): the images and
    categories as lists (categories None when absent), the annotations one at a time, so that the file is never
    held as Python objects. The file is scanned three times (images, categories, annotations; a scan costs a
    small part of the read), whatever the order of its keys. None when the streaming parser
    refuses the file or it is not the usual layout (not a JSON object with an ``images`` list and at least
    one annotation, or it uses Python's ``NaN`` / ``Infinity`` literals): the caller then reads it whole,
    which gives the exact JSON error or the structure error."""
    import ijson

    try:
        with path.open("rb") as f:
            images = next(ijson.items(f, "images", use_float=True, map_type=UniqueKeys), None)
        if not isinstance(images, list):
            return None
        first = first_annotation(path)
        with path.open("rb") as f:
            categories = next(ijson.items(f, "categories", use_float=True, map_type=UniqueKeys), None)
    except Exception:  # ijson.JSONError, a bad UTF-8 sequence, an integer beyond Python's digit limit, ...
        return None
    if first is None:
        return None
    return images, categories, _annotations(path)


def first_annotation(path: Path) -> Any:
    """The first element of a COCO file's ``annotations`` (streamed), or None."""
    import ijson

    with path.open("rb") as f:
        return next(ijson.items(f, "annotations.item", use_float=True, map_type=UniqueKeys), None)


class UniqueKeys(dict):
    """The objects the stream builds: a key given twice in one object fails the stream (ijson keeps the last value, as
    ``json`` does: an annotation with two ``image_id`` values moved to the second image without a word), so that the
    file is read whole and :func:`adaanchor.data.jsonio.load_json` names the key. About 15 % more time to scan."""

    def __setitem__(self, key: Any, value: Any) -> None:
        if key in self:
            raise KeyError(f"duplicate key {key!r}")
        super().__setitem__(key, value)


class StreamFailed(Exception):
    """The streaming parser gave up midway (e.g. a ``NaN`` literal): read the file whole instead."""


def _annotations(path: Path) -> Iterator[Any]:
    """The annotations of a COCO file, streamed; a parse failure midway raises :class:`StreamFailed`."""
    import ijson

    with path.open("rb") as f:
        try:
            yield from ijson.items(f, "annotations.item", use_float=True, map_type=UniqueKeys)
        except Exception:  # ijson.JSONError, an integer beyond Python's digit limit, ...
            raise StreamFailed from None


__all__ = ["StreamFailed", "UniqueKeys", "first_annotation", "stream"]
