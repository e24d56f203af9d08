"""The predictor reads 16-bit images with the run's ``data.bit_depth`` (or one set on the command line), as the
run's training read its images; guessed per image, a dark 12-bit frame read as 8-bit."""

from __future__ import annotations

import numpy as np
from PIL import Image

from adaanchor.predict import Predictor
from adaanchor.predict.sources import Source, iter_frames


def _frame() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 200, (48, 40), dtype=np.uint16)  # a dark 12-bit frame: its largest value is under 256


def _by_hand(x: np.ndarray) -> np.ndarray:
    return np.round(x.astype(np.float64) * 255.0 / 4095.0).astype(np.uint8)


def test_the_predictor_takes_the_run_s_bit_depth_for_arrays_and_files(pred_runs, tmp_path):
    guessed = Predictor.from_run(pred_runs["adaanchor"])
    assert guessed.bit_depth is None
    p = Predictor.from_run(pred_runs["adaanchor"], overrides="data.bit_depth=12")
    assert p.bit_depth == 12 and repr(p).endswith("bit_depth=12)") and "bit_depth" not in repr(guessed)
    frame = _frame()
    f = tmp_path / "dark.png"
    Image.fromarray(frame).save(f)
    want = p.predict(_by_hand(frame)).keypoints
    np.testing.assert_array_equal(p.predict(frame).keypoints, want)
    np.testing.assert_array_equal(p.predict(f).keypoints, want)
    # Guessed, the frame is its own 8 bits: another image.
    np.testing.assert_array_equal(guessed.predict(frame).keypoints, guessed.predict(frame.astype(np.uint8)).keypoints)


def test_predict_s_frames_are_read_with_the_bit_depth(tmp_path):
    frame = _frame()
    f = tmp_path / "dark.png"
    Image.fromarray(frame).save(f)
    skipped: list = []
    (fr,) = iter_frames([Source(f, "image")], skipped.append, "stored", 12)
    np.testing.assert_array_equal(fr.image[..., 0], _by_hand(frame))
    (fr,) = iter_frames([Source(f, "image")], skipped.append, "stored")
    np.testing.assert_array_equal(fr.image[..., 0], frame.astype(np.uint8))
    assert not skipped
