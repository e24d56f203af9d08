"""MPII Human Pose: the JSON conversion used by the HRNet / mmpose code, and the official ``.mat``.

**Coordinates are 1-based** in both (MATLAB: the centre of the top-left pixel is ``(1, 1)``). The HRNet
code subtracts 1 from ``joints`` and ``center`` on reading and adds 1 back before comparing predictions
with the official ``pos_gt_src``. With ``one_based=True`` (default) these readers do the same subtraction,
so instances follow docs/conventions.md and predictions written from them are 0-based; the PCKh of
:mod:`adaanchor.metrics.pckh` compares 0-based with 0-based, which equals the official 1-based comparison.

JSON (``train.json`` / ``valid.json`` / ``test.json``): a list of one record per person::

    {"image": "005808361.jpg", "center": [966.0, 340.0], "scale": 4.718488,
     "joints": [[x, y] * 16], "joints_vis": [0 or 1] * 16}

- ``joints_vis = 1`` means the joint is **annotated** (its position is known); 0 means not annotated
  (written as ``[-1, -1]``). The file does not say whether an annotated joint is occluded, so annotated
  joints become ``v = 2`` and the others ``v = 0``.
- ``scale`` is the person box height / 200. The instance box follows the HRNet recipe: centre moved down
  by ``15 * scale`` pixels, side ``200 * scale``; the top-down crop then pads it 1.25x, which gives HRNet's
  crop exactly. ``Instance.center`` / ``Instance.scale`` keep the file's own (0-based) centre and scale.
  A centre ``[-1, -1]`` (HRNet's "no position") gives the joints' extent as the box instead.
- Head size for PCKh (``extra["head_size"]``, ``extra["head_size_source"]``), in order of preference:
  the ``headboxes`` option (the ``headboxes_src`` array of ``mpii_gt_val.mat``, whose columns follow the JSON's
  record order, as mmpose uses it; source ``headboxes``: given, it overrides the records' own); a ``headbox``
  ``[x1, y1, x2, y2]`` (source ``headbox``) or ``head_size`` field of the record (``record``); otherwise the
  documented fall-back (not the official normalisation) ``0.6 * sqrt(2) * ||head_top - upper_neck||``
  (``head_segment``): the SC_BIAS of the official code times the diagonal of a square head box whose side is the
  head segment. The official head size is ``0.6 * ||(x2, y2) - (x1, y1)||`` of the head
  box (``SC_BIAS = 0.6`` in ``util_get_head_size.m`` and in the HRNet/mmpose ports).

The official ``.mat`` is read by :mod:`.mpii_mat`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from ..headsize import SC_BIAS, head_size_from_box  # noqa: F401 - also re-exported
from ..jsonio import load_json
from ..records import Instance
from ..spec import KeypointSpec
from . import Collector, ReadResult, finite_number, printable, spec_by_name
from .checks import number_array
from .image_header import ImageHeaders, within_bound
from .mpii_heads import head_extra, load_headboxes, record_head_size  # noqa: F401 - load_headboxes re-exported
from .pts import extent_box, image_ids


def mpii_box(center: np.ndarray, scale: float) -> np.ndarray:
    """``[x, y, w, h]`` of an MPII person: side ``200 * scale`` around ``center + (0, 15 * scale)`` (HRNet),
    placed so that :func:`~adaanchor.data.transforms.box_to_center_scale` gives back that centre."""
    side = 200.0 * scale
    cx, cy = float(center[0]), float(center[1]) + 15.0 * scale
    return np.array([cx - (side - 1) / 2.0, cy - (side - 1) / 2.0, side, side], dtype=np.float64)


def _record_box(path: Path, r: Any) -> tuple[np.ndarray, float]:
    """``center (2,)`` and ``scale`` of one JSON record, checked (the record itself and its image name first);
    a bad field raises :class:`DataError` (the reader records it and moves on)."""
    if not isinstance(r, dict):
        raise DataError(path, "a record must be an object")
    img = r.get("image")
    if not isinstance(img, str) or not img:
        raise DataError(path, "expected an image file name", field="image")
    center = number_array(r.get("center"), (2,))
    if center is None:
        raise DataError(path, "expected [x, y]", field="center")
    scale = finite_number(r.get("scale"))
    if not np.all(np.isfinite(center)):
        raise DataError(path, f"non-finite centre {center.tolist()}", field="center")
    if scale is None or scale <= 0 or not math.isfinite(200.0 * scale * 200.0 * scale):
        raise DataError(path, f"scale (box height / 200) must be a positive number, got {r.get('scale')!r}: the box "
                        "has no area", field="scale")
    return center, float(scale)


def _record_joints(path: Path, r: dict, spec: KeypointSpec, off: float) -> tuple[np.ndarray, np.ndarray]:
    """``xy (K, 2)`` (0-based, 0 where unlabelled) and ``vis (K,)`` in {0, 2} of one record; no ``joints``: all
    unlabelled (``test.json``)."""
    k = spec.num_keypoints
    if r.get("joints") is None:
        return np.zeros((k, 2)), np.zeros(k, dtype=np.int64)
    joints, jv = r.get("joints"), r.get("joints_vis")
    if not isinstance(joints, list) or len(joints) != k:
        n = len(joints) if isinstance(joints, list) else type(joints).__name__
        raise DataError(path, f"expected {k} joints (spec '{spec.name}'), got {n}", field="joints")
    if not isinstance(jv, list) or len(jv) != k:
        n = len(jv) if isinstance(jv, list) else type(jv).__name__
        raise DataError(path, f"expected {k} flags, got {n}", field="joints_vis")
    xy, flags = number_array(joints, (k, 2)), number_array(jv, (k,))
    if xy is None or flags is None:
        raise DataError(path, "joints must be [x, y] number pairs and joints_vis numbers", field="joints")
    if not np.all(np.isin(flags, (0, 1, 2))):
        raise DataError(path, f"flags must be 0 or 1, got {sorted(set(flags.tolist()) - {0, 1, 2})}",
                        field="joints_vis")
    vis = np.where(flags > 0, 2, 0).astype(np.int64)
    if not np.all(np.isfinite(xy[vis > 0])):
        bad = int(np.flatnonzero((vis > 0) & ~np.isfinite(xy).all(1))[0])
        raise DataError(path, f"non-finite coordinate of joint {bad} ({spec.keypoints[bad]})", field="joints")
    return np.where(vis[:, None] > 0, xy - off, 0.0), vis


@spec_by_name
def read_mpii(
    path: str | Path,
    spec: KeypointSpec,
    images_dir: str | Path | None = None,
    skip_invalid: bool = False,
    headboxes: Any = None,
    one_based: bool = True,
    require_labelled: bool = True,
    **_: object,
) -> ReadResult:
    """Read the MPII JSON (see the module docstring).

    Args:
        path: the JSON list.
        spec: keypoint set (16 MPII joints).
        images_dir: folder the ``image`` names are relative to; default: the JSON's folder.
        skip_invalid: skip (and report) bad records instead of raising.
        headboxes: ``mpii_gt_val.mat``-style file (or ``(N, 2, 2)`` array) of head boxes, one per record in
            file order (1-based like the JSON; only their diagonal is used).
        one_based: subtract 1 from coordinates (the file is 1-based).
        require_labelled: leave out (and report) records without an annotated joint (``test.json``).

    Returns:
        One instance per record, ``ann_id`` = the record's index in the file; ``image_id`` = the number in
        the image name (MPII names are 9 digits).
    """
    path = Path(path)
    data = load_json(path)
    if not isinstance(data, list):
        raise DataError(path, "expected a JSON list of {image, center, scale, joints, joints_vis} records")
    hbs = _headboxes_for(path, headboxes, len(data))
    col = Collector(str(path), skip_invalid)
    left_out: list[DataError] = []
    base = Path(images_dir) if images_dir is not None else path.parent
    off = 1.0 if one_based else 0.0
    good: list[tuple[int, str, np.ndarray, np.ndarray, np.ndarray | None, float | None, np.ndarray, dict]] = []
    headers = ImageHeaders()
    for i, r in enumerate(data):
        img = r.get("image") if isinstance(r, dict) else None
        rec = f"{i}" + (f" ({printable(img)})" if isinstance(img, str) else "")
        person = _json_person(path, r, rec, spec, off, None if hbs is None else hbs[i], require_labelled, col,
                              left_out)
        if person is not None and within_bound(col, str(base / img), person[0], person[1] > 0, spec.keypoints,
                                               headers, rec, "joints"):
            good.append((i, img, *person))
    ids = image_ids(g[1] for g in good)
    out = []
    for i, img, xy, vis, c, s, box, extra in good:
        out.append(Instance(str(base / img), ids[img], i, xy, vis, box, float(box[2] * box[3]), center=c, scale=s,
                            extra=extra))
    res = col.result(out)
    res.skipped.extend(left_out)
    return res


def _headboxes_for(path: Path, headboxes: Any, n: int) -> np.ndarray | None:
    """The ``headboxes`` option as ``(n, 2, 2)`` (:func:`load_headboxes`), one per record; None without it."""
    if headboxes is None:
        return None
    hbs = load_headboxes(headboxes)
    if len(hbs) != n:
        raise DataError(headboxes if isinstance(headboxes, (str, Path)) else "<head boxes>",
                        f"{len(hbs)} head boxes for the {n} records of {path}", field="headboxes_src")
    return hbs


def _json_person(path: Path, r: Any, rec: str, spec: KeypointSpec, off: float, headbox: np.ndarray | None,
                 require_labelled: bool, col: Collector, left_out: list[DataError]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, float | None, np.ndarray, dict] | None:
    """``xy (K, 2)``, ``vis (K,)``, centre ``(2,)`` and scale (None without a position), box ``[x, y, w, h]`` and
    ``extra`` of one JSON record ``r``; None after a failure recorded in ``col`` or a record left out (in
    ``left_out``). ``headbox``: its ``(2, 2)`` box of the ``headboxes`` option, used in place of the record's own."""
    try:
        center, scale = _record_box(path, r)
        xy, vis = _record_joints(path, r, spec, off)
    except DataError as e:
        col.fail(e.reason, record=rec, field=e.field)
        return None
    rec_box, rec_size = r.get("headbox"), r.get("head_size")
    if headbox is not None:  # given for the evaluation (--headboxes): it overrides the record's own head
        rec_box, rec_size = headbox.reshape(4), None
    head = record_head_size(col, rec, xy, vis, spec, rec_box, rec_size if rec_box is None else None, scale)
    if head is None:
        return None
    if headbox is not None:
        head = (head[0], "headboxes", head[2])
    if require_labelled and not (vis > 0).any():
        left_out.append(DataError(path, "no annotated joint", record=rec, field="joints_vis"))
        return None
    extra = head_extra(head, off)
    if center[0] == -1:  # HRNet's marker of a person without a position: box from the joints
        box = extent_box(xy, vis)
        if box is None:
            col.fail("centre is [-1, ...] (no position) and no joint is annotated", record=rec, field="center")
            return None
        return xy, vis, None, None, box, extra
    return xy, vis, center - off, scale, mpii_box(center - off, scale), extra
