"""``draw_prediction(path, pred)`` reads a file with an EXIF orientation as the Predictor that made ``pred`` read
it: with ``orientation="stored"`` the keypoints are in the stored pixels, and a square photo was drawn on the
turned ones (same size, so the size check let it through: every mark on the wrong place)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from adaanchor.predict import Predictor
from adaanchor.predict.overlay import draw_prediction


@pytest.fixture
def square_photo(tmp_path):
    img = np.zeros((64, 64, 3), np.uint8)
    img[:16, :40] = 255  # not symmetric under a quarter turn
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "square.png"
    Image.fromarray(img).save(path, exif=exif)
    return path


@pytest.mark.parametrize("orientation", ["stored", "displayed"])
def test_a_file_is_drawn_in_the_frame_it_was_predicted_in(pred_runs, square_photo, orientation):
    p = Predictor.from_run(pred_runs["adaanchor"], device="cpu", orientation=orientation)
    pred = p.predict(square_photo)
    im = Image.open(square_photo)
    pixels = np.asarray((im if orientation == "stored" else ImageOps.exif_transpose(im)).convert("RGB"))
    from_file = draw_prediction(square_photo, pred, p.skeleton)
    assert np.array_equal(from_file, draw_prediction(pixels, pred, p.skeleton))
    assert np.array_equal(draw_prediction(Image.open(square_photo), pred, p.skeleton), from_file)
    assert pred.meta["orientation"] == orientation


def test_every_prediction_of_a_batch_and_a_stream_says_its_orientation(pred_runs, square_photo):
    p = Predictor.from_run(pred_runs["adaanchor"], device="cpu", orientation="stored")
    assert [q.meta["orientation"] for q in p.predict([square_photo, np.zeros((9, 9, 3), np.uint8)])] == ["stored"] * 2
    assert [q.meta for _, q in p.predict_stream([(square_photo, None, 0)])] == [{"orientation": "stored"}]
