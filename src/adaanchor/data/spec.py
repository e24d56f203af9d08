"""Keypoint-set specifications (names, flip pairs, skeleton, OKS sigmas, NME eye indices) from YAML.

The built-in specs live in ``adaanchor/specs/<name>.yaml``. A user's own YAML file is loaded the same way
(``load_spec("path/to/mine.yaml")``), so adding a dataset with a new keypoint set needs no code change.
The format is documented in docs/datasets.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from adaanchor.errors import DataError, unknown_name_error

SPEC_DIR = Path(__file__).resolve().parent.parent / "specs"

_KNOWN_KEYS = {"name", "keypoints", "flip_pairs", "skeleton", "sigmas", "upper_body", "nme", "v1_is_visible"}


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
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:  # an image or another binary file named as the spec
        raise DataError(path, "not a keypoint spec: not a text (YAML) file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        raise DataError(path, f"invalid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, Mapping):
        raise DataError(path, "a keypoint spec must be a YAML mapping")
    return spec_from_dict(raw, source=str(path))


def _index(value: Any, names: Sequence[str], src: str, fld: str) -> int:
    """A keypoint given by 0-based index or by name, checked against the names."""
    if isinstance(value, str):
        if value not in names:
            raise DataError(src, f"unknown keypoint name '{value}'", field=fld)
        return names.index(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(names):
        raise DataError(src, f"{value!r} is not a keypoint name or an index in 0..{len(names) - 1}", field=fld)
    return int(value)


def _pairs(raw: Any, names: Sequence[str], src: str, fld: str) -> tuple[tuple[int, int], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise DataError(src, "expected a list of [a, b] pairs", field=fld)
    out = []
    for i, pair in enumerate(raw):
        if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
            raise DataError(src, f"entry {i} is not a pair [a, b]", field=fld)
        out.append((_index(pair[0], names, src, fld), _index(pair[1], names, src, fld)))
    return tuple(out)


def _index_list(raw: Any, names: Sequence[str], src: str, fld: str) -> tuple[int, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise DataError(src, "expected a list of keypoints", field=fld)
    return tuple(_index(v, names, src, fld) for v in raw)


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
    """Validate a parsed spec mapping and build a :class:`KeypointSpec`."""
    unknown = set(raw) - _KNOWN_KEYS
    if unknown:
        raise DataError(source, f"unknown key(s) {sorted(unknown)}; valid: {sorted(_KNOWN_KEYS)}")
    names = raw.get("keypoints")
    if not isinstance(names, Sequence) or isinstance(names, str) or not names:
        raise DataError(source, "a non-empty list of keypoint names is required", field="keypoints")
    names = [str(n) for n in names]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise DataError(source, f"duplicate keypoint names {dup}", field="keypoints")
    flip_pairs = _pairs(raw.get("flip_pairs"), names, source, "flip_pairs")
    seen: set[int] = set()
    for a, b in flip_pairs:
        # A keypoint in two pairs would make the flip permutation ill-defined.
        if a == b or a in seen or b in seen:
            raise DataError(source, f"keypoint {a} or {b} is paired twice or with itself", field="flip_pairs")
        seen.update((a, b))
    sigmas = raw.get("sigmas")
    if sigmas is not None:
        try:
            sigmas = np.asarray(sigmas, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(source, "sigmas must be numbers", field="sigmas") from None
        if sigmas.shape != (len(names),) or not np.all(np.isfinite(sigmas)) or np.any(sigmas <= 0):
            raise DataError(source, f"need {len(names)} positive finite sigmas", field="sigmas")
    nme_raw = raw.get("nme") or {}
    if not isinstance(nme_raw, Mapping):
        raise DataError(source, "expected a mapping of normaliser name to two keypoints", field="nme")
    nme: dict[str, Any] = {}
    for key, val in nme_raw.items():
        fld = f"nme.{key}"
        if not isinstance(val, Sequence) or isinstance(val, str) or len(val) != 2:
            raise DataError(source, "expected two keypoints (or two lists of keypoints)", field=fld)
        sides = []
        for side in val:
            if isinstance(side, Sequence) and not isinstance(side, str):
                sides.append(_index_list(side, names, source, fld))
            else:
                sides.append(_index(side, names, source, fld))
        nme[str(key)] = tuple(sides)
    return KeypointSpec(
        name=str(raw.get("name") or Path(source).stem),
        keypoints=tuple(names),
        flip_pairs=flip_pairs,
        skeleton=_pairs(raw.get("skeleton"), names, source, "skeleton"),
        sigmas=sigmas,
        upper_body=_index_list(raw.get("upper_body"), names, source, "upper_body"),
        nme=nme,
        v1_is_visible=bool(raw.get("v1_is_visible", False)),
        source=source,
    )

