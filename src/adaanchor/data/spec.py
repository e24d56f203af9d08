"""Keypoint-set specifications (names, flip pairs, skeleton, OKS sigmas, NME eye indices) from YAML.

The built-in specs live in ``adaanchor/specs/<name>.yaml``. A user's own YAML file is loaded the same way
(``load_spec("path/to/mine.yaml")``), so adding a dataset with a new keypoint set needs no code change.
The format is documented in docs/datasets.md.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from adaanchor.errors import DataError, unknown_name_error
from adaanchor.safe_yaml import YamlFault, load_yaml_text

SPEC_DIR = Path(__file__).resolve().parent.parent / "specs"

_KNOWN_KEYS = {"name", "keypoints", "flip_pairs", "skeleton", "sigmas", "upper_body", "nme", "v1_is_visible"}

#: Bounds of a usable OKS sigma, about ten times beyond the published range (0.007 for COCO-WholeBody's finest
#: face points, 0.107 for COCO's hips): below, OKS is a test of sub-pixel equality (sigma 1e-3 on a 300 px
#: person gives a 1 px error OKS 0.3); above, any prediction on the person matches (sigma 1 gives an error of
#: half the person's size OKS 0.97); NaN or infinity make every OKS NaN or 1, which COCOeval scores as AP 1.0.
#: A spec's sigmas are checked against it when the spec is loaded, the metrics' ``sigmas`` when they are given.
SIGMA_RANGE = (1e-3, 1.0)


@dataclass(frozen=True, eq=False)
class KeypointSpec:
    """A keypoint set. All indices are 0-based.

    Attributes:
        name: short name (``coco``, ``wflw``, ...).
        keypoints: the ``K`` keypoint names, in annotation order.
        flip_pairs: ``(a, b)`` index pairs exchanged by a horizontal flip.
        skeleton: ``(a, b)`` index pairs, for drawing.
        sigmas: ``(K,)`` OKS sigmas, or None when the set is not scored with OKS.
        upper_body: indices used by the half-body augmentation (empty: no half-body).
        nme: NME normalisers, e.g. ``{"interocular": (36, 45), "interpupil": ((36..41), (42..47))}``.
        v1_is_visible: COCO-format files of this set write v=1 for "labelled" (faces): read it as v=2.
        source: the YAML file it came from.
    """

    name: str
    keypoints: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...] = ()
    skeleton: tuple[tuple[int, int], ...] = ()
    sigmas: np.ndarray | None = None
    upper_body: tuple[int, ...] = ()
    nme: dict[str, Any] = field(default_factory=dict)
    v1_is_visible: bool = False
    source: str = ""

    @property
    def num_keypoints(self) -> int:
        """``K``."""
        return len(self.keypoints)

    @property
    def flip_index(self) -> np.ndarray:
        """``(K,)`` int64 permutation: after a flip, keypoint ``k`` takes the label of ``flip_index[k]``."""
        idx = np.arange(self.num_keypoints)
        for a, b in self.flip_pairs:
            idx[a], idx[b] = b, a
        return idx

    @property
    def lower_body(self) -> tuple[int, ...]:
        """Indices not in :attr:`upper_body`."""
        upper = set(self.upper_body)
        return tuple(i for i in range(self.num_keypoints) if i not in upper)


def available_specs() -> list[str]:
    """Names of the built-in specs."""
    return sorted(p.stem for p in SPEC_DIR.glob("*.yaml"))


def load_spec(name_or_path: str | Path | KeypointSpec | Mapping[str, Any]) -> KeypointSpec:
    """Load a spec by built-in name (``coco``), by YAML path, or from an already parsed mapping.

    Raises:
        AdaAnchorError: unknown name (the message lists the valid ones).
        DataError: the YAML file is unreadable or malformed (names the file and field).
    """
    if isinstance(name_or_path, KeypointSpec):
        return name_or_path
    if isinstance(name_or_path, Mapping):
        return spec_from_dict(name_or_path, source="<inline spec>")
    text = str(name_or_path)
    path = Path(text).expanduser()
    # A path is anything that looks like a file name; a bare word is a built-in name.
    if path.suffix.lower() in (".yaml", ".yml") or "/" in text or path.is_file():
        if not path.is_file():
            raise DataError(path, "keypoint spec file not found")
    else:
        path = SPEC_DIR / f"{text}.yaml"
        if not path.is_file():
            raise unknown_name_error("keypoint spec", text, available_specs())
    try:
        # The configs' loader: a key given twice is refused (the last one won without a word), 1e-3 is a number.
        raw = load_yaml_text(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:  # an image or another binary file named as the spec
        raise DataError(path, "not a keypoint spec: not a text (YAML) file") from None
    except YamlFault as exc:
        raise DataError(path, str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        raise DataError(path, f"invalid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, Mapping):
        raise DataError(path, "a keypoint spec must be a YAML mapping")
    return spec_from_dict(raw, source=str(path))


def _shown(value: Any) -> str:
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


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _name(value: Any, src: str, fld: str, what: str) -> str:
    """A name written in the file: a string, not what YAML reads ``1``, ``yes`` or ``null`` as."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):  # the file's word is lost: yes, on and true all read as True
        got = f"{str(bool(value)).lower()} (YAML reads an unquoted yes, no, on, off, true or false as a boolean)"
        fix = "write the name in quotes ('yes')"
    else:
        got, fix = _shown(value), ("write the name in quotes ('{value}')" if _is_number(value) else "")
        fix = fix.format(value=value)
    raise DataError(src, f"expected {what} (a string), got {got}" + (f"; {fix}" if fix else ""), field=fld)


