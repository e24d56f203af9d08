"""Checks of COCO-format ground truth before pycocotools scores against it: what would make it give wrong
numbers without a word (duplicate ids, one image file under two ids, in any spelling: ``./a.png`` is ``a.png``,
numbers given as strings or booleans, boxes outside their image, labelled keypoints more than one image width or
height beyond its edge, an ``area`` that is not a positive finite number, an ``iscrowd`` other than 0 / 1, a
``num_keypoints`` that disagrees with the keypoints (:func:`check_num_keypoints`), a ``category_id`` missing from
``categories``, an image size that is not a positive number).
Each raises :class:`~adaanchor.errors.DataError` naming the file, the record and the field."""

from __future__ import annotations

import math
from typing import Any

from adaanchor.data.readers import finite_number, printable
from adaanchor.data.readers.checks import (
    box_outside_image,
    duplicates,
    far_keypoint,
    file_key,
    ids_text,
    image_size,
    listed_twice,
    non_number_message,
)
from adaanchor.errors import DataError


def check_gt_annotation(ann: Any, i: int, name: str) -> None:
    """One ground-truth annotation: ids, keypoints as numbers ``[x, y, v] * K``, a finite box."""
    kp = ann.get("keypoints") if isinstance(ann, dict) else None
    rec = ann_record(ann, i)
    if not isinstance(kp, list) or len(kp) % 3:
        raise DataError(name, "expected a flat list [x, y, v] * K", record=rec, field="keypoints")
    why = non_number_message(kp)
    if why is not None:
        raise DataError(name, why, record=rec, field="keypoints")
    if any(v not in (0, 1, 2) for v in kp[2::3]):
        raise DataError(name, "visibility flags must be 0, 1 or 2", record=rec, field="keypoints")
    if not all(is_finite_number(x) for j, x in enumerate(kp) if j % 3 < 2 and kp[j - j % 3 + 2] > 0):
        raise DataError(name, "non-finite coordinate of a labelled keypoint", record=rec, field="keypoints")
    for f in ("id", "image_id", "category_id"):  # what pycocotools indexes the annotations by
        if not is_id(ann.get(f)):
            raise DataError(name, f"expected an integer id, got {ann.get(f)!r}", record=rec, field=f)
    box = ann.get("bbox")
    if not isinstance(box, list) or len(box) != 4 or not all(is_finite_number(v) for v in box):
        raise DataError(name, "expected [x, y, w, h] numbers", record=rec, field="bbox")
    _check_gt_area_iscrowd(ann, ann_record(ann, i), name)
    nk = ann.get("num_keypoints")
    if nk is not None and not _is_count(nk):
        raise DataError(name, f"expected a count of keypoints (an integer >= 0), got {nk!r}", record=ann_record(ann, i),
                        field="num_keypoints")


def check_num_keypoints(data: dict, name: str, visible_only: bool = False) -> None:
    """``num_keypoints`` of every annotation agrees with its keypoints where the AP evaluation reads it.

    COCOeval ignores a person whose ``num_keypoints`` is 0 and looks for one whose count is above 0, whatever its
    keypoints say: a labelled person with 0 was left out (one perfect prediction among shifted ones scored less),
    and a person with a count but no labelled keypoint was one to find, whose OKS falls back to the distance from its
    box (a perfect results file scored AP 0.505). ``visible_only``: the CrowdPose convention (xtcocotools'
    ``keypoints_crowd``), which counts the keypoints of ``v = 2`` only, so 0 is right for a person labelled ``v = 1``
    throughout (the official evaluation ignores that person). Other disagreements are left: Halpe's and
    CrowdPose's files count another subset of the keypoints there. A missing count is filled in by the caller."""
    for i, ann in enumerate(data["annotations"]):
        nk = ann.get("num_keypoints")
        if nk is None:
            continue
        flags = ann["keypoints"][2::3]
        labelled = sum(1 for v in flags if v > 0)
        counted = sum(1 for v in flags if v == 2) if visible_only else labelled
        if nk == 0 and counted:
            what = f"{counted} keypoints are labelled" + (" visible (v = 2)" if visible_only else "")
            raise DataError(name, f"0, but {what}: the evaluation would ignore this person",
                            record=ann_record(ann, i), field="num_keypoints")
        if nk > 0 and not labelled:
            raise DataError(name, f"{nk}, but no keypoint is labelled: the evaluation would count this person as one "
                            "to find (its OKS then measures the distance from its box)", record=ann_record(ann, i),
                            field="num_keypoints")


#: COCOeval's largest area range ends at 1e5 ** 2 px: an annotation with a larger area is ignored in every range.
MAX_AREA = 1e5**2


#: The key under which :func:`adaanchor.metrics.results.gt_of_kept` keeps an annotation's index in its file, so that
#: the checks of the people left name the record the file has (COCOeval ignores keys it does not know).
FILE_INDEX = "_index_in_file"


