"""Keypoint-set specifications (names, flip pairs, skeleton, OKS sigmas, NME eye indices) from YAML.

The built-in specs live in ``adaanchor/specs/<name>.yaml``. A user's own YAML file is loaded the same way
(``load_spec("path/to/mine.yaml")``), so adding a dataset with a new keypoint set needs no code change.
The format is documented in docs/datasets.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from adaanchor.errors import DataError, unknown_name_error
from adaanchor.safe_yaml import YamlFault, load_yaml_text, yaml_problem

from .spec_fields import (  # noqa: F401 - SIGMA_RANGE re-exported: its place in the data layer
    SIGMA_RANGE,
    field_name,
    flag_of,
    flip_pairs_of,
    is_list,
    keypoint_index,
    keypoint_list,
    keypoint_pairs,
    nme_normalisers,
    shown,
    sigmas_of,
)

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
        # The configs' loader: a key given twice is refused (the last one won without a word), 1e-3 is a number.
        raw = load_yaml_text(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:  # an image or another binary file named as the spec
        raise DataError(path, "not a keypoint spec: not a text (YAML) file") from None
    except YamlFault as exc:
        raise DataError(path, str(exc)) from None
    except yaml.YAMLError as exc:
        raise DataError(path, yaml_problem(exc)) from None
    if not isinstance(raw, Mapping):
        raise DataError(path, "a keypoint spec must be a YAML mapping")
    return spec_from_dict(raw, source=str(path))


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
    if not is_list(raw_names) or not raw_names:
        raise DataError(source, f"a non-empty list of keypoint names is required, got {shown(raw_names)}",
                        field="keypoints")
    names = [field_name(n, source, f"keypoints[{i}]", "a keypoint name") for i, n in enumerate(raw_names)]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise DataError(source, f"duplicate keypoint names {dup}", field="keypoints")
    name = raw.get("name")
    return KeypointSpec(
        name=(field_name(name, source, "name", "a spec name") if name is not None else "") or Path(source).stem,
        keypoints=tuple(names),
        flip_pairs=flip_pairs_of(raw.get("flip_pairs"), names, source),
        skeleton=keypoint_pairs(raw.get("skeleton"), names, source, "skeleton"),
        sigmas=sigmas_of(raw.get("sigmas"), names, source),
        upper_body=keypoint_list(raw.get("upper_body"), names, source, "upper_body"),
        nme=nme_normalisers(raw.get("nme"), names, source),
        v1_is_visible=flag_of(raw.get("v1_is_visible"), source, "v1_is_visible"),
        source=source,
    )
