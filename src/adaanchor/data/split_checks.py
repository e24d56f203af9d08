"""Checks of a split as read, before a dataset is built from it: things that every record can pass and the split
still cannot be used for (training refuses them; ``adaanchor data stats`` lists them)."""

from __future__ import annotations

from collections import Counter

from ..errors import AdaAnchorError
from .readers import ReadResult


def displayed_frame_problem(res: ReadResult, exif: str) -> str | None:
    """Why ``res`` cannot be used with ``data.exif=exif``, or None: instances whose reader says their labels
    are on the image as displayed (``extra["labels_frame"]``: YOLO labels of a photo with an EXIF orientation tag, a
    COCO image entry whose width and height are those of the photo turned by its tag)
    need the images turned by it (``data.exif=apply``); with ``ignore`` the stored pixels would not match them."""
    if exif == "apply":
        return None
    turned = [i for i in res.instances if i.extra.get("labels_frame") == "displayed"]
    if not turned:
        return None
    first = turned[0]
    n = len({i.image_path for i in turned})
    return (f"{res.source}: {n} image(s) carry an EXIF orientation tag (the first: {first.image_path}, orientation "
            f"{first.extra.get('exif_orientation')}) and their labels are on the image as displayed, turned by it (this "
            "format's convention, or a file giving the turned width and height): set data.exif=apply (data.exif=ignore "
            "keeps the stored pixels, which these labels do not match)")


def check_one_per_image(res: ReadResult, split: str) -> None:
    """``data.crop=image`` makes the whole image each instance's input: images holding several instances (a
    multi-animal project, a crowd) trained each one on the same input with another target, and predicting gave
    one instance per image, without a word. Raises naming the counts and the two ways that work."""
    problem = several_per_image(res, split)
    if problem:
        raise AdaAnchorError(problem)


def several_per_image(res: ReadResult, split: str) -> str | None:
    """Why ``data.crop=image`` refuses ``res`` (images holding several instances), or None when it does not."""
    counts = Counter(i.image_path for i in res.instances)
    many = [n for n in counts.values() if n > 1]
    if not many:
        return None
    return (f"{res.source}: {len(many)} of the {len(counts)} {split} images hold several instances (up to "
            f"{max(many)}), and data.crop=image takes the whole image as one instance's input: use data.crop=box "
            "(each instance in its box; predict with --boxes) or task=bottomup (every instance of an image at once)")


__all__ = ["check_one_per_image", "displayed_frame_problem", "several_per_image"]
