"""Which frame each file's keypoints are in when an input carries an orientation: the ``.slp`` of a photo turned by
its EXIF tag (SLEAP shows it as stored), ``--gt`` sizes of the other frame, and a video whose display matrix
mirrors it (read as a 180-degree rotation before)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from adaanchor.cli import main
from adaanchor.predict.sleap_writers import stored_frame_points
from adaanchor.predict.sources import read_video
from root_helpers import write_video


def _photo(path: Path, src: Path, tag: int = 6) -> Path:
    """``src``'s pixels stored with EXIF orientation ``tag`` (PNG: the pixels come back exactly)."""
    exif = Image.Exif()
    exif[0x0112] = tag
    Image.open(src).convert("RGB").save(path, exif=exif)
    return path


@pytest.mark.parametrize("tag", range(1, 9))
def test_stored_frame_points_undo_each_exif_orientation(tag):
    """A point on the image as PIL's exif_transpose shows it goes back to its stored pixel."""
    h, w = 5, 8
    for x, y in [(0, 0), (7, 0), (2, 4), (6, 3)]:
        stored = np.zeros((h, w), np.uint8)
        stored[y, x] = 255
        im = Image.fromarray(stored)
        im.getexif()[0x0112] = tag
        shown = np.asarray(ImageOps.exif_transpose(im))
        sy, sx = np.unravel_index(shown.argmax(), shown.shape)
        assert stored_frame_points(np.array([[sx, sy]], float), tag, shown.shape).tolist() == [[x, y]]


@pytest.mark.parametrize("orientation", ["displayed", "stored"])
def test_slp_has_a_turned_photo_s_keypoints_on_its_stored_pixels(pred_runs, val_images, tmp_path, capsys,
                                                                  orientation):
    """sleap-io and SLEAP read images as stored (cv2.IMREAD_UNCHANGED, imageio): the displayed frame's points sat
    on the wrong pixels there."""
    import sleap_io as sio

    photo = _photo(tmp_path / "phone.png", val_images[0])
    out = tmp_path / "o"
    rc = main(["predict", str(pred_runs["adaanchor"]), str(photo), str(val_images[1]), "--out", str(out), "--quiet",
               "--device", "cpu", "--format", "coco,slp,nwb", "--orientation", orientation])
    text = capsys.readouterr().out
    assert rc == 0
    recs = {Path(r["file_name"]).name: np.array(r["keypoints"]).reshape(-1, 3)[:, :2]
            for r in json.loads((out / "predictions.json").read_text())}
    labels = sio.load_slp(str(out / "predictions.slp"))
    slp = {Path(lf.video.filename[lf.frame_idx]).name: lf.instances[0].numpy() for lf in labels}
    assert labels.videos[0].shape[1:3] == (96, 72)  # sleap-io reads the photo as stored: 72 wide, 96 high
    turned = orientation == "displayed"
    want = stored_frame_points(recs["phone.png"], 6, (72, 96)) if turned else recs["phone.png"]
    np.testing.assert_allclose(slp["phone.png"], want, atol=2e-3)
    np.testing.assert_allclose(slp[val_images[1].name], recs[val_images[1].name], atol=2e-3)  # untagged: as is
    nwb = sio.load_nwb(str(out / "predictions.nwb"))  # no image is shown with it: the frame predicted
    np.testing.assert_allclose(nwb[0].instances[0].numpy(), recs["phone.png"], atol=2e-3)
    assert ("note: the .slp file has the keypoints of the 1 image(s) turned by their EXIF orientation" in text) == turned


