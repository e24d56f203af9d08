"""``eval.flip_test`` through the predictor (torch and ONNX backends) and ``adaanchor eval``."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from adaanchor.cli import main
from adaanchor.data.spec import load_spec
from adaanchor.predict import Predictor

FLIP = load_spec("coco").flip_index


def _by_hand(plain: Predictor, img: np.ndarray):
    """The flip test from two plain predictions: of the image and of its mirror, mirrored back (whole-image mode:
    the mirror's crop is the crop's mirror), labels swapped."""
    a = plain.predict(img)
    b = plain.predict(np.ascontiguousarray(img[:, ::-1]))
    kb = b.keypoints[0][FLIP].copy()
    kb[:, 0] = (img.shape[1] - 1) - kb[:, 0]
    return (a.keypoints[0] + kb) / 2, (a.scores[0] + b.scores[0][FLIP]) / 2


def test_the_predictor_flip_test_is_the_mean_of_the_two_passes(pred_runs, val_images, tmp_path):
    img = np.asarray(Image.open(val_images[0]).convert("RGB"))
    plain = Predictor.from_run(pred_runs["adaanchor"], device="cpu")
    flip = Predictor.from_run(pred_runs["adaanchor"], device="cpu", overrides="eval.flip_test=true")
    assert flip.info["flip_test"] and "flip_test" not in plain.info
    assert "flip_test=True" in repr(flip) and "flip_test" not in repr(plain)
    kp, sc = _by_hand(plain, img)
    got = flip.predict(img)
    np.testing.assert_allclose(got.keypoints[0], kp, atol=2e-3)
    np.testing.assert_allclose(got.scores[0], sc, atol=1e-5)
    # onnx_path outside the shared run: the run's own export folder is another test's business
    onnx = Predictor.from_run(pred_runs["adaanchor"], device="cpu", backend="onnx", overrides="eval.flip_test=true",
                              onnx_path=tmp_path / "flip.onnx")
    np.testing.assert_allclose(onnx.predict(img).keypoints[0], kp, atol=2e-2)


def test_eval_with_the_flip_test(pred_runs, tmp_path):
    run = str(pred_runs["adaanchor"])
    assert main(["eval", run, "--json", str(tmp_path / "a.json")]) == 0
    assert main(["eval", run, "eval.flip_test=true", "--json", str(tmp_path / "b.json")]) == 0
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("a.json", "b.json"))
    assert a["vis_error"] != b["vis_error"] and np.isfinite(b["vis_error"])
