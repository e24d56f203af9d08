"""The crop geometry and the run's checkpoint as a library user gives them, at the edges an audit found."""

from __future__ import annotations

import numpy as np
import pytest

from adaanchor.errors import AdaAnchorError
from adaanchor.predict import Predictor
from adaanchor.predict.crops import box_affine, fit_image_affine


@pytest.mark.parametrize("call, says", [
    (lambda: box_affine(np.array([0, 0, 10, 10, 1.0]), (72, 96)), r"box: expected \[x, y, w, h\] with w, h > 0 "
                                                                  r"\(the detection score apart\), got \[0.0, 0.0, 10.0, 10.0, 1.0\]"),
    (lambda: box_affine([0, 0, 0, 10], (72, 96)), r"box: expected \[x, y, w, h\] with w, h > 0"),
    (lambda: box_affine([0, 0, np.nan, 10], (72, 96)), r"box: expected \[x, y, w, h\] with w, h > 0"),
    (lambda: box_affine([0, 0, 10, 10], (0, 96)), r"input_size: expected \(W, H\), two sizes > 0 in pixels"),
    (lambda: fit_image_affine((0, 10), (72, 96)), r"image_hw: expected \(H, W\), two sizes > 0 in pixels, got \(0, 10\)"),
    (lambda: fit_image_affine((96, 200), (0, 96)), r"input_size: expected \(W, H\)"),
    (lambda: fit_image_affine((96,), (72, 96)), r"image_hw: expected \(H, W\)"),
])
def test_the_public_affines_refuse_what_predict_refuses(call, says):
    """A 5-value box was "too many values to unpack", a zero-width box and a 0-pixel image gave an affine (predict
    refuses both), an input width of 0 a ZeroDivisionError."""
    with pytest.raises(ValueError, match=says):
        call()


def test_the_public_affines_still_map_as_before():
    a = box_affine([10, 20, 30, 40], (72, 96))
    assert a.shape == (2, 3) and np.isfinite(a).all()
    assert fit_image_affine((96, 72), (72, 96)) == pytest.approx(np.array([[1.0, 0, 0], [0, 1.0, 0]]))


def test_two_checkpoints_given_are_refused(pred_runs):
    """``from_run(RUN/checkpoints/last.pt, ckpt=OTHER)`` loaded the second file without a word, and ``info["run"]``
    named the first run."""
    run = pred_runs["regression"]
    other = pred_runs["adaanchor"] / "checkpoints" / "last.pt"
    with pytest.raises(AdaAnchorError, match=rf"two checkpoints given: {run / 'checkpoints' / 'last.pt'} \(as the run\) "
                                             rf"and ckpt={other}: give one of them"):
        Predictor.from_run(run / "checkpoints" / "last.pt", ckpt=other, device="cpu")
    same = Predictor.from_run(run / "checkpoints" / "last.pt", ckpt=run / "checkpoints" / "last.pt", device="cpu")
    assert same.info["run"] == str(run)  # the same file twice: nothing to choose between
