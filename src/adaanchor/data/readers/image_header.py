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
    return ImageHeaders().sizes(path, expected)


def far_in_image(xy: Any, labelled: Any, image: str, names: Any, headers: ImageHeaders) -> str | None:
    """Why a labelled point of ``xy`` (``(K, 2)``) lies too far outside the image file ``image``
    (:func:`.checks.far_keypoint`: one image width or height beyond its edge, in its stored frame and, for a photo
    its EXIF tag turns, the displayed one), or None; the size comes from the file's header (``headers``: one open per
    image). The EXIF block is read only for a point beyond the stored frame: a PNG's EXIF read decodes the whole
    image (10.8 ms at 1080p, against 0.08 ms for the header). A missing or unreadable image is left to the image
    check (None)."""
    from .checks import far_keypoint

    stored = headers.stored_size(image)
    if stored is None or far_keypoint(xy, labelled, [stored], names) is None:
        return None
    return far_keypoint(xy, labelled, headers.sizes(image), names)


def within_bound(col: Any, image: str, xy: Any, labelled: Any, names: Any, headers: ImageHeaders, record: str,
                 field: str = "keypoints") -> bool:
    """Whether the labelled points of ``xy`` (``(K, 2)``, image ``image``) lie within the bound of
    :func:`.checks.far_keypoint` (one image width or height beyond its edge), for the readers whose files give no image
    size (landmark text and CSV files, MPII): the size comes from the image file's header (``headers``, one open per
    image); a missing or unreadable image is left to the image check. A point beyond it fails the record on ``col``
    (a :class:`~adaanchor.data.readers.Collector`: raised, or skipped and counted with ``skip_invalid``)."""
    why = far_in_image(xy, labelled, image, names, headers)
    if why is None:
        return True
    col.fail(why, record=record, field=field)
    return False


class ImageHeaders:
    """The image headers of one read, each file opened once (``Image.open`` reads the header only): its sizes
    (:func:`image_file_sizes`), EXIF orientation and whether it reads at all
    (:func:`~adaanchor.data.pixels.image_file_problem`). A reader makes one and passes it down, so that the size
    check, the displayed-frame check and the bound of the keypoints share one open per image; ``data stats``
    reuses it for its check of the files. Not kept beyond the read: a file that changes is read anew next time."""

    def __init__(self) -> None:
        self._seen: dict[str, _Header] = {}

    def _header(self, path: str, expected: tuple[float, float] | None = None, exif: bool = True) -> _Header:
        """The header of ``path``, opened on first use (and again only for an EXIF block its first open skipped)."""
        head = self._seen.get(path)
        if head is None or (exif and head.orientation is None and head.size is not None and head.size != expected):
            head = self._seen[path] = _read_header(path, expected, exif)
        return head

    def sizes(self, path: str, expected: tuple[float, float] | None = None) -> list[tuple[int, int]]:
        """As :func:`image_file_sizes` (the EXIF block read only when the stored size is not ``expected``)."""
        head = self._header(path, expected)
        if head.size is None:
            return []
        if expected is not None and head.size == expected:
            return [head.size]
        (w, h), turned = head.size, (head.orientation or 1) in (5, 6, 7, 8)
        return [(w, h), (h, w)] if turned else [(w, h)]

    def stored_size(self, path: str) -> tuple[int, int] | None:
        """The stored ``(width, height)`` from the header alone (no EXIF read), or None when the file does not read."""
        return self._header(path, exif=False).size

    def orientation(self, path: str) -> int:
        """The EXIF orientation tag (1 when it has none or the file does not read)."""
        return self._header(path).orientation or 1

    def problem(self, path: str) -> str | None:
        """:func:`~adaanchor.data.pixels.image_file_problem` of ``path``, from the same open."""
        return self._header(path, exif=False).problem


class _Header:
    """What one open of an image file gave: ``size`` (None when it did not read), ``orientation`` (None when its
    EXIF block was not read) and ``problem``."""

    __slots__ = ("orientation", "problem", "size")

    def __init__(self, size: tuple[int, int] | None, orientation: int | None, problem: str | None):
        self.size, self.orientation, self.problem = size, orientation, problem


def _read_header(path: str, expected: tuple[float, float] | None, exif: bool) -> _Header:
    """One open of ``path``: its size, its EXIF orientation when ``exif`` and the size is not ``expected``."""
    import warnings

    from PIL import Image

    from ..pixels import path_problem, unreadable

    why = path_problem(path)
    if why is not None:
        return _Header(None, None, why)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a decompression-bomb warning: read_image decides about the size
            with Image.open(path) as im:
                size = im.size
                read_exif = exif and (expected is None or size != expected)
                orientation = int(im.getexif().get(0x0112, 1) or 1) if read_exif else None
    except Exception as e:  # any decoder failure: load_image reports it with its reason
        return _Header(None, None, unreadable(e))
    return _Header((int(size[0]), int(size[1])), orientation, None)


def displayed_frame(img: dict, path: str, headers: ImageHeaders | None = None) -> dict[str, Any]:
    """``{"labels_frame": "displayed", "exif_orientation": N}`` when the entry's size is the image turned by its EXIF
    orientation and not the stored one: its labels were made on the turned image, which ``data.exif=ignore`` does
    not show the model (labels 40-90 px off their content, one generic warning;
    :func:`~adaanchor.data.split_checks.displayed_frame_problem` refuses it). Else ``{}``. ``headers``: the read's
    (:class:`ImageHeaders`), else the file is opened here."""
    headers = headers if headers is not None else ImageHeaders()
    size = image_size(img)
    real = headers.sizes(path, size) if size is not None else []
    if len(real) != 2 or real[0] == real[1] or (size[0], size[1]) != real[1]:
        return {}
    return {"labels_frame": "displayed", "exif_orientation": headers.orientation(path)}


__all__ = ["ImageHeaders", "displayed_frame", "far_in_image", "image_file_sizes", "within_bound"]
