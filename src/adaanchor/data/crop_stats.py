"""What the benchmark options of a top-down config do to its val split, for ``adaanchor data stats``.

``data.truncation`` (crops shifted off the instance) and ``data.occlusion`` (occluders pasted on it) are seeded
per sample on the evaluation split, so what they hide is the same for every model and can be counted before any
training: the crops' affines give the keypoints cut off, the compositor the keypoints it covers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from tqdm import tqdm

from ..errors import DataError
from .readers import ReadResult


def crop_option_stats(cfg: Mapping[str, Any], res: ReadResult) -> dict[str, Any]:
    """``{"truncation": ..., "occlusion": ...}`` for the options of the ``data`` section ``cfg`` (a plain dict with
    every key) that are on; ``res``: the val split as read. Each entry has the options' ``train`` and ``val``
    settings and, when the val split is changed, ``val_counts`` (or ``error`` when an image could not be read)."""
    out: dict[str, Any] = {}
    tr = cfg.get("truncation") or {}
    if float(tr.get("train") or 0) > 0 or float(tr.get("val") or 0) > 0:
        out["truncation"] = _truncation(cfg, res)
    occ = cfg.get("occlusion") or {}
    if occ.get("train") or occ.get("val"):
        out["occlusion"] = _occlusion(cfg, res)
    return out


def _truncation(cfg: Mapping[str, Any], res: ReadResult) -> dict[str, Any]:
    from .build import _exif_mode, bit_depth_of, data_spec
    from .dataset import TopDownDataset
    from .truncation import TRUNCATION_DEFAULTS, Truncation, cut_off_counts

    tr = {**TRUNCATION_DEFAULTS, **(cfg.get("truncation") or {})}
    out: dict[str, Any] = {"train": float(tr["train"]), "val": float(tr["val"]), "shift": float(tr["shift"])}
    shifts = Truncation.from_config(tr, train=False)
    if shifts is None:  # only the training crops move: nothing on val to count
        return out
    ds = TopDownDataset(res.instances, data_spec(cfg), cfg["input_size"], crop=str(cfg["crop"]), train=False,
                        exif=_exif_mode(cfg), truncation=shifts, bit_depth=bit_depth_of(cfg))
    try:
        out["val_counts"] = cut_off_counts(ds)
    except DataError as e:  # data.crop=image reads each image's size; a missing one is listed above already
        out["error"] = str(e)
    return out


def _occlusion(cfg: Mapping[str, Any], res: ReadResult) -> dict[str, Any]:
    """The val split's seeded occluders, as :func:`~adaanchor.data.build.build_dataset` builds them, applied to
    each instance with its dataset index: the visible keypoints they cover (``v = 2`` -> 1)."""
    from .build import _exif_mode, bit_depth_of, build_occluder
    from .dataset import DatasetImages

    occ = cfg.get("occlusion") or {}
    out: dict[str, Any] = {"train": bool(occ.get("train")), "val": bool(occ.get("val")),
                           "coverage": float(occ.get("coverage", 0.0))}
    if not occ.get("val") or not res.instances:
        return out
    occluder = build_occluder(occ, [i.image_path for i in res.instances], seeded=True, bit_depth=bit_depth_of(cfg))
    images = DatasetImages(exif=_exif_mode(cfg), bit_depth=bit_depth_of(cfg))
    c = {"instances": len(res.instances), "occluded_instances": 0, "hidden": 0, "visible": 0, "unread": 0}
    for idx, inst in enumerate(tqdm(res.instances, desc="occluders", leave=False, disable=len(res.instances) < 200)):
        try:
            img = images(inst.image_path)
        except DataError:  # listed in the table's missing images
            c["unread"] += 1
            continue
        vis = inst.visibility.astype(np.int64)
        _, _, after = occluder(img, inst.keypoints.astype(np.float64), vis, inst.bbox, idx)
        hidden = (vis == 2) & (np.asarray(after) == 1)
        c["visible"] += int((vis == 2).sum())
        c["hidden"] += int(hidden.sum())
        c["occluded_instances"] += int(hidden.any())
    out["val_counts"] = c
    return out


def crop_option_lines(d: Mapping[str, Any]) -> list[str]:
    """The lines of :func:`crop_option_stats`' entries in :func:`~adaanchor.data.stats.dataset_stats`' dict."""
    lines = []
    if "truncation" in d:
        lines += ["", truncation_line(d["truncation"])]
    if "occlusion" in d:
        lines += ["", occlusion_line(d["occlusion"])]
    return lines


def truncation_line(t: Mapping[str, Any]) -> str:
    """One line of a ``truncation`` entry."""
    train = (f"train crops shifted with probability {t['train']:g}, drawn anew every epoch" if t["train"] > 0
             else "train crops not shifted")
    val = f"val with probability {t['val']:g}, the same crops for every model" if t["val"] > 0 else "val crops not shifted"
    line = f"data.truncation (shift {t['shift']:g}): {train}; {val}"
    c = t.get("val_counts")
    if t.get("error"):
        return line + f" (not counted: {t['error']})"
    if not c:
        return line
    share = c["cut"] / c["labelled"] if c["labelled"] else 0.0
    per = c["cut"] / c["cut_instances"] if c["cut_instances"] else 0.0
    return (line + f": {c['shifted']} of {c['instances']} val crops shifted, {c['cut_instances']} instances "
            f"({100 * c['cut_instances'] / max(c['instances'], 1):.1f}%) lose keypoints to the input's edge, "
            f"{c['cut']} of {c['labelled']} labelled keypoints ({100 * share:.1f}%), {per:.1f} per such instance")


def occlusion_line(o: Mapping[str, Any]) -> str:
    """One line of an ``occlusion`` entry."""
    train = "train: random occluders every epoch" if o["train"] else "train: no occluders"
    line = f"data.occlusion (coverage {o['coverage']:g}): {train}; val: " + (
        "seeded occluders, the same for every model" if o["val"] else "no occluders")
    c = o.get("val_counts")
    if not c:
        return line
    read = c["instances"] - c["unread"]
    share = c["hidden"] / c["visible"] if c["visible"] else 0.0
    line += (f": {c['occluded_instances']} of {read} val instances lose visible keypoints to the occluders, "
             f"{c['hidden']} of {c['visible']} visible keypoints ({100 * share:.1f}%) become occluded (v = 1)")
    return line + (f"; {c['unread']} images not read" if c["unread"] else "")


__all__ = ["crop_option_stats", "crop_option_lines", "truncation_line", "occlusion_line"]
