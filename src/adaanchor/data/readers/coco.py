"""COCO-format keypoint annotations (COCO person keypoints, CrowdPose, the built-in benchmark, any custom set).

Each annotation becomes one :class:`~adaanchor.data.records.Instance`. Checked per record, each failure
naming the file, the record and the field: the image id exists, the keypoint count matches the spec, the
keypoints and the box are JSON numbers (not strings or booleans), the coordinates are finite, visibility is
in {0, 1, 2}, no labelled keypoint lies more than one image width or height beyond its image's edge (the image's
size as given, else as its file's header says when the file exists), the box has positive area and overlaps its image, no annotation id, image id or image
file appears twice (files compared as normalised paths: ``./a.png`` is ``a.png``; see
:mod:`adaanchor.data.readers.checks` for why), an image's ``width`` / ``height`` are positive and agree with the
image file when it exists (``check_image_size``; the header only is read; a missing size is allowed), and an
annotation's ``category_id`` is one of the file's ``categories``. For the whole
file: keypoint names that its categories share with the spec are at the spec's index (keypoints are read by
position: a file in another order would be read as the spec's without a word). ``iscrowd``
annotations and annotations without any labelled keypoint are left out of training on purpose (they carry
no target); they are counted in :attr:`ReadResult.skipped` as such, never dropped silently. A refused image
entry refuses its annotations, each counted as ``its image images[i] was refused (field)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from ..jsonio import load_json
from ..records import Instance
from ..spec import KeypointSpec
from . import Collector, ReadResult, box_ok, finite_number, float_array, is_int_id, printable, spec_by_name
from .checks import (
    box_outside_image,
    far_keypoint,
    file_key,
    ids_text,
    image_size,
    keypoint_order_message,
    listed_twice,
    non_number_message,
)
from .coco_spec import nested_triplets
from .coco_stream import StreamFailed, stream
from .image_header import ImageHeaders, displayed_frame


def _image_problem(img: dict, path: str, headers: ImageHeaders | None) -> tuple[str, str] | None:
    """``(field, reason)`` when an image entry's size is wrong (compared with its file's header when ``headers``,
    the read's), else None."""
    for key in ("width", "height"):
        if key in img and non_number_message([img[key]]) is not None:
            return key, f"expected a number, got {img[key]!r}"
        # 0, negative or non-finite: no image has that size, and the checks below would skip it quietly.
        # A missing width / height is allowed: the size is the image file's when it is loaded.
        size = finite_number(img[key]) if key in img else 1.0
        if size is None or size <= 0:
            return key, f"expected the image's {key} in pixels (a positive number), got {printable(img[key])}"
    size = image_size(img)
    if headers is None or size is None:
        return None
    real = headers.sizes(path, size)
    if real and (size[0], size[1]) not in real:
        return "width", (f"the annotation says {size[0]:g}x{size[1]:g}, the image file is {real[0][0]}x{real[0][1]} "
                         "(annotations made for another version of the image?)")
    return None


def _image_table(images: list, col: Collector, images_dir: Path, headers: ImageHeaders | None) -> tuple[dict, dict]:
    """``(id -> {"path", and "width", "height", "crowdIndex" when given}, id -> why the entry was refused)``;
    ``headers`` (the read's, each file's header read once): check the sizes against the files (None: do not)."""
    table: dict[int, dict[str, Any]] = {}
    refused: dict[int, str] = {}
    names: dict[str, int] = {}
    for i, img in enumerate(images):
        rec = f"images[{i}]"
        if not isinstance(img, dict) or "id" not in img or "file_name" not in img:
            col.fail("an image needs 'id' and 'file_name'", record=rec, field="id")
            continue
        if not is_int_id(img["id"]):
            col.fail(f"image id must be an integer, got {img['id']!r}", record=rec, field="id")
            continue
        if img["id"] in table or img["id"] in refused:
            col.fail(f"duplicate image id {img['id']}", record=rec, field="id")
            continue
        name = img["file_name"]
        path = str(images_dir / name) if isinstance(name, str) and name else ""
        # One file in two spellings (im1.png, ./im1.png) is listed twice too: compared as normalised paths.
        key = file_key(path)
        first = names.setdefault(key, i) if path else i
        problem = (("file_name", f"expected a file name, got {name!r}") if not path else
                   ("file_name", listed_twice(name, first, images[first]["file_name"])) if first != i else
                   _image_problem(img, path, headers))
        if problem is not None:  # the image's annotations are refused in its name (not as of an unknown id)
            col.fail(problem[1], record=rec if problem[0] == "file_name" else f"{rec} ({printable(name)})",
                     field=problem[0])
            refused[img["id"]] = f"its image {rec} was refused ({problem[0]})"
            continue
        # Only what the instances need: a COCO image entry also carries URLs, licences, dates.
        table[img["id"]] = {"path": path, **{k: img[k] for k in ("width", "height", "crowdIndex") if k in img},
                            **(displayed_frame(img, path, headers) if headers is not None else {})}
        if headers is not None and image_size(img) is None:  # no size given: the file's header bounds the keypoints
            table[img["id"]]["file_sizes"] = headers.sizes(path)
    return table, refused


