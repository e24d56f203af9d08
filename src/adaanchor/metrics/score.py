"""Score a COCO-style results file against a dataset's ground truth with its official metric
(``adaanchor score GT_FILE RESULTS_FILE --metric coco|crowdpose|pckh|nme``).

RESULTS_FILE is always the COCO keypoint results format: a JSON list of ``{"image_id", "category_id",
"keypoints": [x, y, s] * K, "score"}`` in original-image pixels (docs/conventions.md), optionally with
``"ann_id"``.

- ``coco``: pycocotools ``COCOeval`` (OKS; sigmas from the spec, COCO-17 by default).
- ``crowdpose``: xtcocotools ``COCOeval(..., 'keypoints_crowd')`` with the easy / medium / hard split.
- ``pckh`` and ``nme`` score one prediction per ground-truth instance. Results are matched to the instances
  read from GT_FILE **by** ``ann_id`` when the results carry it (every record must then have one; it is the
  annotation ``id`` of COCO-style files and the record / line / file index of the other formats, as the
  readers assign it and as the evaluation writes it); otherwise **by** ``image_id``, which requires exactly
  one ground-truth instance and at most one result per image. A ground-truth instance without a prediction
  is an error (the official protocols score every instance); results that match no instance are counted
  in ``unmatched_results``.

GT_FILE may be in any supported format (``fmt``, default inferred from the metric and the file: ``.mat`` ->
``mpii_mat``, ``.json`` -> ``mpii`` for PCKh and COCO-style for NME, ``.txt`` -> ``wflw_txt``, ``.csv`` ->
``csv``, a folder -> ``pts``), with its keypoint ``spec`` (default from the format, or from the number of
keypoints of a COCO-style file: 98 -> ``wflw``, 68 -> ``face68``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..data.readers.checks import keypoint_order_message
from ..data.readers.formats import FORMAT_SPECS, FORMATS, check_reader_options
from ..data.spec import KeypointSpec
from ..data.spec_source import load_spec
from ..errors import AdaAnchorError, DataError, unknown_name_error
from .checked import checked_gt, checked_results
from .coco import COCO_SIGMAS, coco_keypoint_ap, crowdpose_ap, load_json, load_results, oks_sigmas
from .keypoint import check_flag
from .results import gt_num_keypoints
from .score_instances import match_results, nme_scores, pckh_scores, stack_instances  # noqa: F401 - match_results re-exported
from .score_text import format_scores  # noqa: F401  (the text of a score: adaanchor.metrics.score.format_scores)

METRICS = ("coco", "crowdpose", "pckh", "nme")
_COCO_FORMATS = ("coco", "synth", "wflw", "crowdpose")


def _infer_fmt(gt: Path, metric: str) -> str:
    if gt.is_dir():
        return "pts"
    suf = gt.suffix.lower()
    if suf == ".mat":
        return "mpii_mat"
    if suf == ".txt":
        return "wflw_txt"
    if suf == ".csv":
        return "csv"
    if suf == ".pts":
        return "pts"
    return "mpii" if metric == "pckh" else "coco"


def _infer_spec(gt: Path, fmt: str) -> KeypointSpec:
    name = FORMAT_SPECS.get(fmt)
    if name is not None:
        return load_spec(name)
    data = load_json(gt)
    anns = data.get("annotations") if isinstance(data, dict) else None
    if not isinstance(anns, list):  # "cannot tell the keypoint spec of 0-keypoint annotations" said nothing of this
        raise DataError(gt, "expected a COCO-style JSON object with an 'annotations' list"
                        + (f", got a JSON {type(data).__name__}" if not isinstance(data, dict) else ""))
    kp = anns[0].get("keypoints") if anns and isinstance(anns[0], dict) else None
    if isinstance(kp, list) and any(isinstance(v, (list, tuple)) for v in kp):
        raise DataError(gt, "keypoints given as nested lists; COCO keypoints are one flat list [x1, y1, v1, x2, y2, "
                        "v2, ...]", record="annotations[0]", field="keypoints")
    return _spec_of_count(gt, len(kp) // 3 if isinstance(kp, list) else 0)


def _spec_of_count(gt: Path, k: int) -> KeypointSpec:
    """The built-in spec of ``k`` keypoints (17 COCO, 14 CrowdPose, 16 MPII, 68 and 98 faces)."""
    by_k = {17: "coco", 14: "crowdpose", 16: "mpii", 68: "face68", 98: "wflw"}
    if k not in by_k:
        raise AdaAnchorError(f"{gt}: cannot tell the keypoint spec of {k}-keypoint annotations; give one (--spec "
                             "NAME_OR_YAML, spec= in Python): a spec YAML with their names and, for OKS AP, their "
                             "sigmas (the names in the file's categories carry no sigmas)")
    return load_spec(by_k[k])


def score(
    gt_file: str | os.PathLike,
    results_file: str | os.PathLike | list,
    metric: str,
    fmt: str | None = None,
    spec: str | os.PathLike | KeypointSpec | None = None,
    images_dir: str | os.PathLike | None = None,
    thresholds: Sequence[float] = (0.5, 0.1),
    norm: str | Sequence[Any] = "interocular",
    headboxes: Any = None,
    sigmas: Any = None,
    use_area: bool = True,
    reader_options: Mapping[str, Any] | None = None,
    verbose: bool = False,
) -> dict[str, Any]:
    """Score ``results_file`` against ``gt_file`` (see the module docstring).

    Args:
        gt_file: the ground truth (COCO-style JSON for ``coco`` / ``crowdpose``; any format for the others).
        results_file: COCO results JSON path (or an already loaded list).
        metric: ``coco``, ``crowdpose``, ``pckh`` or ``nme``.
        fmt: format of ``gt_file`` (a name of ``FORMATS``); default inferred.
        spec: keypoint spec name, YAML path or object; default inferred.
        images_dir: image folder of the ground truth (only for readers that need it to resolve names).
        thresholds: PCKh thresholds (percent values are returned for each).
        norm: NME normaliser: a name of ``spec.nme`` or a pair of keypoint indices (or index lists) in ``0..K-1``.
        headboxes: MPII head boxes (``mpii_gt_val.mat``-style file) for the MPII JSON.
        sigmas: OKS sigmas for ``coco`` (default: the spec's, else COCO-17), each in
            :data:`~adaanchor.data.spec.SIGMA_RANGE`.
        use_area: ``coco``: OKS area from the annotations (``False``: ``0.53 * w * h`` of the box); a bool.
        reader_options: extra options for the reader (e.g. ``{"one_based": False}``).
        verbose: let pycocotools / xtcocotools print their summary (a bool).

    Returns:
        A JSON-serialisable dict with ``metric`` and the numbers (see :func:`.score_text.format_scores`).
    """
    if metric not in METRICS:
        raise unknown_name_error("metric", str(metric), METRICS)
    check_flag(use_area, "use_area")  # "no" is truthy: it would silently mean True
    check_flag(verbose, "verbose")
    gt = Path(gt_file)
    if not gt.exists():
        raise DataError(gt, "ground-truth file not found")
    if fmt is not None and fmt not in FORMATS:
        raise unknown_name_error("format", str(fmt), FORMATS)
    if metric in ("coco", "crowdpose"):
        if fmt is not None and fmt not in _COCO_FORMATS:
            raise AdaAnchorError(f"metric {metric} needs a COCO-format ground truth, not format '{fmt}'")
        if gt.is_dir():  # (a folder of .pts files is NME's ground truth) it was read as a file: "file not found"
            raise DataError(gt, f"a folder, not a COCO-style ground-truth file (metric {metric})")
        # Options these metrics do not read were silently dropped: --headboxes gave the same AP as without it.
        if headboxes is not None:
            raise AdaAnchorError(f"headboxes are MPII head boxes for metric pckh; metric {metric} does not read them")
        if metric == "crowdpose" and (sigmas is not None or not use_area):
            raise AdaAnchorError("metric crowdpose scores with CrowdPose-14's sigmas and the box as the OKS scale: "
                                 "sigmas and use_area are options of metric coco")
        return _score_ap(gt, results_file, metric, spec, sigmas, use_area, verbose)

    return _score_per_instance(gt, results_file, metric, fmt, spec, images_dir, thresholds, norm, headboxes,
                               reader_options)


def _score_per_instance(gt: Path, results_file: str | os.PathLike | list, metric: str, fmt: str | None,
                        spec: str | os.PathLike | KeypointSpec | None, images_dir: str | os.PathLike | None,
                        thresholds: Sequence[float], norm: str | Sequence[Any], headboxes: Any,
                        reader_options: Mapping[str, Any] | None) -> dict[str, Any]:
    """PCKh or NME: the ground truth read with its format's reader, one prediction matched to each instance."""
    fmt = fmt or _infer_fmt(gt, metric)
    sp = load_spec(spec) if spec is not None else _infer_spec(gt, fmt)
    opts = dict(reader_options or {})
    if headboxes is not None:
        if metric != "pckh":
            raise AdaAnchorError(f"headboxes are MPII head boxes for metric pckh; metric {metric} does not read them")
        opts["headboxes"] = headboxes
    check_reader_options(fmt, opts)
    read = FORMATS[fmt](gt, sp, images_dir=images_dir, skip_invalid=False, **opts)
    insts = read.instances
    if not insts:
        raise DataError(gt, "no ground-truth instance with labelled keypoints to score")
    results, res_name = load_results(results_file, require_score=False)
    k = sp.num_keypoints
    pred, unmatched = match_results(insts, results, res_name, k)
    g, v = stack_instances(insts, k)
    if metric == "pckh":
        out = pckh_scores(gt, insts, pred, g, v, sp, thresholds)
    else:
        out = nme_scores(gt, insts, pred, g, v, sp, norm)
    return {"metric": metric, "format": fmt, "spec": sp.name, **out, "num_instances": len(insts),
            "unmatched_results": unmatched}


def _score_ap(gt: Path, results_file: Any, metric: str, spec: Any, sigmas: Any, use_area: bool,
              verbose: bool) -> dict[str, Any]:
    """OKS AP (pycocotools) or CrowdPose AP (xtcocotools) of a COCO-format ground truth. The sigmas are taken by
    position, so a file whose categories name the spec's keypoints in another order is refused (the spec given, else
    COCO-17 or CrowdPose-14, whose sigmas are the default)."""
    checked = checked_gt(gt)  # read and checked once here, for the spec, the keypoint order, the images and the AP
    data, gt_name = checked.data, checked.name
    if metric == "crowdpose":  # scored with CrowdPose-14's sigmas whatever the spec
        names_of: KeypointSpec | None = load_spec("crowdpose")
    elif spec is not None:
        names_of = load_spec(spec)
    else:  # the spec of the file's keypoint count (a 14-keypoint file is CrowdPose's); none with sigmas given
        names_of = _spec_of_count(gt, gt_num_keypoints(data, gt_name)) if sigmas is None else None
    if names_of is not None:
        order = keypoint_order_message(data["categories"], names_of.keypoints, names_of.name)
        if order is not None:
            raise DataError(gt_name, order[1], record=f"categories[{order[0]}]", field="keypoints")
    sig = None
    if metric == "coco":
        if sigmas is None and names_of is not None and names_of.sigmas is None:  # COCO-17's sigmas for another set
            raise AdaAnchorError(f"spec {names_of.name!r} has no OKS sigmas, one per keypoint, which OKS AP needs: "
                                 "give a spec YAML with a sigmas list (--spec FILE; sigmas= in Python)")
        sig = sigmas if sigmas is not None else (names_of.sigmas if names_of is not None else None)
        oks_sigmas(sig, COCO_SIGMAS)  # checked before the results are read, as the AP function checks them
    results = checked_results(results_file)  # read and checked once, for the AP and the counts below
    dets = results.data
    extra = {}  # counted before the AP: pycocotools adds fields to the records of a list read here (not copied)
    if metric == "crowdpose":  # xtcocotools leaves these out; pycocotools (coco) keeps them
        extra["results_without_keypoint_confidence"] = sum(1 for r in dets if not any(c > 0 for c in r["keypoints"][2::3]))
    missed = _images_without_results(data, dets)
    if missed:
        extra["gt_images_without_results"] = missed
    if metric == "crowdpose":
        out = crowdpose_ap(checked, results, verbose=verbose)
    else:
        out = coco_keypoint_ap(checked, results, sigmas=sig, use_area=use_area, verbose=verbose)
    return {"metric": metric, **out, "num_results": len(dets), **extra}


def _images_without_results(data: dict, dets: list[dict]) -> list[int]:
    """``[images without a result, images with someone to find]``, or ``[]`` when every such image has a result. A
    results file of part of the images (``predict`` on a few of them, ``eval eval.max_images=20``) scores their
    people as missed: AP 0.019 where the same results scored 0.19 against the ground truth of their images."""
    with_people = {a["image_id"] for a in data["annotations"]
                   if not a.get("iscrowd") and any(v > 0 for v in a["keypoints"][2::3]) and a.get("num_keypoints", 1) != 0}
    with_results = {r["image_id"] for r in dets}
    missing = len(with_people - with_results)
    return [missing, len(with_people)] if missing and with_results else []


__all__ = ["METRICS", "score"]
