"""What the DeepLabCut, SLEAP and NWB readers share: keypoint specs derived from a file's own skeleton, flip
pairs inferred from left/right names, and instances from sleap-io's points.

``data.spec`` may name the data itself (a DeepLabCut project folder, its ``config.yaml``, a
``CollectedData_*.csv``/``.h5`` table, a SLEAP ``.slp`` file or an NWB ``.nwb`` file): :func:`spec_from_data` derives the spec
from it, so a keypoint set that is defined by the labelling tool needs no YAML typed by hand.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...errors import DataError
from ..records import Instance
from ..spec import KeypointSpec
from . import Collector, printable
from .image_header import ImageHeaders, far_in_image
from .pts import extent_box, landmark_instance

#: File suffixes whose keypoint set :func:`spec_from_data` can derive (``.json``: a COCO-format file's categories).
DATA_SUFFIXES = (".csv", ".h5", ".slp", ".nwb", ".json")

# Left/right spelled as a word part: "left"/"right" anywhere (leftear, ear_left, FrontLeftPaw), or a lone
# "l"/"r" after a separator or at the start, before a separator, a digit or the end (l_ear, paw-r, "L ear", hand_L1).
_SIDE_WORD = re.compile(r"left|right", re.IGNORECASE)
_SIDE_LETTER = re.compile(r"(?:(?<=^)|(?<=[_\-. ]))([lrLR])(?=$|[0-9_\-. ])")
# A lower-case l/r that starts a camelCase name (lShoulder/rShoulder, lEye/rEye).
_SIDE_PREFIX = re.compile(r"^([lr])(?=[A-Z])")
# A capital L/R that ends a lower-case word, before the end, a digit or a separator: the DeepPoseKit sets that
# mmpose ships (fly, locust, zebra) write eyeL/eyeR, forelegL1/forelegR1, and had no flip pair at all.
_SIDE_CAMEL = re.compile(r"(?<=[a-z])([LR])(?=$|[0-9_\-. ])")


def _swap_side(name: str) -> list[str]:
    """Every name obtained from ``name`` by swapping one left/right marker for the other."""
    out = []
    swap = {"left": "right", "right": "left", "l": "r", "r": "l"}
    for rx in (_SIDE_WORD, _SIDE_LETTER, _SIDE_PREFIX, _SIDE_CAMEL):
        for m in rx.finditer(name):
            word = m.group(0)
            other = swap[word.lower()]
            other = other.upper() if word.isupper() else other.capitalize() if word[0].isupper() else other
            out.append(name[: m.start()] + other + name[m.end():])
    return out


def flip_pairs_from_names(names: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """Pairs of keypoints exchanged by a horizontal flip, inferred from their names.

    The rule: ``a`` and ``b`` are a pair when ``b`` is ``a`` with one side marker swapped, where a side marker is
    ``left``/``right`` anywhere in the name (any case: ``leftear``/``rightear``, ``ear_left``/``ear_right``,
    ``FrontLeftPaw``/``FrontRightPaw``) or a lone ``l``/``r`` at the start or after ``_ - .`` or space, and before
    one of those, a digit or the end (``l_ear``/``r_ear``, ``paw-L``/``paw-R``, ``hand_L1``/``hand_R1``), or a
    lower-case ``l``/``r`` starting a camelCase name (``lShoulder``/``rShoulder``), or a capital ``L``/``R`` after
    a lower-case letter and before the end, a digit or a separator (``eyeL``/``eyeR``, ``forelegL1``/``forelegR1``).
    Each keypoint is in at most one pair (the first found, in name order; spaces around a name are not part of it);
    names without a counterpart stay where they are under a flip.
    """
    # Names are compared without surrounding spaces: Animal Kingdom's file names "Ankle_Left " (a trailing space)
    # beside "Ankle_Right", and the ankles had no pair.
    index: dict[str, int] = {}
    for i, n in enumerate(names):
        index.setdefault(n.strip(), i)
    pairs: list[tuple[int, int]] = []
    used: set[int] = set()
    for i, n in enumerate(names):
        if i in used:
            continue
        for cand in _swap_side(n.strip()):
            j = index.get(cand)
            if j is not None and j != i and j not in used:
                pairs.append((i, j))
                used.update((i, j))
                break
    return tuple(pairs)


def make_spec(name: str, keypoints: Sequence[str], edges: Sequence[tuple[str, str]],
              flip_pairs: Sequence[tuple[str, str]] | None, source: str) -> KeypointSpec:
    """A :class:`KeypointSpec` from names: ``edges`` (the skeleton) and ``flip_pairs`` as name pairs; flip
    pairs are inferred from the names (:func:`flip_pairs_from_names`) when the file has none. No OKS sigmas
    (such sets are scored in pixels and PCK), no half-body augmentation."""
    idx = {n: i for i, n in enumerate(keypoints)}
    skel = tuple((idx[a], idx[b]) for a, b in edges if a in idx and b in idx and a != b)
    if flip_pairs:
        flips = tuple(sorted((min(idx[a], idx[b]), max(idx[a], idx[b])) for a, b in flip_pairs
                             if a in idx and b in idx and a != b))
    else:
        flips = flip_pairs_from_names(keypoints)
    return KeypointSpec(name=name, keypoints=tuple(keypoints), flip_pairs=flips, skeleton=skel, source=source)


def is_data_source(path: Path) -> bool:
    """``path`` is data whose keypoint set can be derived (a folder, a table, a ``.slp``, a ``.nwb``, a DeepLabCut
    ``config.yaml``, a YOLO pose dataset's YAML) rather than a spec YAML."""
    if path.is_dir() or path.suffix.lower() in DATA_SUFFIXES:
        return True
    from .yolo import is_yolo_yaml, yaml_without_kpt_shape

    if is_yolo_yaml(path) or (path.is_file() and yaml_without_kpt_shape(path) is not None):
        return True  # the second: a dataset YAML without kpt_shape, for yolo_spec to say so
    if path.name == "config.yaml" and path.is_file():
        from .dlc import read_dlc_config

        return read_dlc_config(path) is not None
    return False


def spec_from_data(path: str | Path) -> KeypointSpec:
    """The keypoint spec of a DeepLabCut project/table, a SLEAP or NWB file, a YOLO pose dataset (its folder or YAML) or
    a COCO-format file (its categories, :mod:`.coco_spec`) (see the module docstring)."""
    p = Path(path).expanduser()
    if p.suffix.lower() == ".slp":
        from .slp import slp_spec

        return slp_spec(p)
    if p.suffix.lower() == ".nwb":
        from .nwb import nwb_spec

        return nwb_spec(p)
    if p.suffix.lower() == ".json":
        from .coco_spec import coco_spec

        return coco_spec(p)
    from .yolo import find_yolo_yaml, yaml_without_kpt_shape, yolo_spec

    # A folder or YAML of a YOLO dataset (not a DeepLabCut project that happens to sit below one). One whose YAML
    # lacks kpt_shape goes to yolo_spec too, whose error names that YAML and the key, where the DeepLabCut
    # reader would only say that it found no DeepLabCut table.
    yolo_like = p.is_dir() and not any(p.glob("labeled-data")) and not any(p.glob("CollectedData*"))
    if (yolo_like or p.suffix.lower() in (".yaml", ".yml")) and (
            find_yolo_yaml(p) is not None or yaml_without_kpt_shape(p) is not None):
        return yolo_spec(p)
    from .dlc import dlc_spec

    return dlc_spec(p)


def column_order(spec: KeypointSpec, file_names: Sequence[str], source: str) -> np.ndarray:
    """``(K,)`` indices into ``file_names`` of the spec's keypoints, by name.

    Raises:
        DataError: a spec keypoint is not in the file, or the file has keypoints the spec lacks (they would
            be dropped); the message lists both sets.
    """
    pos = {n: i for i, n in enumerate(file_names)}
    missing = [n for n in spec.keypoints if n not in pos]
    extra = [n for n in file_names if n not in set(spec.keypoints)]
    if missing or extra:
        what = f"keypoints {missing} of spec '{spec.name}' are not in the file" if missing else \
            f"the file has keypoints {extra} that spec '{spec.name}' lacks"
        raise DataError(source, f"{what} (file: {list(file_names)}; spec: {list(spec.keypoints)}); "
                                f"data.spec=<the data path> derives the spec from the file", field="keypoints")
    return np.array([pos[n] for n in spec.keypoints], dtype=np.int64)


def far_from_image(points: np.ndarray, image: str, names: Sequence[str], headers: ImageHeaders) -> str | None:
    """:func:`.image_header.far_in_image` of ``points`` (``(K, 2)``, NaN: unlabelled) in the image file ``image``
    (``headers``: the read's :class:`~.image_header.ImageHeaders`, one open per image)."""
    pts = np.asarray(points, dtype=np.float64)
    lab = np.all(np.isfinite(pts), axis=1)
    return far_in_image(np.where(lab[:, None], pts, 0.0), lab, image, names, headers)


def points_instance(image: str, image_id: int, ann_id: int, points: np.ndarray, col: Collector, record: str,
                    extra: dict) -> Instance | None:
    """An :class:`Instance` from ``(K, 2)`` points in original-image pixels (NaN: not labelled, ``v = 0``;
    labelled points are ``v = 2``: neither DeepLabCut nor SLEAP user labels carry an occlusion flag).
    Without any labelled point the instance is left out and reported (never silently)."""
    pts = np.asarray(points, dtype=np.float64)
    lab = np.all(np.isfinite(pts), axis=1)
    vis = np.where(lab, 2, 0).astype(np.int64)
    xy = np.where(lab[:, None], pts, 0.0)
    if extent_box(xy, vis) is None:
        # An image with nothing labelled is no error: it is counted among the skipped records either way.
        col.skipped.append(DataError(col.source, "no labelled keypoint", record=printable(record), field="keypoints"))
        return None
    return landmark_instance(image, image_id, ann_id, xy, vis, extra)


__all__ = ["DATA_SUFFIXES", "column_order", "far_from_image", "flip_pairs_from_names", "is_data_source", "make_spec",
           "points_instance", "spec_from_data"]
