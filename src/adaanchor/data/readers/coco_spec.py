"""The keypoint spec a COCO-format file declares: the ``keypoints`` names and ``skeleton`` of its categories.

A COCO keypoints file carries its keypoint set (``categories[].keypoints``, ``categories[].skeleton`` with
1-based indices; 0-based ones, which some published files write, are recognised), so ``data.spec`` may name the file itself, and the config for your own data
(``configs/custom.yaml``) reads it from the training annotation file when ``data.format=coco``. Every category
with keypoints must have the same names (AP-10K's 54 species share one set). A set whose names are those of a
built-in spec (``coco``, ``crowdpose``, ...) is that spec, with its OKS sigmas and half-body parts; any other
set gets its flip pairs from left/right names and no OKS sigmas (it is scored in pixels and PCK, like the
DeepLabCut and SLEAP sets).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from ...errors import DataError
from ..spec import KeypointSpec, available_specs, load_spec
from .sleap_labels import make_spec


def coco_spec(path: str | Path) -> KeypointSpec:
    """The keypoint spec of the COCO-format file ``path`` (see the module docstring).

    Raises:
        DataError: no such file, not JSON, no category with keypoints, categories with different keypoint
            sets, or a malformed ``keypoints`` / ``skeleton`` entry (the file, the category and the field).
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(p, "no such file")
    st = p.stat()
    return _cached(str(p.resolve()), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=8)
def _cached(path: str, _mtime: int, _size: int) -> KeypointSpec:
    # Keyed by modification time and size as well: a file edited in place is read again. The categories come
    # last in many files, so the whole file is streamed (seconds for COCO's 240 MB training file), once.
    cats = _categories(Path(path))
    sets = [(i, c) for i, c in enumerate(cats) if isinstance(c, dict) and c.get("keypoints")]
    if not sets:
        raise DataError(path, "no category lists keypoints: name a keypoint spec instead (data.spec=NAME or a "
                        "spec YAML, docs/datasets.md)", field="categories")
    first_i, first = sets[0]
    names = _names(path, first_i, first)
    for i, c in sets[1:]:
        if _names(path, i, c) != names:
            raise DataError(path, f"categories {first_i} and {i} list different keypoints ({len(names)} and "
                            f"{len(c['keypoints'])}): one keypoint set a file", record=i, field="keypoints")
    _check_annotations(path, names)
    builtin = _builtin_with(names)
    if builtin is not None:
        return builtin
    edges = _edges(path, first_i, first, names)
    name = str(first.get("name") or Path(path).stem) if len(sets) == 1 else Path(path).stem
    return make_spec(name, names, edges, None, path)


def _categories(path: Path) -> list[Any]:
    import ijson

    from .coco_stream import UniqueKeys

    try:
        with path.open("rb") as f:
            cats = next(ijson.items(f, "categories", use_float=True, map_type=UniqueKeys), None)
    except Exception as e:  # ijson.JSONError, bad UTF-8, ...
        cats = _categories_by_json(path, e)
    if not isinstance(cats, list):
        raise DataError(path, "no 'categories' list: not a COCO-format keypoints file", field="categories")
    return cats


def _categories_by_json(path: Path, streaming_error: Exception) -> Any:
    """The categories read by ``json``, for a file ijson refuses: Python writes ``NaN`` and ``Infinity`` into JSON,
    which ijson rejects and ``json`` reads, so that the reader then names the record and field holding them."""
    import json

    try:
        data = json.loads(path.read_bytes())
    except (ValueError, OSError):
        e = streaming_error
        raise DataError(path, f"not a readable JSON file ({type(e).__name__}: {e})") from None
    return data.get("categories") if isinstance(data, dict) else None


def _check_annotations(path: str, names: tuple[str, ...]) -> None:
    """The first annotation must carry ``3 K`` numbers for the ``K`` names: a file that contradicts its own
    categories (HumanArt's list 21 names, its ``keypoints`` hold COCO's 17) is one clear error here rather than
    one per record when it is read."""
    from .coco_stream import first_annotation

    try:
        first = first_annotation(Path(path))
    except Exception:  # a parse error: reading the annotations reports it, with its place
        return
    kp = first.get("keypoints") if isinstance(first, dict) else None
    nested = nested_triplets(kp)
    if nested:  # RHD's files: 21 [x, y, v] lists, counted as 21 numbers against 63 (and a 21-point spec failed too)
        raise DataError(path, nested, field="annotations[0].keypoints")
    if isinstance(kp, list) and kp and len(kp) != 3 * len(names):
        hint = " (17 is COCO's: data.spec=coco)" if len(kp) == 51 else ""
        raise DataError(path, f"its categories list {len(names)} keypoint names, but its annotations carry {len(kp)} "
                        f"numbers, not {3 * len(names)}: name the keypoint spec (data.spec=NAME or a spec YAML){hint}",
                        field="categories")


def nested_triplets(kp: Any) -> str | None:
    """Why ``kp``, a list of ``[x, y, v]`` lists (RHD's layout), is not COCO's flat ``[x, y, v] * K``; None for
    anything else."""
    if not (isinstance(kp, list) and kp and all(isinstance(t, list) and len(t) == 3 for t in kp)):
        return None
    return (f"keypoints are {len(kp)} [x, y, v] lists, not COCO's flat list of {3 * len(kp)} numbers: flatten each "
            "annotation's keypoints ([v for t in kp for v in t]) into a copy of the file and read that")


def _names(path: str, i: int, cat: dict) -> tuple[str, ...]:
    kps = cat.get("keypoints")
    if not isinstance(kps, list) or not all(isinstance(k, str) and k for k in kps):
        raise DataError(path, f"expected a list of keypoint names, got {kps!r}"[:200], record=i, field="keypoints")
    if len(set(kps)) != len(kps):
        dup = sorted({k for k in kps if kps.count(k) > 1})
        raise DataError(path, f"keypoint names appear twice: {dup}", record=i, field="keypoints")
    return tuple(kps)


def _edges(path: str, i: int, cat: dict, names: tuple[str, ...]) -> list[tuple[str, str]]:
    """The skeleton as name pairs. COCO's indices are 1-based, but some published files (Animal Kingdom, ATRW)
    write 0-based ones: a skeleton that uses index 0 and none above ``K - 1`` is read as 0-based."""
    sk = cat.get("skeleton") or []
    pairs = sk if isinstance(sk, list) else [sk]
    k = len(names)
    for e in pairs:
        if not (isinstance(e, list) and len(e) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in e)):
            raise DataError(path, f"expected pairs of keypoint indices, got {e!r}", record=i, field="skeleton")
    flat = [v for e in pairs for v in e]
    base = 0 if flat and min(flat) == 0 and max(flat) <= k - 1 else 1
    if flat and (min(flat) < base or max(flat) > k - 1 + base):
        raise DataError(path, f"expected pairs of 1-based keypoint indices (1..{k}; or 0-based, 0..{k - 1}), got "
                        f"indices from {min(flat)} to {max(flat)}", record=i, field="skeleton")
    return [(names[a - base], names[b - base]) for a, b in pairs]


def _builtin_with(names: tuple[str, ...]) -> KeypointSpec | None:
    """The built-in spec whose keypoint names are ``names``, in that order, if any."""
    for spec_name in available_specs():
        spec = load_spec(spec_name)
        if spec.keypoints == names:
            return spec
    return None


__all__ = ["coco_spec"]
