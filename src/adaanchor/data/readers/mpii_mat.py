"""MPII Human Pose: the official ``mpii_human_pose_v1_u12_1.mat`` (the JSON conversion: :mod:`.mpii`).

Official ``mpii_human_pose_v1_u12_1.mat``: ``RELEASE.annolist(i).image.name``,
``RELEASE.annolist(i).annorect(j)`` with the head box ``x1, y1, x2, y2``, ``scale``, ``objpos.{x, y}`` and
``annopoints.point(p).{id, x, y, is_visible}`` (``id`` is the 0-based joint index of the MPII order).
``is_visible`` 1 gives ``v = 2``, 0 gives ``v = 1`` (labelled, occluded), and an empty flag (as for the
head top and upper neck) ``v = 2``. People without ``annopoints`` carry no keypoint (the test set, and
people not annotated) and are reported as left out.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from ..records import Instance
from ..spec import KeypointSpec
from . import Collector, ReadResult, printable, spec_by_name
from .image_header import ImageHeaders, within_bound
from .mpii import mpii_box
from .mpii_heads import head_extra, record_head_size
from .pts import extent_box, image_ids


def _field(obj: Any, name: str) -> Any:
    """A field of a loadmat struct (``mat_struct``, numpy record or dict); None when absent or empty."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        v = obj.get(name)
    elif isinstance(obj, np.void) or (isinstance(obj, np.ndarray) and obj.dtype.names):
        v = obj[name] if obj.dtype.names and name in obj.dtype.names else None
    else:
        v = getattr(obj, name, None)
    if isinstance(v, np.ndarray) and v.size == 0:
        return None
    return v


def _items(v: Any) -> list:
    """A loadmat struct array (or single struct, after ``squeeze_me``) as a list."""
    if v is None:
        return []
    if isinstance(v, np.ndarray) and v.dtype == object:
        return [x for x in v.reshape(-1)]
    if isinstance(v, np.ndarray) and v.dtype.names:
        return [x for x in v.reshape(-1)]
    return [v]


def _number(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, np.ndarray):
        if v.size != 1:
            return None
        v = v.reshape(-1)[0]
    if isinstance(v, (bytes, str)):
        v = v.strip()
        if not v:
            return None
    try:
        return float(v)
    except (TypeError, ValueError, OverflowError):
        return None


def _string(v: Any) -> str | None:
    if isinstance(v, np.ndarray):
        v = v.reshape(-1)[0] if v.size == 1 else None
    return str(v) if isinstance(v, (str, np.str_)) and str(v) else None


def _mat_points(path: Path, points: list, spec: KeypointSpec, off: float) -> tuple[np.ndarray, np.ndarray]:
    """``xy (K, 2)`` and ``vis (K,)`` (``is_visible`` 0: 1, else 2; absent joints 0) of one ``annopoints.point``
    list of the official ``.mat``."""
    k = spec.num_keypoints
    xy, vis = np.zeros((k, 2)), np.zeros(k, dtype=np.int64)
    for p in points:
        jid, x, y = _number(_field(p, "id")), _number(_field(p, "x")), _number(_field(p, "y"))
        # int() of NaN or inf raises: the finiteness test comes first.
        if jid is None or not math.isfinite(jid) or jid != int(jid) or not 0 <= jid < k:
            raise DataError(path, f"joint id {jid!r} is not in 0..{k - 1} (spec '{spec.name}')",
                            field="annopoints.point.id")
        jid = int(jid)
        if vis[jid]:  # the second point of a joint replaced the first without a word
            raise DataError(path, f"joint id {jid} ({spec.keypoints[jid]}) is given twice", field="annopoints.point.id")
        if x is None or y is None or not math.isfinite(x) or not math.isfinite(y):
            raise DataError(path, f"non-finite or missing coordinate of joint {jid} ({spec.keypoints[jid]})",
                            field="annopoints.point.x")
        flag = _number(_field(p, "is_visible"))
        xy[jid] = (x - off, y - off)
        vis[jid] = 1 if flag is not None and flag == 0 else 2
    return xy, vis