def ann_record(ann: Any, i: int) -> str:
    """``annotations[i] id=ID``: how a message names a ground-truth annotation (the id escaped: one line); ``i`` is
    its index in the file (:data:`FILE_INDEX` where a copy left people out)."""
    if not isinstance(ann, dict):
        return f"annotations[{i}]"
    return f"annotations[{ann.get(FILE_INDEX, i)}]" + (f" id={printable(ann['id'])}" if "id" in ann else "")


def check_gt_areas_given(data: dict, name: str) -> None:
    """Every annotation gives its ``area``, the OKS scale of COCO keypoint AP (with ``use_area=True``). The message
    says what to do from the command line too, where ``use_area`` is no option: a file without areas was trained on
    and then stopped at its first evaluation, advised to pass a Python argument."""
    for i, a in enumerate(data["annotations"]):
        if "area" not in a:
            raise DataError(name, "missing: OKS AP scales each person by its area; add 'area' to every annotation "
                            "(COCO's is the segmentation area; 0.53 * w * h of the box is the usual stand-in), or "
                            "score in Python with use_area=False", record=ann_record(a, i), field="area")


def check_gt_boxes_as_scale(data: dict, name: str) -> None:
    """Every annotation's box has a positive width and height, where the box is the OKS scale (CrowdPose AP, COCO AP
    with ``use_area=False``: ``s^2 = 0.53 * w * h``). A negative scale makes every OKS above 1 and the person falls
    out of every area range: predictions 40 px off scored AP 1.0, the person silently left out; a zero one turns OKS
    into a test of exact equality."""
    for i, a in enumerate(data["annotations"]):
        w, h = a["bbox"][2], a["bbox"][3]
        if not (w > 0 and h > 0):
            raise DataError(name, f"box {a['bbox']} has no positive width and height: the box is the OKS scale here "
                            "(0.53 * w * h)", record=ann_record(a, i), field="bbox")


def check_crowd_index(data: dict, name: str) -> None:
    """Every image has a ``crowdIndex`` that is a finite number >= 0 (not a bool). xtcocotools puts a NaN one into
    the hard split while it fails every comparison (the split was then reported as empty) and reads ``true`` as 1.
    There is no upper bound: the index averages, over an image's people, the other people's keypoints inside a
    person's box over the person's own, which exceeds 1 in a dense crowd (the built-in crowd benchmarks draw it up to
    1.5; CrowdPose's own images stay under 1)."""
    for i, img in enumerate(data["images"]):
        ci = img.get("crowdIndex")
        if not (is_finite_number(ci) and ci >= 0):
            raise DataError(name, "expected a finite number >= 0 (the CrowdPose crowd index), got "
                            f"{'nothing' if 'crowdIndex' not in img else repr(ci)}",
                            record=f"images[{i}] id={printable(img['id'])}", field="crowdIndex")


def _check_gt_area_iscrowd(ann: dict, rec: str, name: str) -> None:
    """``area`` (when given; missing is decided by the caller) and ``iscrowd`` (missing means 0, COCO's default
    for a person), as COCOeval uses them."""
    why = _area_problem(ann["area"]) if "area" in ann else None
    if why is not None:
        raise DataError(name, why, record=rec, field="area")
    crowd = ann.get("iscrowd", 0)
    if isinstance(crowd, str) or crowd not in (0, 1):  # true / false pass: COCOeval reads int(iscrowd)
        raise DataError(name, f"expected 0 or 1, got {crowd!r}", record=rec, field="iscrowd")


def _area_problem(area: Any) -> str | None:
    """Why ``area`` is not a usable OKS scale, or None.

    pycocotools divides the squared distances by the area and places the annotation in an area range by it: a
    NaN area makes every OKS NaN, which its matching counts as a match (predictions 30 px off scored AP 1.0); a
    negative or too large one (infinity included) leaves the annotation outside every range (AP -1, "no ground
    truth"); 0 makes OKS a test of exact equality (any error, however small, gives OKS 0); a string or null
    fails inside it with a TypeError.
    """
    if not (is_finite_number(area) and area > 0):
        reason = ": OKS divides by the area" if is_finite_number(area) and area == 0 else ""
        return f"expected a positive finite number (the object's area in px^2, the OKS scale), got {area!r}{reason}"
    if area > MAX_AREA:
        return f"area {area!r} is beyond COCOeval's largest area range (1e10 px^2): the annotation would be ignored"
    return None


def check_gt_image(img: dict, i: int, name: str) -> None:
    """``width`` / ``height``, when given, are positive numbers: they decide whether a box lies outside its image
    (:func:`check_gt_ids`), and a string or a negative size would silently turn that check off. ``file_name``, when
    given, is a string: results name their image by it (``adaanchor predict`` writes it), and a number or
    a list there turned that check, and the duplicate-file check, off without a word."""
    for key in ("width", "height"):
        if key in img and not (is_finite_number(img[key]) and img[key] > 0):
            raise DataError(name, f"expected a positive number of pixels, got {img[key]!r}",
                            record=f"images[{i}] id={printable(img['id'])}", field=key)
    fn = img.get("file_name")
    if fn is not None and not isinstance(fn, str):
        raise DataError(name, f"expected the image's file name as a string, got {fn!r}",
                        record=f"images[{i}] id={printable(img['id'])}", field="file_name")


