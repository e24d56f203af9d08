"""The COCO ``image_id`` of each image given to ``adaanchor predict`` (from ``--gt``, integer file stems or the
input order), and the check that ``--boxes`` detections can be matched to the inputs by it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import AdaAnchorError, DataError
from .boxes import Boxes
from .sources import Skip, Source, frames_info, image_id_of


def image_ids(images: Sequence[Source], gt: str | Path | None, on_skip: Any,
              orientation: str = "displayed", command: str = "predict", gt_data: Any = None) -> dict[Path, int]:
    """The COCO ``image_id`` of each image input: from the ``images`` of a COCO-style ``gt`` file (matched
    by path, else by a unique file name, unless another input is that image by its path or shares the name); else
    the integer file stems when every image has one
    (``000000000785.jpg`` -> 785); else the 1-based input order. Images not in ``gt``, or of another size than it
    says in the frame ``orientation`` predicts them in, go to ``on_skip``. ``gt_data``: the file's contents when the
    caller has read it (:func:`read_gt`)."""
    if gt is not None:
        data = read_gt(gt) if gt_data is None else gt_data
        if not isinstance(data, dict) or not isinstance(data.get("images"), list):
            raise AdaAnchorError(f"{gt}: expected a COCO-style JSON with an 'images' list")
        by_path, by_name = _gt_image_ids(gt, data["images"])
        sizes = _gt_sizes(data["images"])
        out: dict[Path, int] = {}
        path_ids = {s.path: by_path.get(s.path.resolve()) for s in images}
        # An image listed by its path holds its id, and an id several inputs match by name alone is no input's:
        # a file of the same name took it (the other picture drawn with its boxes, or scored against its people).
        held = {iid: p for p, iid in path_ids.items() if iid is not None}
        named: dict[int, list[Path]] = {}
        for s in images:
            names = by_name.get(s.path.name, [])
            if path_ids[s.path] is None and len(names) == 1:
                named.setdefault(names[0], []).append(s.path)
        for s in images:
            iid = path_ids[s.path]
            names = by_name.get(s.path.name, [])
            by_name_only = iid is None and len(names) == 1
            iid = iid if iid is not None else (names[0] if by_name_only else None)
            if iid is None:
                why = f"not among the images of {gt}"
            elif by_name_only and iid in held:
                why = f"its name matches image {iid} of {gt}, which is {held[iid]} (also an input)"
            elif by_name_only and len(named[iid]) > 1:
                others = ", ".join(str(p) for p in named[iid] if p != s.path)
                why = (f"its name matches image {iid} of {gt}, and so does {others}: which of them it is cannot be told "
                       "(give the files as --gt lists them, by path)")
            else:
                why = _size_mismatch(s.path, sizes.get(int(iid)), gt, orientation, command)
            if why:
                on_skip(Skip(str(s.path), why))
            else:
                out[s.path] = int(iid)
        return out
    stems = [image_id_of(s.path) for s in images]
    if all(i is not None for i in stems) and len(set(stems)) == len(stems):
        return {s.path: int(i) for s, i in zip(images, stems)}
    return {s.path: i + 1 for i, s in enumerate(images)}


def check_box_ids(srcs: Sequence[Source], ids: dict[Path, int], dets: dict[int, Boxes], gt: str | Path | None,
                   boxes: str, notes: list[str], command: str = "predict") -> None:
    """Detections name their images by ``image_id``: the image inputs must have ids of their own (``--gt`` or
    integer file stems), not the input order, which matched one image's boxes to another; detections of ids among
    no input (of a video: no frame index, 0 to its frame count - 1) are counted in ``notes``."""
    images = [s for s in srcs if s.kind == "image"]
    videos = [s for s in srcs if s.kind == "video"]
    if videos and len(videos) + len(images) > 1:
        # A frame's image id is its index: every video, and any image of that id, took the same boxes unsaid.
        what = f"{len(videos)} videos" if len(videos) > 1 else "a video and images"
        raise AdaAnchorError(f"--boxes {boxes}: a video's detections name its frames by frame index (image_id), so one "
                             f"detections file goes with one video alone, and these inputs are {what}: run {command} "
                             "once per video with its own detections")
    stems = [image_id_of(s.path) for s in images]
    if gt is None and images and (None in stems or len(set(stems)) < len(stems)):
        odd = next((s.path.name for s, i in zip(images, stems) if i is None), None)
        why = f"{odd} has no integer file stem" if odd else "two inputs have the same integer file stem"
        raise AdaAnchorError(f"--boxes {boxes}: detections name their images by image_id, and the image ids of "
                             f"these inputs would be their order ({why}): give --gt with a COCO-style JSON whose "
                             "images list them, or name the files by their ids (000785.png)")
    if images and not videos:
        unused = sorted(set(dets) - set(ids.values()))
        if unused:
            n = sum(len(dets[i].boxes) for i in unused)
            notes.append(f"{boxes}: {n} detection(s) of {len(unused)} image id(s) not among the inputs, not used "
                         f"(e.g. {unused[0]})")
    elif videos:
        _check_frame_ids(videos[0], dets, boxes, notes)


def _check_frame_ids(video: Source, dets: dict[int, Boxes], boxes: str, notes: list[str]) -> None:
    """Detections of a video whose image ids are no frame index of it, counted in ``notes``: a video's frames
    are image ids 0 to its frame count - 1 (the count the container lists; when it lists none, only negative ids
    are known to be outside). Frames numbered from 1 gave frame 0 no box and each frame its neighbour's, unsaid."""
    try:
        frames = frames_info(video.path).frames
    except AdaAnchorError:  # reading it reports why
        return
    unused = sorted(i for i in dets if i < 0 or 0 < frames <= i)
    if not unused:
        return
    n = sum(len(dets[i].boxes) for i in unused)
    span = f"0 to {frames - 1}" if frames > 0 else "0 and up"
    first = "; frame 0 has none: are they numbered from 1?" if 0 not in dets else ""
    notes.append(f"{boxes}: {n} detection(s) of {len(unused)} image id(s) not among the frames of {video.path.name}, "
                 f"not used (e.g. {unused[-1] if unused[-1] >= 0 else unused[0]}): a video's image ids are its frame "
                 f"indices, {span}{first}")