@pytest.mark.parametrize("orientation,size,fix", [("displayed", (72, 96), "stored"), ("stored", (96, 72), "displayed")])
def test_gt_sizes_of_the_other_frame_are_refused_naming_the_orientation(pred_runs, val_images, tmp_path, capsys,
                                                                        orientation, size, fix):
    """--gt gave the photo's stored size and predict turned it (or the reverse): either size was taken, and the
    predictions were scored against people in the other frame, exit code 0."""
    photo = _photo(tmp_path / "phone.png", val_images[0])
    gt = tmp_path / "gt.json"
    for w, h, rc_want in [(*size, 2), (size[1], size[0], 0)]:
        gt.write_text(json.dumps({"images": [{"id": 5, "file_name": "phone.png", "width": w, "height": h}],
                                  "annotations": [], "categories": [{"id": 1, "name": "person"}]}))
        rc = main(["predict", str(pred_runs["adaanchor"]), str(photo), "--gt", str(gt), "--out", str(tmp_path / "o"),
                   "--quiet", "--device", "cpu", "--orientation", orientation, "--no-overlays"])
        err = capsys.readouterr().err
        assert rc == rc_want, err
        if rc:  # the one input skipped: nothing to predict
            assert f"says {w}x{h} for it, its {fix} size, and --orientation {orientation} predicts it {h}x{w}" in err
            assert f"give --orientation {fix} for this ground truth" in err


def _corner_video(path: Path, matrix: tuple[int, int, int, int] | None) -> Path:
    """3 frames, 64x32, a bright top-left corner and a grey top-right one; ``matrix`` ``(a, b, c, d)`` the display
    matrix's 2x2 part."""
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 64, 32, "yuv420p"
        if matrix is not None:
            a, b, cc, d = matrix
            s.set_display_matrix([a << 16, b << 16, 0, cc << 16, d << 16, 0, 0, 0, 1 << 30])
        for _ in range(3):
            img = np.zeros((32, 64, 3), np.uint8)
            img[:8, :8] = 255
            img[:8, -8:] = 120
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


@pytest.mark.parametrize("matrix,what,bright,grey", [
    ((-1, 0, 0, 1), "left-right", (0, -1), (0, 0)),
    ((1, 0, 0, -1), "top-bottom", (-1, 0), (-1, -1)),
    ((0, 1, 1, 0), "about the main diagonal", (0, 0), (-1, 0)),
    ((0, -1, -1, 0), "about the other diagonal", (-1, -1), (0, -1)),
])
def test_a_mirrored_video_is_shown_mirrored_as_ffmpeg_does(tmp_path, matrix, what, bright, grey):
    """``[-1, 0, 0, 1]`` (a front camera's video) was read as ``rotation -180``: the frames upside down. Where the
    corners go is ffmpeg's own autorotate's (checked against ffmpeg 9 for every matrix)."""
    path = _corner_video(tmp_path / "m.mp4", matrix)
    frames = list(read_video(path))
    img = frames[0].image
    assert img.shape[:2] == ((64, 32) if matrix[0] == 0 else (32, 64))
    assert frames[0].turn == f"display matrix mirrored {what}"

    def at(corner):
        cy, cx = corner
        return img[-4 if cy else 3, -4 if cx else 3].mean()

    assert at(bright) > 200 and 80 < at(grey) < 160
    stored = next(read_video(path, "stored"))
    assert stored.image.shape[:2] == (32, 64) and stored.image[3, 3].mean() > 200 and stored.turn == frames[0].turn


def test_a_patched_mirror_matrix_is_applied_and_said(pred_runs, tmp_path, capsys):
    """The auditor's file: a plain MP4 whose track header's matrix was patched to ``[-1, 0, 0, 1]``."""
    plain = write_video(tmp_path / "plain.mp4", 4, (33, 17))
    data = bytearray(plain.read_bytes())
    i = data.index(b"tkhd")
    at = i + 4 + (40 if data[i + 4] == 0 else 52)  # the matrix after the version's fields
    assert struct.unpack(">9i", data[at:at + 36]) == (1 << 16, 0, 0, 0, 1 << 16, 0, 0, 0, 1 << 30)
    data[at:at + 4] = struct.pack(">i", -1 << 16)
    mirrored = tmp_path / "mirrored.mp4"
    mirrored.write_bytes(bytes(data))
    for a, b in zip(read_video(plain), read_video(mirrored)):
        np.testing.assert_array_equal(b.image, a.image[:, ::-1])
    rc = main(["predict", str(pred_runs["adaanchor"]), str(mirrored), "--out", str(tmp_path / "o"), "--quiet",
               "--device", "cpu"])
    assert rc == 0
    assert "mirrored.mp4: display matrix mirrored left-right): turned as a viewer shows them" in capsys.readouterr().out
