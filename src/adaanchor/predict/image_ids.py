"""The COCO ``image_id`` of each image given to ``adaanchor predict`` (from ``--gt``, integer file stems or the
input order), and the check that ``--boxes`` detections can be matched to the inputs by it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import AdaAnchorError, DataError
from .boxes import Boxes
from .sources import Skip, Source, image_id_of


def image_ids(images: Sequence[Source], gt: str | Path | None, on_skip: Any) -> dict[Path, int]:
    """The COCO ``image_id`` of each image input: from the ``images`` of a COCO-style ``gt`` file (matched
    by path, else by a unique file name); else the integer file stems when every image has one
    (``000000000785.jpg`` -> 785); else the 1-based input order. Images not in ``gt`` go to ``on_skip``."""
    if gt is not None:
        from ..metrics.coco import load_json

        data = load_json(gt)
        if not isinstance(data, dict) or not isinstance(data.get("images"), list):
            raise AdaAnchorError(f"{gt}: expected a COCO-style JSON with an 'images' list")
        by_path, by_name = _gt_image_ids(gt, data["images"])
        out = {}
        for s in images:
            iid = by_path.get(s.path.resolve())
            names = by_name.get(s.path.name, [])
            iid = iid if iid is not None else (names[0] if len(names) == 1 else None)
            if iid is None:
                on_skip(Skip(str(s.path), f"not among the images of {gt}"))
            else:
                out[s.path] = int(iid)
        return out
    stems = [image_id_of(s.path) for s in images]
    if all(i is not None for i in stems) and len(set(stems)) == len(stems):
        return {s.path: int(i) for s, i in zip(images, stems)}
    return {s.path: i + 1 for i, s in enumerate(images)}


def check_box_ids(srcs: Sequence[Source], ids: dict[Path, int], dets: dict[int, Boxes], gt: str | Path | None,
                   boxes: str, notes: list[str]) -> None:
    """Detections name their images by ``image_id``: the image inputs must have ids of their own (``--gt`` or
    integer file stems), not the input order, which matched one image's boxes to another; detections of ids among
    no input are counted in ``notes``."""
    images = [s for s in srcs if s.kind == "image"]
    stems = [image_id_of(s.path) for s in images]
    if gt is None and images and (None in stems or len(set(stems)) < len(stems)):
        odd = next((s.path.name for s, i in zip(images, stems) if i is None), None)
        why = f"{odd} has no integer file stem" if odd else "two inputs have the same integer file stem"
        raise AdaAnchorError(f"--boxes {boxes}: detections name their images by image_id, and the image ids of "
                             f"these inputs would be their order ({why}): give --gt with a COCO-style JSON whose "
                             "images list them, or name the files by their ids (000785.png)")
    if images and not any(s.kind == "video" for s in srcs):
        unused = sorted(set(dets) - set(ids.values()))
        if unused:
            n = sum(len(dets[i].boxes) for i in unused)
            notes.append(f"{boxes}: {n} detection(s) of {len(unused)} image id(s) not among the inputs, not used "
                         f"(e.g. {unused[0]})")


def _gt_image_ids(gt: str | Path, images: list[Any]) -> tuple[dict[Path, int], dict[str, list[int]]]:
    """``(path -> id, file name -> ids)`` of a COCO-style ``images`` list; an id that is not an integer (``true``,
    ``5.5`` and ``"5"`` were read as 1, 5 and 5) or a file listed under two ids is an error naming the record."""
    from ..data.readers import is_int_id

    by_path: dict[Path, int] = {}
    by_name: dict[str, list[int]] = {}
    for i, im in enumerate(images):
        if not (isinstance(im, dict) and isinstance(im.get("file_name"), str) and "id" in im):
            continue
        if not is_int_id(im["id"]):
            raise DataError(gt, f"expected an integer image id, got {im['id']!r}", record=f"images[{i}]", field="id")
        path = (Path(gt).parent / im["file_name"]).resolve()
        if by_path.get(path, im["id"]) != im["id"]:
            raise DataError(gt, f"{im['file_name']} is listed with ids {by_path[path]} and {im['id']}",
                            record=f"images[{i}]", field="file_name")
        by_path[path] = int(im["id"])
        by_name.setdefault(Path(im["file_name"]).name, []).append(int(im["id"]))
    return by_path, by_name


__all__ = ["check_box_ids", "image_ids"]
