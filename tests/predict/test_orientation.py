"""Orientation: image files with an EXIF orientation tag and videos with a display rotation are predicted as a
viewer shows them (``orientation="displayed"``, the default), or as stored; what was done is said."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adaanchor.cli import main
from adaanchor.errors import AdaAnchorError
from adaanchor.predict import Predictor
from adaanchor.predict.sources import expand_sources, iter_frames, read_video
from root_helpers import write_video


def _portrait_photo(path: Path, src: Path) -> tuple[Path, np.ndarray]:
    """``src``'s pixels stored turned a quarter (as a phone stores a portrait photo), with EXIF orientation 6
    (a viewer turns them back 90 degrees clockwise). Returns the file and the upright pixels."""
    upright = np.asarray(Image.open(src).convert("RGB"))
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # counterclockwise: what orientation 6 undoes
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(path, exif=exif)  # PNG (its eXIf chunk): the pixels come back exactly
    return path, upright


@pytest.fixture
def photo(val_images, tmp_path) -> tuple[Path, np.ndarray]:
    return _portrait_photo(tmp_path / "phone.png", val_images[0])


def test_image_files_and_pil_images_are_turned_as_displayed_by_default(pred_runs, photo):
    path, upright = photo
    p = Predictor.from_run(pred_runs["adaanchor"], device="cpu")
    shown = p.predict(path)
    assert shown.image_hw == upright.shape[:2] == (96, 72)
    np.testing.assert_allclose(p.predict(Image.open(path)).keypoints, shown.keypoints)  # a PIL image: the same
    np.testing.assert_allclose(p.predict(upright).keypoints, shown.keypoints)  # the upright pixels as an array
    stored = Predictor.from_run(pred_runs["adaanchor"], device="cpu", orientation="stored").predict(path)
    assert stored.image_hw == (72, 96)
    with pytest.raises(AdaAnchorError, match="orientation must be one of displayed, stored, got 'upright'"):
        Predictor.from_run(pred_runs["adaanchor"], device="cpu", orientation="upright")


@pytest.mark.parametrize("orientation,size,says", [
    ("displayed", (72, 96), "turned as a viewer shows them"),
    ("stored", (96, 72), "that was not applied: the model saw the stored pixels"),
])
def test_predict_turns_a_tagged_photo_and_says_so(pred_runs, photo, tmp_path, capsys, orientation, size, says):
    path, _ = photo
    out = tmp_path / "o"
    capsys.readouterr()
    rc = main(["predict", str(pred_runs["adaanchor"]), str(path), "--out", str(out), "--quiet", "--device", "cpu",
               "--orientation", orientation])
    text = capsys.readouterr().out
    assert rc == 0
    assert f"note: 1 input(s) carry an orientation (e.g. {path}: EXIF orientation 6)" in text and says in text
    overlay = Image.open(out / "overlays" / "phone.png")
    assert overlay.size[0] / overlay.size[1] == pytest.approx(size[0] / size[1])
    xy = np.asarray(json.loads((out / "predictions.json").read_text())[0]["keypoints"]).reshape(-1, 3)[:, :2]
    ref = Predictor.from_run(pred_runs["adaanchor"], device="cpu", orientation=orientation).predict(path)
    assert ref.image_hw == size[::-1]
    np.testing.assert_allclose(xy, ref.keypoints[0], atol=1e-3)  # in the frame the model saw


def test_an_untagged_input_says_nothing(pred_runs, val_images, tmp_path, capsys):
    capsys.readouterr()
    assert main(["predict", str(pred_runs["adaanchor"]), str(val_images[0]), "--out", str(tmp_path / "o"), "--quiet",
                 "--device", "cpu"]) == 0
    assert "orientation" not in capsys.readouterr().out


def _rotated_video(path: Path, degrees: int) -> Path:
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 64, 32, "yuv420p"
        s.set_display_rotation(degrees)
        for _ in range(3):
            img = np.zeros((32, 64, 3), np.uint8)
            img[:8, :8] = 255  # a bright top-left corner
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


@pytest.mark.parametrize("degrees,corner", [(-90, (0, -1)), (90, (-1, 0)), (180, (-1, -1))])
def test_a_video_with_a_display_rotation_is_turned_as_a_player_shows_it(tmp_path, degrees, corner):
    """The rotation is counterclockwise (FFmpeg's display matrix): -90 is a phone's portrait video, shown turned
    90 degrees clockwise, so the stored top-left corner is shown at the top right."""
    path = _rotated_video(tmp_path / "r.mp4", degrees)
    frames = list(read_video(path))
    img = frames[0].image
    assert img.shape[:2] == ((64, 32) if degrees % 180 else (32, 64))
    cy, cx = corner
    assert img[cy * 3 if cy < 0 else 3, cx * 3 if cx < 0 else 3].mean() > 200  # the bright corner moved there
    assert frames[0].turn == f"rotation {degrees if degrees != 180 else -180}"
    stored = next(read_video(path, "stored"))
    assert stored.image.shape[:2] == (32, 64) and stored.image[3, 3].mean() > 200 and stored.turn == frames[0].turn


def test_iter_frames_turns_images_and_videos_alike(photo, tmp_path):
    path, upright = photo
    video = _rotated_video(tmp_path / "r.mp4", -90)
    plain = write_video(tmp_path / "plain.mp4", 2)
    srcs, _ = expand_sources([str(path), str(video), str(plain)])
    frames = list(iter_frames(srcs, lambda s: None))
    assert frames[0].image.shape == upright.shape and frames[0].turn == "EXIF orientation 6"
    assert frames[1].image.shape[:2] == (64, 32) and frames[1].turn == "rotation -90"
    assert frames[-1].turn is None
    stored = list(iter_frames(srcs, lambda s: None, "stored"))
    assert stored[0].image.shape == (72, 96, 3) and stored[0].turn == "EXIF orientation 6"


def test_viz_draws_a_tagged_photo_as_displayed_or_as_stored(pred_runs, photo, tmp_path):
    from adaanchor.anchors_viz import visualize_command

    path, _ = photo
    shown = visualize_command(str(pred_runs["adaanchor"]), [str(path)], str(tmp_path / "a"))[0]
    stored = visualize_command(str(pred_runs["adaanchor"]), [str(path)], str(tmp_path / "b"), orientation="stored")[0]
    assert Image.open(shown).size != Image.open(stored).size  # the image panel is upright in one, turned in the other


@pytest.mark.parametrize("orientation, says", [("displayed", "turned as a viewer shows them"),
                                               ("stored", "that was not applied")])
def test_viz_says_which_inputs_carried_an_orientation(pred_runs, photo, val_images, tmp_path, capsys, orientation,
                                                      says):
    # As predict says it; viz said nothing.
    path, _ = photo
    capsys.readouterr()
    assert main(["viz", str(pred_runs["adaanchor"]), str(path), str(val_images[0]), "--out", str(tmp_path / "v"),
                 "--orientation", orientation]) == 0
    err = capsys.readouterr().err
    assert f"note: 1 input(s) carry an orientation (e.g. {path}: EXIF orientation 6)" in err and says in err
    assert main(["viz", str(pred_runs["adaanchor"]), str(val_images[0]), "--out", str(tmp_path / "w")]) == 0
    assert "orientation" not in capsys.readouterr().err