def _gt_sizes(images: list[Any]) -> dict[int, tuple[float, float]]:
    """``id -> (width, height)`` of the ``images`` entries that give both as numbers."""
    from ..data.readers import finite_number, is_int_id

    out = {}
    for im in images:
        if isinstance(im, dict) and is_int_id(im.get("id")):
            w, h = finite_number(im.get("width")), finite_number(im.get("height"))
            if w is not None and h is not None:
                out[int(im["id"])] = (w, h)
    return out


def _size_mismatch(path: Path, size: tuple[float, float] | None, gt: str | Path,
                   orientation: str = "displayed", command: str = "predict") -> str | None:
    """Why an image matched to a ``--gt`` entry of ``size`` (W, H) is not that image as predicted, or None: its
    file is of another size (a resized copy, matched by file name: its predictions were scored against the
    original's people, AP 0 with exit code 0), or ``size`` is the one of the other frame of a photo that its EXIF
    orientation turns (``orientation``: the frame predicted; either size was taken, and the turned frame's
    keypoints were scored against the stored frame's people)."""
    from ..data.readers.image_header import image_file_sizes

    real = image_file_sizes(str(path)) if size is not None else []  # its EXIF block read too: which size is which
    if not real:
        return None
    stored, shown = real[0], real[-1]  # the same but for a photo turned by 90 degrees
    frame, other = (shown, stored) if orientation == "displayed" else (stored, shown)
    if size == frame:
        return None
    if size == other:  # the ground truth is in the other frame
        fix = "stored" if orientation == "displayed" else "displayed"
        how = "turned by its EXIF orientation" if fix == "stored" else "as stored, its EXIF orientation not applied"
        harm = ("its keypoints would be scored against people in the other frame" if command == "predict"
                else "its detections would be drawn in the other frame")
        return (f"{gt} says {size[0]:g}x{size[1]:g} for it, its {fix} size, and --orientation {orientation} predicts it "
                f"{frame[0]}x{frame[1]} ({how}): {harm}; give --orientation {fix} for this ground truth")
    harm = ("its predictions would be scored against the other size's people" if command == "predict"
            else "the detections of that id were made on the other size's image")
    return f"the image is {frame[0]}x{frame[1]} and {gt} says {size[0]:g}x{size[1]:g} for it (a resized copy?): {harm}"


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




def read_gt(gt: str | Path) -> Any:
    """The contents of a ``--gt`` file (read once by ``predict``: its image ids, then its categories)."""
    from ..metrics.coco import load_json

    return load_json(gt)


def results_category(category: int | None, dets: Any, gt: str | Path | None, gt_data: Any = None) -> int:
    """The ``category_id`` of ``predict``'s COCO results: ``category`` when given (``--category``); else, with a
    ``gt`` file, the detections' category where they kept exactly one and ``gt`` has keypoints for it, else ``gt``'s
    first category with keypoints; without ``gt``, the detections' one kept category, else 1 (COCO's person).

    Results were all category 1: ``adaanchor score GT RESULTS`` refused them for a ground truth of another id
    ("category_id 1 is not in GT"), and ``predict`` wrote no other. ``gt_data``: ``gt``'s contents, when read."""
    if category is not None:
        return int(category)
    kept = getattr(dets, "categories", None)
    if kept is None:  # every category used (--box-category all): the file's own, where it has one
        kept = set(getattr(dets, "found", None) or ()) or None
    one = next(iter(kept)) if kept is not None and len(kept) == 1 else None
    if gt is not None:
        from ..data.categories import keypoint_categories

        kp = keypoint_categories(read_gt(gt) if gt_data is None else gt_data)  # a COCO-style dict (image_ids checked)
        if kp:
            return one if one in kp else kp[0]
    return one if one is not None else 1


__all__ = ["check_box_ids", "image_ids", "read_gt", "results_category"]