def _index(value: Any, names: Sequence[str], src: str, fld: str) -> int:
    """A keypoint given by 0-based index or by name, checked against the names."""
    if isinstance(value, str):
        if value not in names:
            close = difflib.get_close_matches(value, list(names), n=1, cutoff=0.6)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise DataError(src, f"unknown keypoint name '{value}' (not one of the {len(names)} in 'keypoints').{hint}",
                            field=fld)
        return names.index(value)
    if not _is_number(value) or not isinstance(value, (int, np.integer)) or not 0 <= value < len(names):
        raise DataError(src, f"{_shown(value)} is not a keypoint name or an index in 0..{len(names) - 1}", field=fld)
    i = int(value)
    if str(i) in names and names.index(str(i)) != i:
        # Names that are numbers: is 1 the keypoint named '1' or the one at index 1?
        raise DataError(src, f"{i} is ambiguous: the index of keypoint '{names[i]}' and the name of keypoint "
                        f"{names.index(str(i))}; write the name in quotes ('{names[i]}' or '{i}')", field=fld)
    return i


def _pairs(raw: Any, names: Sequence[str], src: str, fld: str) -> tuple[tuple[int, int], ...]:
    """``[a, b]`` pairs of two different keypoints (a keypoint paired with itself is a slip: a flip that keeps it, an
    edge of no length)."""
    if raw is None:
        return ()
    if not _is_list(raw):
        raise DataError(src, f"expected a list of [a, b] pairs, got {_shown(raw)}", field=fld)
    out = []
    for i, pair in enumerate(raw):
        el = f"{fld}[{i}]"
        if not _is_list(pair) or len(pair) != 2:
            raise DataError(src, f"expected a pair [a, b] of keypoint names or indices, got {_shown(pair)}"
                            + (f" of {len(pair)}" if _is_list(pair) else ""), field=el)
        a, b = _index(pair[0], names, src, f"{el}[0]"), _index(pair[1], names, src, f"{el}[1]")
        if a == b:
            raise DataError(src, f"keypoint '{names[a]}' is paired with itself; a pair names two keypoints", field=el)
        out.append((a, b))
    return tuple(out)


def _index_list(raw: Any, names: Sequence[str], src: str, fld: str) -> tuple[int, ...]:
    """A list of different keypoints (names or indices)."""
    if raw is None:
        return ()
    if not _is_list(raw):
        raise DataError(src, f"expected a list of keypoint names or indices, got {_shown(raw)}", field=fld)
    out: list[int] = []
    for i, v in enumerate(raw):
        k = _index(v, names, src, f"{fld}[{i}]")
        if k in out:
            raise DataError(src, f"keypoint '{names[k]}' is listed twice ({fld}[{out.index(k)}] and {fld}[{i}])",
                            field=fld)
        out.append(k)
    return tuple(out)


def _flip_pairs(raw: Any, names: Sequence[str], src: str) -> tuple[tuple[int, int], ...]:
    """Flip pairs, each keypoint in one pair at most (in two, the flip permutation is ill-defined)."""
    pairs = _pairs(raw, names, src, "flip_pairs")
    where: dict[int, int] = {}
    for i, pair in enumerate(pairs):
        for k in pair:
            if k in where:
                raise DataError(src, f"keypoint '{names[k]}' is already in flip_pairs[{where[k]}]; a keypoint has one "
                                "mirror image", field=f"flip_pairs[{i}]")
            where[k] = i
    return pairs


def _sigmas(raw: Any, names: Sequence[str], src: str) -> np.ndarray | None:
    """``K`` OKS sigmas, each a number in :data:`SIGMA_RANGE` (checked here, not when a training's first
    evaluation scores with them)."""
    if raw is None:
        return None
    lo, hi = SIGMA_RANGE
    if isinstance(raw, np.ndarray):
        raw = raw.tolist()
    if not _is_list(raw):
        raise DataError(src, f"expected a list of {len(names)} OKS sigmas (one per keypoint) or null, got {_shown(raw)}",
                        field="sigmas")
    if len(raw) != len(names):
        raise DataError(src, f"expected {len(names)} OKS sigmas (one per keypoint), got {len(raw)}", field="sigmas")
    for i, v in enumerate(raw):
        if not _is_number(v) or not lo <= float(v) <= hi:  # NaN fails the comparison
            raise DataError(src, f"expected an OKS sigma, a number in [{lo:g}, {hi:g}] (published sets: 0.007 to "
                            f"0.107), got {_shown(v)}", field=f"sigmas[{i}]")
    return np.asarray(raw, dtype=np.float64)