def _keypoints(kp: Any, k: int, spec: KeypointSpec) -> tuple[np.ndarray, np.ndarray] | str:
    """``(xy (K, 2), vis (K,))`` of an annotation's keypoint list, or why it is not usable."""
    nested = nested_triplets(kp)
    if nested:
        return nested
    if not isinstance(kp, list) or len(kp) != 3 * k:
        n = len(kp) if isinstance(kp, list) else type(kp).__name__
        return f"expected {3 * k} numbers ({k} keypoints of spec '{spec.name}'), got {n}"
    why = non_number_message(kp)
    arr = float_array(kp, (k, 3)) if why is None else None
    if arr is None:
        return f"keypoints must be numbers ({why})" if why else "keypoints must be numbers"
    vis = arr[:, 2]
    if not ((vis == 0) | (vis == 1) | (vis == 2)).all():
        return f"visibility flags must be 0, 1 or 2, got {sorted(set(vis.tolist()) - {0, 1, 2})}"
    vis = vis.astype(np.int64)
    if spec.v1_is_visible:
        vis = np.where(vis > 0, 2, 0)
    if not np.all(np.isfinite(arr[vis > 0, :2])):
        return "non-finite keypoint coordinate"
    return np.where(vis[:, None] > 0, arr[:, :2], 0.0), vis


def _box(ann: dict, xy: np.ndarray, vis: np.ndarray, img: dict) -> np.ndarray | str:
    """The ``[x, y, w, h]`` box of an annotation (the labelled keypoints' extent when it has none)."""
    bbox = ann.get("bbox")
    if bbox is None and (vis > 0).any():
        lab = xy[vis > 0]
        bbox = [*lab.min(0), *(lab.max(0) - lab.min(0) + 1)]
    elif isinstance(bbox, list) and non_number_message(bbox) is not None:
        return f"expected [x, y, w, h] ({non_number_message(bbox)})"
    box = float_array(bbox, (4,))
    if box is None:
        return "expected [x, y, w, h]"
    if not box_ok(box):
        return f"box must have positive finite width and height, got {box.tolist()}"
    size = image_size(img)
    if size is not None and box_outside_image(box, size):
        return f"box {box.tolist()} lies outside the {size[0]:g}x{size[1]:g} image"
    return box


@spec_by_name
def read_coco(
    path: str | Path,
    spec: KeypointSpec,
    images_dir: str | Path | None = None,
    skip_invalid: bool = False,
    keep_crowd: bool = False,
    require_labelled: bool = True,
    check_image_size: bool = True,
) -> ReadResult:
    """Read a COCO keypoint JSON.

    Args:
        path: the JSON file.
        spec: the keypoint set; each annotation must carry ``3 * spec.num_keypoints`` numbers.
        images_dir: folder that ``file_name`` is relative to (default: the JSON's folder).
        skip_invalid: skip (and report) bad records instead of raising.
        keep_crowd: keep ``iscrowd=1`` annotations (for evaluation bookkeeping); default leaves them out.
        require_labelled: leave out annotations with no labelled keypoint (they have no training target).
        check_image_size: compare each image's ``width`` / ``height`` with the file's header (when the file
            exists); a mismatch refuses the image's annotations. An entry without a size has its file's header
            read instead (when the file exists): the keypoints far outside that size are refused.

    Returns:
        A :class:`ReadResult`; ``instances`` in file order, with ``extra["iscrowd"]`` and the image's
        ``width``/``height`` (and ``crowdIndex``) when given.
    """
    path = Path(path)
    opts = (spec, Path(images_dir) if images_dir is not None else path.parent, skip_invalid, keep_crowd,
            require_labelled, check_image_size)
    streamed = stream(path)
    if streamed is not None:
        try:
            return _read(path, *streamed, *opts)
        except StreamFailed:
            pass
    data = load_json(path)  # the exact JSON error, or Python's NaN / Infinity literals
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list) or not isinstance(data.get("images"), list):
        raise DataError(path, "not a COCO keypoint file: expected 'images' and 'annotations' lists")
    return _read(path, data["images"], data.get("categories"), iter(data["annotations"]), *opts)


def _category_ids(categories: Any) -> tuple[set[int], str] | None:
    """``(the integer ids of a file's categories, how to show them)``; None when the file has no ``categories``
    list (nothing to check against: the keypoint set then comes from ``data.spec``)."""
    if not isinstance(categories, list):
        return None
    ids = {c["id"] for c in categories if isinstance(c, dict) and is_int_id(c.get("id"))}
    if not ids:
        return ids, "the file's categories (its 'categories' list " + ("is empty)" if not categories else "has no integer id)")
    return ids, f"the file's categories ({ids_text(sorted(ids), 8)})"