@spec_by_name
def read_mpii_mat(
    path: str | Path,
    spec: KeypointSpec,
    images_dir: str | Path | None = None,
    skip_invalid: bool = False,
    one_based: bool = True,
    img_train: int | None = None,
    **_: object,
) -> ReadResult:
    """Read the official ``mpii_human_pose_v1_u12_1.mat`` (see the module docstring) with scipy.

    Args:
        path: the ``.mat`` file.
        spec: keypoint set (16 MPII joints; ``point.id`` indexes it).
        images_dir: folder of the images; default: the ``.mat``'s folder.
        skip_invalid: skip (and report) bad people instead of raising.
        one_based: subtract 1 from coordinates (MATLAB, 1-based).
        img_train: keep images whose ``RELEASE.img_train`` equals this (1 train, 0 test); None keeps all.

    Returns:
        One instance per annotated person, records named ``annolist[i].annorect[j]`` (0-based indices);
        ``ann_id`` numbers the people of the file in order (0, 1, ...), counting those left out.
    """
    path = Path(path)
    annolist, train_flags = _load_release(path)
    col = Collector(str(path), skip_invalid)
    left_out: list[DataError] = []
    base = Path(images_dir) if images_dir is not None else path.parent
    off = 1.0 if one_based else 0.0
    good = []
    ann = -1
    headers = ImageHeaders()
    for i, entry in enumerate(annolist):
        if img_train is not None and train_flags is not None and i < len(train_flags) \
                and int(train_flags[i]) != img_train:
            continue
        name = _string(_field(_field(entry, "image"), "name"))
        for j, rect in enumerate(_items(_field(entry, "annorect"))):
            ann += 1  # every person counts, those left out too
            rec = f"annolist[{i}].annorect[{j}]" + (f" ({printable(name)})" if name else "")
            person = _mat_person(path, rect, name, rec, spec, off, col, left_out)
            if person is not None and within_bound(col, str(base / name), person[0], person[1] > 0, spec.keypoints,
                                                   headers, rec, "annopoints"):
                good.append((ann, name, *person))
    ids = image_ids(g[1] for g in good)
    out = [Instance(str(base / n), ids[n], a, xy, vis, box, float(box[2] * box[3]), center=c, scale=s, extra=extra)
           for a, n, xy, vis, box, c, s, extra in good]
    res = col.result(out)
    res.skipped.extend(left_out)
    return res


def _load_release(path: Path) -> tuple[list, np.ndarray | None]:
    """The ``RELEASE.annolist`` entries of the ``.mat`` at ``path`` and its ``img_train`` flags ``(N,)`` (None when
    absent)."""
    from scipy.io import loadmat

    if not path.is_file():
        raise DataError(path, "file not found")
    try:
        mat = loadmat(str(path), struct_as_record=False, squeeze_me=True)
    except Exception as e:  # scipy raises several types for a non-.mat file
        raise DataError(path, f"cannot read as a MATLAB .mat file ({e})") from None
    release = mat.get("RELEASE")
    annolist = _items(_field(release, "annolist"))
    if release is None or not annolist:
        raise DataError(path, "expected the MPII RELEASE struct with an 'annolist'", field="RELEASE.annolist")
    train_flags = _field(release, "img_train")
    train_flags = np.atleast_1d(np.asarray(train_flags)).reshape(-1) if train_flags is not None else None
    return annolist, train_flags


def _mat_person(path: Path, rect: Any, name: str | None, rec: str, spec: KeypointSpec, off: float, col: Collector,
                left_out: list[DataError]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, float | None, dict] | None:
    """``xy (K, 2)``, ``vis (K,)``, box ``[x, y, w, h]``, centre ``(2,)`` and scale (None without a valid
    ``objpos`` and ``scale``) and ``extra`` of one ``annorect``; None after a failure recorded in ``col`` or a person
    without keypoints (in ``left_out``)."""
    if name is None:
        col.fail("missing image name", record=rec, field="image.name")
        return None
    points = _items(_field(_field(rect, "annopoints"), "point"))
    if not points:
        left_out.append(DataError(path, "no keypoint annotation (annopoints)", record=rec, field="annopoints"))
        return None
    try:
        xy, vis = _mat_points(path, points, spec, off)
    except DataError as e:
        col.fail(e.reason, record=rec, field=e.field)
        return None
    hb = [_number(_field(rect, f)) for f in ("x1", "y1", "x2", "y2")]
    scale = _number(_field(rect, "scale"))
    head = record_head_size(col, rec, xy, vis, spec, hb if all(v is not None for v in hb) else None, None, scale)
    if head is None:
        return None
    pos = _field(rect, "objpos")
    cx, cy = _number(_field(pos, "x")), _number(_field(pos, "y"))
    if scale is not None and scale > 0 and cx is not None and cy is not None and math.isfinite(cx + cy + scale):
        center = np.array([cx - off, cy - off])
        return xy, vis, mpii_box(center, scale), center, scale, head_extra(head, off)
    return xy, vis, extent_box(xy, vis), None, None, head_extra(head, off)
