"""The far-keypoint bound (:func:`adaanchor.data.readers.checks.far_keypoint`) for the readers whose files give no
image size: WFLW's text lists, ``.pts`` folders, landmark CSVs and MPII (JSON and the official ``.mat``). The size
comes from the image file's header; a point more than one image width or height beyond the edge was read as given
(x = 1e30 trained and scored as a coordinate). Images the tests write themselves; an unreadable image is left to
the image check."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_readers import _mat_structs

from adaanchor.data.readers.formats import FORMATS
from adaanchor.data.spec_source import load_spec
from adaanchor.errors import DataError

W, H = 64, 48
FAR, NEAR = (1e30, 20.0), (127.4, 20.0)  # beyond the bound; outside the 64x48 image, just within it (x <= 127.5)


def _image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (W, H)).save(path)


def _points(k: int, first: tuple[float, float]) -> np.ndarray:
    pts = np.stack([5.0 + np.arange(k) % 50, 10.0 + np.arange(k) % 30], axis=1)
    pts[0] = first
    return pts


def _wflw(root: Path, firsts: list) -> tuple[Path, str, dict]:
    lines = []
    for i, first in enumerate(firsts):
        _image(root / f"im{i}.png")
        coords = " ".join(f"{v:g}" for v in _points(98, first).reshape(-1))
        lines.append(f"{coords} 1 1 60 40 0 0 0 0 0 0 im{i}.png")
    (root / "list.txt").write_text("\n".join(lines) + "\n")
    return root / "list.txt", "wflw", {}


def _pts(root: Path, firsts: list) -> tuple[Path, str, dict]:
    for i, first in enumerate(firsts):
        _image(root / f"f{i}.png")
        body = "\n".join(f"{x:g} {y:g}" for x, y in _points(68, first) + 1.0)  # .pts is one-based
        (root / f"f{i}.pts").write_text(f"version: 1\nn_points: 68\n{{\n{body}\n}}\n")
    return root, "face68", {}


def _csv(root: Path, firsts: list) -> tuple[Path, str, dict]:
    rows = []
    for i, first in enumerate(firsts):
        _image(root / f"c{i}.png")
        rows.append(f"c{i}.png," + ",".join(f"{v:g}" for v in _points(68, first).reshape(-1)))
    (root / "lm.csv").write_text("\n".join(rows) + "\n")
    return root / "lm.csv", "face68", {}


def _mpii(root: Path, firsts: list) -> tuple[Path, str, dict]:
    recs = []
    for i, first in enumerate(firsts):
        _image(root / f"00000000{i}.jpg")
        recs.append({"image": f"00000000{i}.jpg", "center": [30.0, 20.0], "scale": 0.3,
                     "joints": (_points(16, first) + 1.0).tolist(), "joints_vis": [1] * 16})
    (root / "mpii.json").write_text(json.dumps(recs))
    return root / "mpii.json", "mpii", {}


def _mpii_mat(root: Path, firsts: list) -> tuple[Path, str, dict]:
    from scipy.io import savemat

    entries = []
    for i, first in enumerate(firsts):
        _image(root / f"00000000{i}.jpg")
        pts = _points(16, first) + 1.0
        points = _mat_structs([{"id": j, "x": float(x), "y": float(y), "is_visible": 1} for j, (x, y) in enumerate(pts)])
        rect = {"x1": 5.0, "y1": 5.0, "x2": 15.0, "y2": 15.0, "scale": 0.3, "objpos": {"x": 30.0, "y": 20.0},
                "annopoints": {"point": points}}
        entries.append({"image": {"name": f"00000000{i}.jpg"}, "annorect": _mat_structs([rect])})
    savemat(root / "mpii.mat", {"RELEASE": {"annolist": _mat_structs(entries),
                                            "img_train": np.ones((1, len(firsts)), dtype=np.int64)}})
    return root / "mpii.mat", "mpii", {}


READERS = {"wflw_txt": _wflw, "pts": _pts, "csv": _csv, "mpii": _mpii, "mpii_mat": _mpii_mat}


def _message(x: str, y: str, name: str) -> str:
    return (f"keypoint 0 ({name}) at ({x}, {y}) lies more than one image width or height beyond the edge of the "
            "64x48 image (labelled points may lie outside it, within x -64.5..127.5 and y -48.5..95.5): a coordinate "
            "written wrong?")


@pytest.mark.parametrize("fmt", list(READERS))
def test_a_point_far_outside_its_image_is_refused_or_counted(tmp_path, fmt):
    path, spec_name, opts = READERS[fmt](tmp_path, [NEAR, FAR, (20.0, 20.0)])
    spec = load_spec(spec_name)
    with pytest.raises(DataError) as e:
        FORMATS[fmt](path, spec, **opts)
    assert e.value.reason == _message("1e+30", "20", spec.keypoints[0])
    res = FORMATS[fmt](path, spec, skip_invalid=True, **opts)
    assert len(res.instances) == 2 and [s.reason for s in res.skipped] == [_message("1e+30", "20", spec.keypoints[0])]
    np.testing.assert_allclose(res.instances[0].keypoints[0], NEAR, atol=1e-3)  # outside, within the bound: data


@pytest.mark.parametrize("fmt", list(READERS))
def test_with_an_unreadable_image_the_point_is_left_to_the_image_check(tmp_path, fmt):
    """No size to bound it by: read as given, and the image check (when the image is loaded) reports the file."""
    path, spec_name, opts = READERS[fmt](tmp_path, [FAR])
    for f in tmp_path.rglob("*"):
        if f.suffix in (".png", ".jpg"):
            f.write_bytes(b"not an image")
    res = FORMATS[fmt](path, load_spec(spec_name), **opts)
    assert len(res.instances) == 1 and res.instances[0].keypoints[0, 0] == pytest.approx(1e30)


def test_a_turned_photo_is_bounded_by_either_frame_and_its_exif_read_only_when_needed(tmp_path, monkeypatch):
    """A point beyond the stored frame of a photo that EXIF turns 90 degrees, within the displayed one, is data; the
    EXIF block (a PNG's read decodes the whole image) is read only for a point beyond the stored frame."""
    from adaanchor.data.readers import image_header
    from adaanchor.data.readers.image_header import ImageHeaders, within_bound
    from adaanchor.data.readers.sleap_labels import far_from_image

    path = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 64x48, displayed 48x64
    Image.new("RGB", (W, H)).save(path, exif=exif)
    reads: list[bool] = []
    real = image_header._read_header
    monkeypatch.setattr(image_header, "_read_header", lambda p, e=None, x=True: reads.append(x) or real(p, e, x))

    class Col:
        failed: list = []

        def fail(self, why, record=None, field=None):
            self.failed.append(why)

    inside, displayed_only, beyond = np.array([[10.0, 20.0]]), np.array([[10.0, 120.0]]), np.array([[10.0, 130.0]])
    for fn in (lambda xy: within_bound(Col(), str(path), xy, np.ones(1, bool), ["nose"], ImageHeaders(), "r"),
               lambda xy: far_from_image(xy, str(path), ["nose"], ImageHeaders()) is None):
        reads.clear()
        assert fn(inside) and reads == [False]  # the stored size alone
        assert fn(displayed_only) and True in reads  # the displayed frame read for it
        assert not fn(beyond)
