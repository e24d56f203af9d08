"""Checks of COCO-style ground truth that the official evaluators do not make themselves and that would
otherwise give wrong numbers without a message (shared by the COCO reader and the ground-truth loading of
``adaanchor score``):

- duplicate annotation ids: pycocotools indexes annotations by id, so a second annotation with the same id
  replaces the first in its index while both stay in the per-image lists; perfect predictions then score
  an AP near 0;
- duplicate image entries (the same ``id`` twice, or the same ``file_name`` under two ids);
- numbers given as strings or booleans (``"12.5"``, ``true``): ``numpy`` and Python's ``float`` accept
  them, the file is still wrong;
- a box that does not overlap its image at all (``width`` x ``height``), which no crop of the image can
  show;
- a labelled keypoint more than one image width or height beyond the image's edge (:func:`far_keypoint`): points
  outside the image are legitimate (truncated people), one at ``x = 1e30`` is a coordinate written wrong, and its
  error dominated every mean of the metrics;
- two image entries naming one file in two spellings (``im1.png``, ``./im1.png``): :func:`file_key`.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Iterable, Sequence
from typing import Any

_NUMBER_TYPES = {int, float}


def is_number(v: Any) -> bool:
    """A JSON number: an int or a float, not a bool and not a string."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def first_non_number(values: Iterable[Any]) -> tuple[int, Any] | None:
    """``(index, value)`` of the first element of ``values`` that is not a JSON number, or None."""
    values = list(values)
    if set(map(type, values)) <= _NUMBER_TYPES:  # the common case, at C speed (bool is its own type)
        return None
    for i, v in enumerate(values):
        if not is_number(v):
            return i, v
    return None


def non_number_message(values: Sequence[Any]) -> str | None:
    """Why a list meant to hold numbers does not (``"element 4 is the string '12.5'"``), or None when it does."""
    bad = first_non_number(values)
    if bad is None:
        return None
    i, v = bad
    kind = {bool: "the boolean", str: "the string"}.get(type(v), f"a {type(v).__name__}")
    return f"element {i} is {kind} {v!r}, not a number"


def image_size(img: dict) -> tuple[float, float] | None:
    """``(width, height)`` of a COCO image entry when both are positive finite numbers, else None."""
    w, h = img.get("width"), img.get("height")
    if not (is_number(w) and is_number(h)):
        return None
    try:
        w, h = float(w), float(h)
    except OverflowError:
        return None
    return (w, h) if math.isfinite(w) and math.isfinite(h) and w > 0 and h > 0 else None


def box_outside_image(box: Sequence[float], size: tuple[float, float]) -> bool:
    """True when ``box = [x, y, w, h]`` does not overlap the image ``[0, W] x [0, H]`` at all."""
    x, y, w, h = (float(v) for v in box)
    width, height = size
    return x >= width or y >= height or x + w <= 0 or y + h <= 0


#: How far beyond its image's edge a labelled keypoint may lie, in image widths (x) and heights (y). Points outside the
#: image are data here (truncated people, the truncation benchmarks: the generated ones place at most 35 % of a
#: person's box, itself at most 0.98 image widths, outside); the shared real samples stay within 0.03. A point
#: farther out is a coordinate written wrong (a unit, a sign, 1e30), and it dominated the mean errors.
FAR_OUTSIDE = 1.0


