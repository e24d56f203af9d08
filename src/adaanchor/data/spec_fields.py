"""The checks of a keypoint spec's fields (:func:`adaanchor.data.spec.spec_from_dict`): each bad value is a
:class:`~adaanchor.errors.DataError` naming the file, the field and its element (``keypoints[3]``, ``sigmas[0]``,
``flip_pairs[1][0]``, ``nme.interocular``) and what is valid, when the spec is loaded."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from adaanchor.errors import DataError

#: Bounds of a usable OKS sigma, about ten times beyond the published range (0.007 for COCO-WholeBody's finest
#: face points, 0.107 for COCO's hips): below, OKS is a test of sub-pixel equality (sigma 1e-3 on a 300 px
#: person gives a 1 px error OKS 0.3); above, any prediction on the person matches (sigma 1 gives an error of
#: half the person's size OKS 0.97); NaN or infinity make every OKS NaN or 1, which COCOeval scores as AP 1.0.
#: A spec's sigmas are checked against it when the spec is loaded, the metrics' ``sigmas`` when they are given.
SIGMA_RANGE = (1e-3, 1.0)


def shown(value: Any) -> str:
    """``value`` as a message shows it, with what YAML made of it."""
    if value is None:
        return "null"
    if isinstance(value, (bool, np.bool_)):
        return f"{str(bool(value)).lower()} (a boolean)"
    if isinstance(value, str):
        return f"'{value}' (a string)"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return f"{value!r} (a number)"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, Sequence):
        return "a list"
    return f"a {type(value).__name__}"


def is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def field_name(value: Any, src: str, fld: str, what: str) -> str:
    """A name written in the file: a string, not what YAML reads ``1``, ``yes`` or ``null`` as."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):  # the file's word is lost: yes, on and true all read as True
        got = f"{str(bool(value)).lower()} (YAML reads an unquoted yes, no, on, off, true or false as a boolean)"
        fix = "write the name in quotes ('yes')"
    else:
        got, fix = shown(value), ("write the name in quotes ('{value}')" if is_number(value) else "")
        fix = fix.format(value=value)
    raise DataError(src, f"expected {what} (a string), got {got}" + (f"; {fix}" if fix else ""), field=fld)


def keypoint_index(value: Any, names: Sequence[str], src: str, fld: str) -> int:
    """A keypoint given by 0-based index or by name, checked against the names."""
    if isinstance(value, str):
        if value not in names:
            close = difflib.get_close_matches(value, list(names), n=1, cutoff=0.6)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise DataError(src, f"unknown keypoint name '{value}' (not one of the {len(names)} in 'keypoints').{hint}",
                            field=fld)
        return names.index(value)
    if not is_number(value) or not isinstance(value, (int, np.integer)) or not 0 <= value < len(names):
        raise DataError(src, f"{shown(value)} is not a keypoint name or an index in 0..{len(names) - 1}", field=fld)
    i = int(value)
    if str(i) in names and names.index(str(i)) != i:
        # Names that are numbers: is 1 the keypoint named '1' or the one at index 1?
        raise DataError(src, f"{i} is ambiguous: the index of keypoint '{names[i]}' and the name of keypoint "
                        f"{names.index(str(i))}; write the name in quotes ('{names[i]}' or '{i}')", field=fld)
    return i


def keypoint_pairs(raw: Any, names: Sequence[str], src: str, fld: str) -> tuple[tuple[int, int], ...]:
    """``[a, b]`` pairs of two different keypoints (a keypoint paired with itself is a slip: a flip that keeps it, an
    edge of no length)."""
    if raw is None:
        return ()
    if not is_list(raw):
        raise DataError(src, f"expected a list of [a, b] pairs, got {shown(raw)}", field=fld)
    out = []
    for i, pair in enumerate(raw):
        el = f"{fld}[{i}]"
        if not is_list(pair) or len(pair) != 2:
            raise DataError(src, f"expected a pair [a, b] of keypoint names or indices, got {shown(pair)}"
                            + (f" of {len(pair)}" if is_list(pair) else ""), field=el)
        a, b = keypoint_index(pair[0], names, src, f"{el}[0]"), keypoint_index(pair[1], names, src, f"{el}[1]")
        if a == b:
            raise DataError(src, f"keypoint '{names[a]}' is paired with itself; a pair names two keypoints", field=el)
        out.append((a, b))
    return tuple(out)