def _read(path: Path, image_list: list, categories: Any, annotations: Iterator[Any], spec: KeypointSpec,
          images_dir: Path, skip_invalid: bool, keep_crowd: bool, require_labelled: bool,
          check_image_size: bool) -> ReadResult:
    """Instances of the annotations, checked against the image table (see :func:`read_coco`)."""
    order = keypoint_order_message(categories, spec.keypoints, spec.name)
    if order is not None:  # every record would be misread, not one: no skip_invalid
        raise DataError(path, order[1], record=f"categories[{order[0]}]", field="keypoints")
    col = Collector(str(path), skip_invalid)
    headers = ImageHeaders() if check_image_size else None  # each image's header read once in this read
    images, refused = _image_table(image_list, col, images_dir, headers)
    cats = _category_ids(categories)
    out: list[Instance] = []
    left_out: list[DataError] = []
    ann_ids: dict[int, int] = {}
    for i, ann in enumerate(annotations):
        inst = _annotation(ann, i, spec, (images, refused, cats), ann_ids, col, left_out, keep_crowd, require_labelled)
        if inst is not None:
            out.append(inst)
    res = col.result(out)
    res.skipped.extend(left_out)
    res.headers = headers
    return res


def _annotation(ann: Any, i: int, spec: KeypointSpec, tables: tuple[dict, dict, Any], ann_ids: dict[int, int],
                col: Collector, left_out: list[DataError], keep_crowd: bool, require_labelled: bool) -> Instance | None:
    """The instance of ``annotations[i]``, or None (the failure or the leaving-out is recorded). ``tables``: the
    image table, the refused image ids (:func:`_image_table`) and the category ids (:func:`_category_ids`)."""
    images, refused, cats = tables
    rec = f"annotations[{i}]" + (f" id={printable(ann['id'])}" if isinstance(ann, dict) and "id" in ann else "")
    if not isinstance(ann, dict):
        col.fail("an annotation must be an object", record=rec)
        return None
    if "id" in ann and not is_int_id(ann["id"]):
        col.fail(f"annotation id must be an integer, got {ann['id']!r}", record=rec, field="id")
        return None
    if "id" in ann and ann["id"] in ann_ids:
        col.fail(f"duplicate annotation id {ann['id']} (also annotations[{ann_ids[ann['id']]}])", record=rec,
                 field="id")
        return None
    if "id" in ann:
        ann_ids[ann["id"]] = i
    iid = ann.get("image_id")
    img = images.get(iid) if is_int_id(iid) else None
    if img is None:
        why = refused.get(iid) if is_int_id(iid) else None
        col.fail(why or f"unknown image id {ann.get('image_id')!r}", record=rec, field="image_id")
        return None
    # pycocotools evaluates per category: an annotation of a category the file does not list is never scored.
    if cats is not None and "category_id" in ann and not (is_int_id(ann["category_id"]) and ann["category_id"] in cats[0]):
        col.fail(f"category_id {printable(repr(ann['category_id']))} is not one of {cats[1]}", record=rec,
                 field="category_id")
        return None
    kps = _keypoints(ann.get("keypoints"), spec.num_keypoints, spec)
    if isinstance(kps, str):
        col.fail(kps, record=rec, field="keypoints")
        return None
    xy, vis = kps
    # Records without a training target are left out (and listed) before their box is looked at.
    iscrowd = ann.get("iscrowd", 0)
    if isinstance(iscrowd, str) or iscrowd not in (0, 1):
        col.fail(f"expected 0 or 1, got {iscrowd!r}", record=rec, field="iscrowd")
        return None
    if iscrowd and not keep_crowd:
        left_out.append(DataError(col.source, "iscrowd annotation (not a training target)", record=rec, field="iscrowd"))
        return None
    if require_labelled and not (vis > 0).any():
        left_out.append(DataError(col.source, "no labelled keypoint", record=rec, field="keypoints"))
        return None
    size = image_size(img)
    far = far_keypoint(xy, vis > 0, [size] if size is not None else img.get("file_sizes", []), spec.keypoints)
    if far is not None:
        col.fail(far, record=rec, field="keypoints")
        return None
    box = _box(ann, xy, vis, img)
    if isinstance(box, str):
        col.fail(box, record=rec, field="bbox")
        return None
    area = finite_number(ann.get("area"))
    area = area if area is not None and area > 0 else float(box[2] * box[3])
    extra: dict[str, Any] = {"iscrowd": bool(iscrowd)}
    for key in ("width", "height", "crowdIndex", "labels_frame", "exif_orientation"):
        if key in img:
            extra[key] = img[key]
    return Instance(img["path"], int(iid), int(ann.get("id", -1)), xy, vis, box, area, extra=extra)