def far_keypoint(xy: Any, labelled: Any, sizes: Sequence[tuple[float, float]], names: Sequence[str] = ()) -> str | None:
    """Why a labelled keypoint of ``xy`` (``(K, 2)``) lies too far outside its image, or None.

    A point is too far when it is beyond ``[-0.5, W - 0.5] x [-0.5, H - 0.5]`` (the pixel-centre convention) widened
    by :data:`FAR_OUTSIDE` times ``W`` and ``H``: ``adaanchor.coords.outside_frame(x, y, W, H, margin=FAR_OUTSIDE)``,
    written here without torch. ``sizes``: the ``(W, H)`` the image may be annotated at (stored, and displayed when
    an EXIF tag turns it); a point is refused when it is too far for every one of them. The first such point is
    named by index (and name) and coordinates."""
    import numpy as np

    if not sizes:
        return None
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    far = np.asarray(labelled, dtype=bool).reshape(-1).copy()
    with np.errstate(invalid="ignore"):
        for w, h in sizes:
            mx, my = FAR_OUTSIDE * w + 1e-6, FAR_OUTSIDE * h + 1e-6  # 1e-6: coords.EDGE_TOL
            far &= ((xy[:, 0] < -0.5 - mx) | (xy[:, 0] > w - 0.5 + mx) | (xy[:, 1] < -0.5 - my)
                    | (xy[:, 1] > h - 0.5 + my))
    if not far.any():
        return None
    j = int(np.flatnonzero(far)[0])
    w, h = sizes[0]
    name = f" ({names[j]})" if j < len(names) else ""
    return (f"keypoint {j}{name} at ({xy[j, 0]:g}, {xy[j, 1]:g}) lies more than one image width or height beyond the "
            f"edge of the {w:g}x{h:g} image (labelled points may lie outside it, within x {-0.5 - w:g}..{2 * w - 0.5:g} "
            f"and y {-0.5 - h:g}..{2 * h - 0.5:g}): a coordinate written wrong?")


def file_key(name: str) -> str:
    """The form of an image path in which two spellings of one file compare equal: ``im1.png``, ``./im1.png`` and
    ``a/../im1.png`` are ``im1.png`` (lexical, as the data-root check: a symbolic link is not followed)."""
    return posixpath.normpath(name) if name else name


def listed_twice(name: str, j: int, other: str) -> str:
    """The message for an image file listed a second time, as ``other`` in ``images[j]`` (naming both spellings when
    they differ)."""
    from . import printable

    spelled = "" if other == name else f", as {printable(other)!r}"
    return f"image file {printable(name)!r} listed twice (also images[{j}]{spelled})"


def ids_text(ids: Sequence[Any], limit: int = 5) -> str:
    """``ids 1, 2, 3`` for a message: the first ``limit``, then how many more (a file may list thousands)."""
    if not ids:
        return "the file lists none"
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return "ids " + ", ".join(repr(v).encode("unicode_escape").decode("ascii") for v in ids[:limit]) + more


def duplicates(values: Sequence[Any]) -> list[tuple[int, int]]:
    """``(index, index of the first occurrence)`` of every repeated value of ``values``, in order."""
    seen: dict[Any, int] = {}
    out = []
    for i, v in enumerate(values):
        try:
            j = seen.setdefault(v, i)
        except TypeError:
            continue
        if j != i:
            out.append((i, j))
    return out


def _leaves_are_numbers(value: Any) -> bool:
    import numpy as np

    if isinstance(value, np.ndarray):  # arrays from a .mat file or from Python callers
        return value.dtype.kind in "iuf"
    if isinstance(value, np.number):
        return True
    if isinstance(value, (list, tuple)):
        return all(_leaves_are_numbers(v) for v in value)
    return is_number(value)


def number_array(value: Any, shape: tuple[int, ...]) -> Any:
    """``value`` as a float64 array of ``shape`` when it is (nested lists of) JSON numbers; None otherwise,
    including strings and booleans, which numpy would turn into numbers."""
    from . import float_array

    return float_array(value, shape) if _leaves_are_numbers(value) else None


def keypoint_order_message(categories: Any, names: Sequence[str], spec_name: str) -> tuple[int, str] | None:
    """``(category index, message)`` when a category of a COCO-style file lists keypoint names that the spec
    ``names`` has at another index; None otherwise. The readers and the evaluators take a file's keypoints by
    position, so such a file is read without a word in the spec's order: the row of one keypoint holds another's
    ground truth and OKS weighs it with another's sigma. A file naming its keypoints in its own words (no name
    shared with the spec) cannot be checked and passes."""
    if not isinstance(categories, list):
        return None
    index = {n: j for j, n in enumerate(names)}
    for i, cat in enumerate(categories):
        kps = cat.get("keypoints") if isinstance(cat, dict) else None
        if not isinstance(kps, list):
            continue
        for j, n in enumerate(kps):
            if isinstance(n, str) and n in index and index[n] != j:
                return i, (f"keypoint {j} is {n!r}, keypoint {index[n]} of spec '{spec_name}': the file lists its "
                           f"keypoints in another order than the spec, and keypoints are read by position: reorder "
                           "the file, or give a spec in the file's order (data.spec, or --spec of adaanchor score)")
    return None