def keypoint_list(raw: Any, names: Sequence[str], src: str, fld: str) -> tuple[int, ...]:
    """A list of different keypoints (names or indices)."""
    if raw is None:
        return ()
    if not is_list(raw):
        raise DataError(src, f"expected a list of keypoint names or indices, got {shown(raw)}", field=fld)
    out: list[int] = []
    for i, v in enumerate(raw):
        k = keypoint_index(v, names, src, f"{fld}[{i}]")
        if k in out:
            raise DataError(src, f"keypoint '{names[k]}' is listed twice ({fld}[{out.index(k)}] and {fld}[{i}])",
                            field=fld)
        out.append(k)
    return tuple(out)


def flip_pairs_of(raw: Any, names: Sequence[str], src: str) -> tuple[tuple[int, int], ...]:
    """Flip pairs, each keypoint in one pair at most (in two, the flip permutation is ill-defined)."""
    pairs = keypoint_pairs(raw, names, src, "flip_pairs")
    where: dict[int, int] = {}
    for i, pair in enumerate(pairs):
        for k in pair:
            if k in where:
                raise DataError(src, f"keypoint '{names[k]}' is already in flip_pairs[{where[k]}]; a keypoint has one "
                                "mirror image", field=f"flip_pairs[{i}]")
            where[k] = i
    return pairs


def sigmas_of(raw: Any, names: Sequence[str], src: str) -> np.ndarray | None:
    """``K`` OKS sigmas, each a number in :data:`SIGMA_RANGE` (checked here, not when a training's first
    evaluation scores with them)."""
    if raw is None:
        return None
    lo, hi = SIGMA_RANGE
    if isinstance(raw, np.ndarray):
        raw = raw.tolist()
    if not is_list(raw):
        raise DataError(src, f"expected a list of {len(names)} OKS sigmas (one per keypoint) or null, got {shown(raw)}",
                        field="sigmas")
    if len(raw) != len(names):
        raise DataError(src, f"expected {len(names)} OKS sigmas (one per keypoint), got {len(raw)}", field="sigmas")
    for i, v in enumerate(raw):
        if not is_number(v) or not lo <= float(v) <= hi:  # NaN fails the comparison
            raise DataError(src, f"expected an OKS sigma, a number in [{lo:g}, {hi:g}] (published sets: 0.007 to "
                            f"0.107), got {shown(v)}", field=f"sigmas[{i}]")
    return np.asarray(raw, dtype=np.float64)


def nme_normalisers(raw: Any, names: Sequence[str], src: str) -> dict[str, Any]:
    """NME normalisers: ``name: [a, b]`` (two different keypoints) or ``name: [[...], [...]]`` (two lists of
    keypoints with none in both: a normalising distance that is 0 on every face is refused here, not blamed on
    the data when a model is scored)."""
    if raw is None or (is_list(raw) and not raw):  # nme: [] as flip_pairs: [] is written
        return {}
    if not isinstance(raw, Mapping):
        raise DataError(src, f"expected a mapping of normaliser name to two keypoints, got {shown(raw)}", field="nme")
    out: dict[str, Any] = {}
    for key, val in raw.items():
        fld = f"nme.{key}"
        key = field_name(key, src, fld, "a normaliser name")
        if not is_list(val) or len(val) != 2:
            raise DataError(src, f"expected two keypoints (or two lists of keypoints), got {shown(val)}"
                            + (f" of {len(val)}" if is_list(val) else ""), field=fld)
        sides: list[Any] = []
        for j, side in enumerate(val):
            if is_list(side):
                if not side:
                    raise DataError(src, "an empty list of keypoints has no mean point", field=f"{fld}[{j}]")
                sides.append(keypoint_list(side, names, src, f"{fld}[{j}]"))
            else:
                sides.append(keypoint_index(side, names, src, f"{fld}[{j}]"))
        both = sorted(({sides[0]} if isinstance(sides[0], int) else set(sides[0]))
                      & ({sides[1]} if isinstance(sides[1], int) else set(sides[1])))
        if both:
            raise DataError(src, f"keypoint '{names[both[0]]}' is on both sides; a normalising distance is measured "
                            "between two different keypoints (or two lists with none in common)", field=fld)
        out[key] = tuple(sides)
    return out


def flag_of(raw: Any, src: str, fld: str) -> bool:
    """A true/false field: a YAML boolean (the string "false" is not one, and was read as True)."""
    if raw is None:
        return False
    if not isinstance(raw, (bool, np.bool_)):
        raise DataError(src, f"expected true or false, got {shown(raw)}"
                        + ("; write it without quotes" if isinstance(raw, str) else ""), field=fld)
    return bool(raw)
