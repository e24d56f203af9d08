"""How the local offsets (eq. 12's refinement) are supervised: at the cells within ``strategy.local_radius`` cells
of each labelled target, pointing to the nearest target of the type, and about which point those cells are counted.

``strategy.local_about``: ``clamped`` counts them about the target clamped onto the rectangle of the outer cell
centres, where :func:`adaanchor.coords.refine_points` reads the map for a point beyond it (a target more than the
radius off the map has no supervised cell otherwise, and its refined point stops at the map's edge); ``target``
about the target itself (the former supervision); ``auto``, the default, picks by task (:func:`local_about_for`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from .assign_targets import cell_distances2, clamp_to_map, point_offsets, take_instance, window_close
from .base import PointTarget

LOCAL_ABOUT = ("auto", "clamped", "target")


def local_about_for(value: str, multi_person: bool) -> str:
    """``strategy.local_about`` as trained: ``auto`` is ``clamped`` for one person and ``target`` for the
    multi-person tasks. On crowd figures (several people of one type near the border), the clamped supervision
    brought the keypoints more than ``local_radius`` cells off the map closer but those inside it near the edge
    farther, and cost AP (docs/results.md); with one person a type's map has no other target to disturb."""
    if value not in LOCAL_ABOUT:
        raise ValueError(f"local_about must be one of {LOCAL_ABOUT}, got {value!r}")
    if value != "auto":
        return value
    return "target" if multi_person else "clamped"


def multi_person_section(section: Mapping[str, Any]) -> dict[str, Any]:
    """The ``strategy`` section a multi-person task builds its dense strategy from: ``local_about`` resolved for
    several people (:func:`local_about_for`)."""
    return {**section, "local_about": local_about_for(str(section.get("local_about", "auto")), multi_person=True)}


def local_targets(gt: Tensor, valid: Tensor, cell_d2: Tensor | None, h: int, w: int, stride: int, radius: float,
                  about: str) -> PointTarget:
    """Local offsets at the cells within ``radius`` cells of a labelled target of ``gt (B, K, N, 2)`` (``valid
    (B, K, N)``), counted about the target clamped onto the map (``about="clamped"``) or about the target itself
    (``"target"``), pointing to the nearest such target. One instance: the cells of a window around it
    (:func:`~.assign_targets.window_close`); else every cell's distance, ``cell_d2 (B, K, N, hw)`` when it is the
    one needed (about the targets themselves), computed otherwise."""
    lim = (radius * stride) ** 2
    centre = clamp_to_map(gt, h, w, stride) if about == "clamped" else gt
    win = window_close(centre, valid, radius, h, w, stride) if gt.shape[2] == 1 else None
    if win is not None:
        return point_offsets(gt, None, None, h, w, stride, cells=win[0], cells_ok=win[1])
    if centre is not gt or cell_d2 is None:
        cell_d2 = cell_distances2(centre, h, w, stride)
    d_loc = cell_d2.masked_fill(~valid.unsqueeze(-1), float("inf"))
    near = None if d_loc.shape[2] == 1 else d_loc.min(dim=2, keepdim=True).indices  # argmin: 10x slower here
    return point_offsets(gt, take_instance(d_loc, near) <= lim, near, h, w, stride)


__all__ = ["LOCAL_ABOUT", "local_about_for", "local_targets", "multi_person_section"]