def _nme(raw: Any, names: Sequence[str], src: str) -> dict[str, Any]:
    """NME normalisers: ``name: [a, b]`` (two different keypoints) or ``name: [[...], [...]]`` (two lists of
    keypoints with none in both: a normalising distance that is 0 on every face is refused here, not blamed on
    the data when a model is scored)."""
    if raw is None or (_is_list(raw) and not raw):  # nme: [] as flip_pairs: [] is written
        return {}
    if not isinstance(raw, Mapping):
        raise DataError(src, f"expected a mapping of normaliser name to two keypoints, got {_shown(raw)}", field="nme")
    out: dict[str, Any] = {}
    for key, val in raw.items():
        fld = f"nme.{key}"
        key = _name(key, src, fld, "a normaliser name")
        if not _is_list(val) or len(val) != 2:
            raise DataError(src, f"expected two keypoints (or two lists of keypoints), got {_shown(val)}"
                            + (f" of {len(val)}" if _is_list(val) else ""), field=fld)
        sides: list[Any] = []
        for j, side in enumerate(val):
            if _is_list(side):
                if not side:
                    raise DataError(src, "an empty list of keypoints has no mean point", field=f"{fld}[{j}]")
                sides.append(_index_list(side, names, src, f"{fld}[{j}]"))
            else:
                sides.append(_index(side, names, src, f"{fld}[{j}]"))
        both = sorted(({sides[0]} if isinstance(sides[0], int) else set(sides[0]))
                      & ({sides[1]} if isinstance(sides[1], int) else set(sides[1])))
        if both:
            raise DataError(src, f"keypoint '{names[both[0]]}' is on both sides; a normalising distance is measured "
                            "between two different keypoints (or two lists with none in common)", field=fld)
        out[key] = tuple(sides)
    return out


def _flag(raw: Any, src: str, fld: str) -> bool:
    """A true/false field: a YAML boolean (the string "false" is not one, and was read as True)."""
    if raw is None:
        return False
    if not isinstance(raw, (bool, np.bool_)):
        raise DataError(src, f"expected true or false, got {_shown(raw)}"
                        + ("; write it without quotes" if isinstance(raw, str) else ""), field=fld)
    return bool(raw)


def spec_to_dict(spec: KeypointSpec) -> dict[str, Any]:
    """``spec`` as the mapping a spec YAML holds (pairs and lists by keypoint name), so that
    ``spec_from_dict(spec_to_dict(s))`` is ``s`` again (its ``source`` aside): a spec derived from data (a
    DeepLabCut project, a COCO file's categories) is written into a run directory this way."""
    names = spec.keypoints

    def side(v: Any) -> Any:
        return [names[i] for i in v] if isinstance(v, (tuple, list)) else names[v]

    out: dict[str, Any] = {"name": spec.name, "keypoints": list(names),
                           "flip_pairs": [[names[a], names[b]] for a, b in spec.flip_pairs],
                           "skeleton": [[names[a], names[b]] for a, b in spec.skeleton]}
    if spec.sigmas is not None:
        out["sigmas"] = [float(v) for v in spec.sigmas]
    if spec.upper_body:
        out["upper_body"] = [names[i] for i in spec.upper_body]
    if spec.nme:
        out["nme"] = {k: [side(a) for a in v] for k, v in spec.nme.items()}
    if spec.v1_is_visible:
        out["v1_is_visible"] = True
    return out


def spec_from_dict(raw: Mapping[str, Any], source: str = "<inline spec>") -> KeypointSpec:
    """Validate a parsed spec mapping and build a :class:`KeypointSpec`.

    Raises:
        DataError: naming ``source``, the field and its element (``keypoints[3]``, ``sigmas[0]``, ``nme.interocular``)
            and what is valid.
    """
    unknown = {str(k) for k in raw} - _KNOWN_KEYS
    if unknown:
        raise DataError(source, f"unknown key(s) {sorted(unknown)}; valid: {sorted(_KNOWN_KEYS)}")
    raw_names = raw.get("keypoints")
    if not _is_list(raw_names) or not raw_names:
        raise DataError(source, f"a non-empty list of keypoint names is required, got {_shown(raw_names)}",
                        field="keypoints")
    names = [_name(n, source, f"keypoints[{i}]", "a keypoint name") for i, n in enumerate(raw_names)]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise DataError(source, f"duplicate keypoint names {dup}", field="keypoints")
    name = raw.get("name")
    return KeypointSpec(
        name=(_name(name, source, "name", "a spec name") if name is not None else "") or Path(source).stem,
        keypoints=tuple(names),
        flip_pairs=_flip_pairs(raw.get("flip_pairs"), names, source),
        skeleton=_pairs(raw.get("skeleton"), names, source, "skeleton"),
        sigmas=_sigmas(raw.get("sigmas"), names, source),
        upper_body=_index_list(raw.get("upper_body"), names, source, "upper_body"),
        nme=_nme(raw.get("nme"), names, source),
        v1_is_visible=_flag(raw.get("v1_is_visible"), source, "v1_is_visible"),
        source=source,
    )
