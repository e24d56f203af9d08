"""What an image file's header says about the sizes it may be annotated at (no decoding): the COCO reader compares
an entry's ``width`` / ``height`` with it, and bounds the keypoints of an entry without a size by it; the DeepLabCut
and SLEAP readers bound their points by it."""

from __future__ import annotations

from typing import Any

from .checks import image_size


def image_file_sizes(path: str, expected: tuple[float, float] | None = None) -> list[tuple[int, int]]:
    """The sizes ``(width, height)`` an image file may be annotated at, from its header (no decoding): the
    stored pixels, and the displayed (transposed) ones when its EXIF orientation turns it by 90 degrees
    (the EXIF block is only read when the stored size is not ``expected``: most files match, and a header
    read is then all it costs). Empty when the file is missing or unreadable (reported when the image is
    loaded)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            w, h = im.size
            if expected is not None and (w, h) == expected:
                return [(w, h)]
            turned = int(im.getexif().get(0x0112, 1) or 1) in (5, 6, 7, 8)
    except Exception:  # any decoder failure: load_image reports it with its reason
        return []
    return [(w, h), (h, w)] if turned else [(w, h)]


def displayed_frame(img: dict, path: str) -> dict[str, Any]:
    """``{"labels_frame": "displayed", "exif_orientation": N}`` when the entry's size is the image turned by its EXIF
    orientation and not the stored one: its labels were made on the turned image, which ``data.exif=ignore`` does
    not show the model (labels 40-90 px off their content, one generic warning;
    :func:`~adaanchor.data.split_checks.displayed_frame_problem` refuses it). Else ``{}``."""
    size = image_size(img)
    real = image_file_sizes(path, size) if size is not None else []
    if len(real) != 2 or real[0] == real[1] or (size[0], size[1]) != real[1]:
        return {}
    from PIL import Image

    with Image.open(path) as im:
        return {"labels_frame": "displayed", "exif_orientation": int(im.getexif().get(0x0112, 1) or 1)}


__all__ = ["displayed_frame", "image_file_sizes"]