def check_gt_ids(data: dict, name: str) -> None:
    """No id twice (pycocotools keeps the last one in its index, the evaluation then goes wrong without a
    word), no image file twice (in any spelling); every annotation on a listed image, its box overlapping the image
    and its labelled keypoints within one image width or height of it when the size is given."""
    for key in ("images", "annotations", "categories"):
        for i, j in duplicates([r["id"] for r in data[key]]):
            raise DataError(name, f"duplicate id {data[key][i]['id']!r} (also {key}[{j}])", record=f"{key}[{i}]",
                            field="id")
    # One file in two spellings (a.png, ./a.png) is listed twice too: compared as normalised paths.
    files = [file_key(fn) if isinstance(fn := img.get("file_name"), str) else object() for img in data["images"]]
    for i, j in duplicates(files):
        raise DataError(name, listed_twice(data["images"][i]["file_name"], j, data["images"][j]["file_name"]),
                        record=f"images[{i}]", field="file_name")
    images = {img["id"]: img for img in data["images"]}
    categories = [c["id"] for c in data["categories"]]
    known = set(categories)
    kp_names = {c["id"]: c["keypoints"] for c in data["categories"]  # to name a keypoint in a message
                if isinstance(c.get("keypoints"), list) and all(isinstance(n, str) for n in c["keypoints"])}
    for i, ann in enumerate(data["annotations"]):
        img = images.get(ann["image_id"])
        if img is None:
            raise DataError(name, f"image_id {ann['image_id']!r} is not among the images", record=ann_record(ann, i),
                            field="image_id")
        if ann["category_id"] not in known:  # COCOeval evaluates the listed categories only: dropped silently
            raise DataError(name, f"category_id {ann['category_id']!r} is not among the categories "
                            f"({ids_text(categories)}): COCOeval would leave the annotation out",
                            record=ann_record(ann, i), field="category_id")
        size = image_size(img)
        if size is not None and box_outside_image(ann["bbox"], size):
            raise DataError(name, f"box {ann['bbox']} lies outside the {size[0]:g}x{size[1]:g} image",
                            record=ann_record(ann, i), field="bbox")
        far = _far_keypoint(ann["keypoints"], size, kp_names.get(ann["category_id"])) if size is not None else None
        if far is not None:
            raise DataError(name, far, record=ann_record(ann, i), field="keypoints")


def _far_keypoint(kp: list, size: tuple[float, float], names: list[str] | None) -> str | None:
    """:func:`~adaanchor.data.readers.checks.far_keypoint` of a flat ``[x, y, v] * K`` list (checked by
    :func:`check_gt_annotation`: the labelled points are finite numbers, the others any number); ``names``: the
    keypoint names of its category, when it lists them."""
    labelled = [v > 0 for v in kp[2::3]]
    xy = [(float(kp[j]), float(kp[j + 1])) if lab else (0.0, 0.0) for j, lab in zip(range(0, len(kp), 3), labelled)]
    return far_keypoint(xy, labelled, [size], names if names and len(names) == len(labelled) else ())


def is_finite_number(v: Any) -> bool:
    """A finite JSON number (not a bool): the readers' :func:`~adaanchor.data.readers.finite_number` test."""
    return finite_number(v) is not None


def all_finite(numbers: list[Any]) -> bool:
    """:func:`is_finite_number` of every element of a list that holds JSON numbers only (no bool: checked before, by
    :func:`~adaanchor.data.readers.checks.non_number_message`), at C speed: a results list has one test per
    coordinate and score (reading 3600 poses took 30 ms with a call each, 8 ms so). An int too large for a float
    fails both tests (``math.isfinite`` raises OverflowError)."""
    try:
        return all(map(math.isfinite, numbers))
    except OverflowError:
        return False


def _is_count(v: Any) -> bool:
    """A whole number >= 0 given as a JSON number (``5.0`` is one; not a bool, a string or NaN)."""
    return (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
            and v == int(v))


def is_id(v: Any) -> bool:
    """An id that COCO tools can use as a key: an int (not a bool) or a string."""
    return isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool))


def gt_num_keypoints(data: dict, name: str) -> int:
    """Number of keypoints ``K`` of a COCO-style ground truth (all annotations must agree).

    No annotation at all is an error: COCOeval would report every AP and AR as -1 ("no ground truth in this
    range"), which says nothing about the results; an empty file is a wrong file or a wrong split."""
    if not data["annotations"]:
        raise DataError(name, "no annotations: there is no ground truth to score against", field="annotations")
    ks = {len(a["keypoints"]) // 3 for a in data["annotations"]}
    if len(ks) != 1:
        raise DataError(name, f"annotations have different numbers of keypoints {sorted(ks)}", field="keypoints")
    return ks.pop()
