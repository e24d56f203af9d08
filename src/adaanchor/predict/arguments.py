"""The checks of the Predictor's arguments: batch size, image ids, ``predict_stream`` items, boxes inside their image,
and the options of ``Predictor.from_run``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..data.readers import is_int_id
from ..errors import AdaAnchorError
from .boxes import Detections, as_boxes, file_boxes, load_detections
from .images import check_orientation


def check_batch_size(value: Any) -> int:
    """``value`` as an int >= 1; a float, bool or string is refused, not truncated (2.7 is not 2, True not 1)."""
    is_int = is_int_id(value)  # the same test: a Python or numpy int, not a bool
    if not is_int or value < 1:
        kind = "" if is_int else f" ({type(value).__name__})"
        raise AdaAnchorError(f"batch size must be an integer >= 1, got {value!r}{kind}")
    return int(value)


def image_ids_of(batch: list[Any], image_ids: Any, single: bool, source: Any) -> list[int]:
    """The integer image id of each image of ``batch``: ``image_ids`` (one per image; an int for one image), else
    the integer stems of the image files. A string, a float or a wrong count is refused, not truncated or split
    into characters (``"12"`` is not ids 1 and 2)."""
    if image_ids is None:
        from .sources import image_id_of

        ids = [image_id_of(b) if isinstance(b, (str, Path)) else None for b in batch]
        if any(i is None for i in ids):
            raise AdaAnchorError(f"{source}: detections are matched by image id: pass image_ids=, or image files "
                                 "named by their integer id")
        return [int(i) for i in ids]
    if single and is_int_id(image_ids):
        image_ids = [image_ids]
    if isinstance(image_ids, (str, bytes, Mapping)) or not isinstance(image_ids, Iterable):
        raise AdaAnchorError(f"image_ids: expected a list of integer image ids, one per image, got "
                             f"{type(image_ids).__name__} {image_ids!r}")
    ids = list(image_ids)
    if len(ids) != len(batch):
        raise AdaAnchorError(f"image_ids: {len(ids)} ids for {len(batch)} images (give one per image)")
    for i, v in enumerate(ids):
        if not is_int_id(v):
            raise AdaAnchorError(f"image_ids[{i}]: expected an integer image id, got {v!r}")
    return [int(v) for v in ids]


def named_triples(items: Any) -> Iterator[tuple[Any, Any, Any, str]]:
    """``predict_stream``'s items checked to be ``(image, boxes, tag)`` triples, each with its image's name.

    An item must be a tuple or a list: a bare ``(3, H, W)`` array would otherwise unpack into three rows."""
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
        raise TypeError(f"predict_stream: expected an iterable of (image, boxes, tag) triples, got {type(items).__name__}")
    for n, item in enumerate(items):
        if not isinstance(item, (tuple, list)) or len(item) != 3:
            got = f"a {type(item).__name__} of {len(item)}" if isinstance(item, (tuple, list)) else type(item).__name__
            raise TypeError(f"predict_stream: item {n}: expected an (image, boxes, tag) triple, got {got}")
        yield item[0], item[1], item[2], f"item {n} image"


def check_boxes_inside(boxes: np.ndarray, image_hw: tuple[int, int], what: str) -> None:
    """Refuse a box ``[x, y, w, h]`` that does not overlap the image at all: the model saw a black crop and its
    keypoints came back off the image, without a word (coordinates of another image size, normalised to [0, 1]
    ones are inside and only small)."""
    from ..data.readers.checks import box_outside_image

    h, w = image_hw
    for j, b in enumerate(boxes):
        if box_outside_image(b, (w, h)):
            raise AdaAnchorError(f"{what}[{j}]: {[float(f'{v:.6g}') for v in b]} lies outside the {w}x{h} (W x H) "
                                 "image: boxes are [x, y, w, h] in the pixels of the image they go with")



def check_load_options(backend: str, onnx_path: str | Path | None, batch_size: int, orientation: str,
                        threads: Any = None, fold_bn: Any = True) -> None:
    """Refuse options of :meth:`Predictor.from_run` that do not fit together, or a bad value, before a model loads."""
    from ..data.readers import is_int_id
    from ..export.command import check_onnx_name

    if backend not in ("torch", "onnx"):
        raise AdaAnchorError(f"backend must be torch or onnx, got {backend!r}")
    if onnx_path is not None and backend != "onnx":  # it was ignored, even a damaged file
        raise AdaAnchorError(f"onnx_path={onnx_path} is the exported file of backend='onnx', not of {backend!r}")
    if threads is not None and backend != "onnx":  # it was ignored
        raise AdaAnchorError(f"threads={threads!r} sets the threads of backend='onnx' (onnxruntime); the torch backend "
                             "uses torch's: torch.set_num_threads(n)")
    if threads is not None and (not is_int_id(threads) or threads < 1):  # 0 was torch's count, 2.5 was 2
        raise AdaAnchorError(f"threads must be an integer >= 1 or None (torch's count), got {threads!r}")
    if onnx_path is not None and not Path(onnx_path).is_file():  # exported to: export's name rule
        check_onnx_name(onnx_path)
    check_batch_size(batch_size)
    check_orientation(orientation)
    if not isinstance(fold_bn, (bool, np.bool_)):  # "no" is truthy: it folded
        raise AdaAnchorError(f"fold_bn must be True or False, got {fold_bn!r}")


def check_run_paths(run: Any, ckpt: Any) -> None:
    """``Predictor.from_run``'s ``run`` and ``ckpt`` are paths (None or 3: pathlib's TypeError named no argument)."""
    for what, value, kind in (("run", run, "a run directory, a checkpoint in one or a config file"),
                              ("ckpt", ckpt, "a checkpoint file, or None")):
        if (value is not None or what == "run") and (not isinstance(value, (str, os.PathLike)) or not str(value).strip()):
            raise TypeError(f"Predictor.from_run: {what} must be {kind}, got {value!r}")


def boxes_per_image(batch: list[Any], boxes: Any, single: bool, image_ids: Any) -> list[Any]:
    """``Predictor.predict``'s ``boxes`` as one entry per image of ``batch``: None (the whole image) or
    :class:`~adaanchor.predict.boxes.Boxes`; a detections file is matched to the images by ``image_ids``, and boxes
    given as arrays are checked before any image is read."""

    is_file = isinstance(boxes, (str, os.PathLike, Detections))  # Detections: a file read by load_detections
    if image_ids is not None and not is_file:  # it would be ignored: ids only match a detections file
        got = "None" if boxes is None else type(boxes).__name__
        raise AdaAnchorError(f"image_ids: only used to match a detections file (boxes=PATH) to the images, "
                             f"got boxes={got}")
    if boxes is None:
        return [None] * len(batch)
    if is_file:
        dets = boxes if isinstance(boxes, Detections) else load_detections(Path(boxes))
        return [file_boxes(dets, i) for i in image_ids_of(batch, image_ids, single, dets.source)]
    if single:
        as_boxes(boxes)  # checked before any image is read; _entry converts it again and checks it on the image
        return [boxes]
    if not isinstance(boxes, Iterable) or isinstance(boxes, (bytes, Mapping)):
        raise AdaAnchorError(f"boxes: for a batch of {len(batch)} images expected a list with one entry per image "
                             f"([x, y, w, h] boxes, or None: the whole image) or a detections file path, "
                             f"got {type(boxes).__name__}")
    boxes = list(boxes)
    if len(boxes) != len(batch):
        raise AdaAnchorError(f"boxes: {len(boxes)} entries for {len(batch)} images (give one per image, None = whole image)")
    for i, b in enumerate(boxes):
        if b is not None:
            as_boxes(b, f"boxes[{i}]")
    return boxes


__all__ = ["boxes_per_image", "check_batch_size", "check_boxes_inside", "check_load_options", "check_run_paths",
           "image_ids_of", "named_triples"]
