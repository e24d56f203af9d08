"""The ground truth the evaluation's OKS AP scores against: which file (:func:`ap_ground_truth_file`), checked as
the scorer reads it before a training's first step and in ``adaanchor data stats`` (:func:`check_ap_ground_truth`),
less the records the reader skipped (:func:`kept_ground_truth`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def ap_ground_truth_file(cfg: Any, spec: Any = None, split: str = "val") -> Path | None:
    """The annotation file the evaluation scores OKS AP against: the ``split`` file (val; an evaluation of another
    split's dataset, its own) of a COCO-format set (CrowdPose, the generated benchmarks) whose spec (``spec``, else
    the data section's) has OKS sigmas, evaluated whole; else None."""
    from ..data.build import annotation_path, data_spec
    from ..data.paths import GENERATED_FORMATS

    fmt = str(cfg.data.format)
    if fmt not in ("coco", "crowdpose", *GENERATED_FORMATS) or cfg.eval.max_images is not None or cfg.data.get("csv"):
        return None
    return annotation_path(cfg.data, split) if (spec or data_spec(cfg.data)).sigmas is not None else None


def check_ap_ground_truth(cfg: Any, val: Any = None, kept: bool | None = None) -> None:
    """Before training (and in ``adaanchor data stats``): the ground truth that every evaluation will score AP
    against passes the scorer's checks (:func:`adaanchor.metrics.results.load_coco_gt`, the areas, the counts of
    keypoints), less the records the reader skipped from the val instances ``val`` (:func:`kept_ground_truth`; with
    ``kept`` None when ``data.skip_invalid`` says so, ``adaanchor data stats`` always: it lists the skips). The reader
    takes a val file that the scorer refuses (a NaN or zero ``area`` falls back to the box there, ``num_keypoints``
    is not read), which otherwise stopped the run at its first evaluation, after the training."""
    path = ap_ground_truth_file(cfg)
    if path is not None and path.is_file():
        from ..metrics.gt_checks import check_gt_areas_given, check_num_keypoints, gt_num_keypoints
        from ..metrics.results import load_coco_gt

        crowdpose = str(cfg.data.format) == "crowdpose"
        data, name = load_coco_gt(kept_ground_truth(cfg, path, val, kept), name=str(path))
        gt_num_keypoints(data, name)  # every person of one keypoint count
        check_num_keypoints(data, name, visible_only=crowdpose)
        if not crowdpose:  # CrowdPose AP scales by the box (use_area=False): no area needed
            check_gt_areas_given(data, name)


def kept_ground_truth(cfg: Any, path: Path, instances: Any, kept: bool | None = None) -> str | dict:
    """The AP ground truth of the val file ``path``: the path itself, or with ``data.skip_invalid`` (``kept``, when
    given, in its place) and the val ``instances`` given, the file less the people the reader skipped
    (:func:`adaanchor.metrics.results.gt_of_kept`)."""
    if not (cfg.data.get("skip_invalid") if kept is None else kept) or instances is None:
        return str(path)
    from ..data.jsonio import load_json
    from ..metrics.gt_subsets import gt_of_kept

    data = load_json(path)
    if not isinstance(data, dict):
        return str(path)  # not COCO-style: the scorer names what is wrong with it
    return gt_of_kept(data, (i.ann_id for i in instances))


def dataset_people(ds: Any) -> list[Any] | None:
    """The instances of a top-down dataset (``instances``) or of a whole-image one (``images``, a group per image);
    None for anything else."""
    if hasattr(ds, "instances"):
        return list(ds.instances)
    if hasattr(ds, "images"):
        return [inst for group in ds.images for inst in group]
    return None
