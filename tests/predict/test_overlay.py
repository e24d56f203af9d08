"""Overlay drawing: where the marks land, confidence colours, anchor arrows only when asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adaanchor.predict.overlay import confidence_rgb, draw_prediction, overlay_scale
from adaanchor.predict.predictor import fit_image_affine
from adaanchor.predict.result import Prediction


def _pred(scores=(0.05, 0.95), anchors=True) -> Prediction:
    kp = np.array([[[20.0, 30.0], [100.0, 60.0]]])
    return Prediction(kp, np.array([scores], np.float32), np.array([[[40.0, 30.0], [100.0, 90.0]]]) if anchors else None,
                      np.array([[0.0, 0.0, 160.0, 120.0]]), np.ones(1), fit_image_affine((120, 160), (72, 96))[None],
                      (120, 160))


def _has(img: np.ndarray, rgb, y: int, x: int, r: int = 3) -> bool:
    patch = img[max(0, y - r): y + r + 1, max(0, x - r): x + r + 1].reshape(-1, 3).astype(int)
    return bool((np.abs(patch - np.array(rgb)).sum(1) <= 30).any())


def _yellowish(img: np.ndarray) -> np.ndarray:
    """Pixels where the anchor yellow shows, even blended into the grey by anti-aliasing."""
    c = img.astype(int)
    return (c[..., 0] - c[..., 2] > 50) & (c[..., 1] - c[..., 2] > 50)


def test_keypoints_are_coloured_by_confidence_where_they_are():
    img = np.full((120, 160, 3), 128, np.uint8)
    f = overlay_scale((120, 160))
    assert f == 2  # round(360 / 160)
    out = draw_prediction(img, _pred(), skeleton=[(0, 1)], anchors=True, stride=4, legend=False)
    assert out.shape == (240, 320, 3)
    at = lambda x, y: (int(round((y + 0.5) * f - 0.5)), int(round((x + 0.5) * f - 0.5)))  # noqa: E731
    assert _has(out, confidence_rgb(0.05), *at(20, 30)) and _has(out, confidence_rgb(0.95), *at(100, 60))
    assert confidence_rgb(0.05)[0] > confidence_rgb(0.05)[1] and confidence_rgb(0.95)[1] > confidence_rgb(0.95)[0]
    # The arrow runs from the anchor (40, 30) towards the keypoint: yellow half way between them.
    y, x = at(30, 30)
    assert _yellowish(out)[y - 2: y + 3, x - 2: x + 3].any()
    assert img.mean() == 128  # the input is not drawn on


def test_no_anchor_arrows_when_not_asked_or_unknown():
    img = np.full((120, 160, 3), 128, np.uint8)
    for out in (draw_prediction(img, _pred(), anchors=False, legend=False),
                draw_prediction(img, _pred(anchors=False), legend=False)):
        assert not _yellowish(out).any()


def test_large_images_are_not_enlarged():
    assert overlay_scale((720, 1280)) == 1 and overlay_scale((96, 72)) == 4


def test_far_boxes_and_keypoints_are_drawn_clipped_not_an_opencv_error():
    """A detection box 1e8 pixels wide (OpenCV's int32 fixed-point coordinates overflowed: "Can't parse 'pt2'"),
    keypoints far outside the image or not finite: the part inside the image is drawn."""
    img = np.full((120, 160, 3), 128, np.uint8)
    kp = np.array([[[20.0, 30.0], [1e12, -1e12]], [[np.nan, 5.0], [np.inf, -np.inf]]])
    pred = Prediction(kp, np.full((2, 2), 0.9, np.float32), None, np.array([[1.0, 2.0, 1e8, 1e8], [5, 5, 20, 20]]),
                      np.ones(2), np.repeat(fit_image_affine((120, 160), (72, 96))[None], 2, 0), (120, 160))
    out = draw_prediction(img, pred, skeleton=[(0, 1)], legend=False)
    f = overlay_scale((120, 160))
    assert out.shape == (120 * f, 160 * f, 3) and (out != 128).any()
    assert _has(out, confidence_rgb(0.9), int(round(30.5 * f - 0.5)), int(round(20.5 * f - 0.5)))


@pytest.mark.parametrize("flag", ["anchors", "legend", "draw_boxes", "multi_person"])
def test_a_word_for_a_drawing_flag_is_refused(flag):
    """``anchors="no"`` is truthy: arrows, legend and boxes were drawn."""
    with pytest.raises(TypeError, match=rf"{flag}: expected True or False,? .*got 'no'"):
        draw_prediction(np.full((120, 160, 3), 128, np.uint8), _pred(), **{flag: "no"})


def test_a_numpy_integer_category_id_is_taken():
    from adaanchor.metrics.results import predictions_to_coco_results

    assert predictions_to_coco_results([0], np.zeros((1, 2, 2)), category_id=np.int64(3))[0]["category_id"] == 3


def test_no_skeleton_and_no_names_are_named():
    """``'NoneType' object is not iterable`` named neither argument."""
    from adaanchor.metrics.keypoint import errors_by_keypoint

    with pytest.raises(TypeError, match=r"skeleton: expected a list of keypoint index pairs \(or \(\) for none\)"):
        draw_prediction(np.full((120, 160, 3), 128, np.uint8), _pred(), None)
    with pytest.raises(TypeError, match="names: expected a list of keypoint names, got None"):
        errors_by_keypoint(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)), np.ones((1, 2)), None)


def _legend_at(out: np.ndarray) -> str:
    """The corner of a drawing holding the confidence bar's red end (the only saturated red on a grey image)."""
    c = out.astype(int)
    red = (c[..., 0] > 150) & (c[..., 1] < 80) & (c[..., 2] < 80)
    ys, xs = np.nonzero(red)
    assert ys.size, "no colour bar"
    h, w = out.shape[:2]
    return ("top" if ys.mean() < h / 2 else "bottom") + "-" + ("left" if xs.mean() < w / 2 else "right")


def _one_keypoint_at(x: float, y: float, scores=(0.95,)) -> Prediction:
    kp = np.array([[[x, y]]])
    return Prediction(kp, None if scores is None else np.array([scores], np.float32), None,
                      np.array([[0.0, 0.0, 160.0, 120.0]]), np.ones(1), fit_image_affine((120, 160), (72, 96))[None],
                      (120, 160))


@pytest.mark.parametrize("where,corner", [((80, 60), "bottom-left"), ((12, 112), "bottom-right"),
                                          ((20, 112), "bottom-right")])
def test_the_legend_takes_a_corner_that_hides_no_keypoint(where, corner):
    """The colour bar was always drawn bottom-left, over the feet of a person standing at the bottom of the picture:
    it now takes the first corner (bottom-left, bottom-right, top-left, top-right) that covers no keypoint."""
    from adaanchor.predict.overlay import legend_corner

    img = np.full((120, 160, 3), 128, np.uint8)
    pred = _one_keypoint_at(*where)
    assert legend_corner(pred) == corner
    assert _legend_at(draw_prediction(img, pred)) == corner


def test_the_legend_takes_the_corner_covering_the_fewest_marks_or_the_one_named():
    from adaanchor.predict.overlay import legend_corner
    from adaanchor.predict.overlay_legend import LEGEND_CORNERS

    img = np.full((120, 160, 3), 128, np.uint8)
    kp = np.array([[[10.0, 112.0], [150.0, 112.0], [150.0, 114.0], [10.0, 5.0], [150.0, 5.0], [152.0, 6.0]]])
    pred = Prediction(kp, np.full((1, 6), 0.9, np.float32), None, np.array([[0.0, 0.0, 160.0, 120.0]]), np.ones(1),
                      fit_image_affine((120, 160), (72, 96))[None], (120, 160))
    assert legend_corner(pred) == "bottom-left"  # one mark there, two in each right corner; top-left has one too
    kp[0, 1] = [20.0, 110.0]  # now two bottom-left, one in each of the other bottom and top-left, two top-right
    assert legend_corner(pred) == "bottom-right"
    kp[0, 2] = [25.0, 112.0]  # three bottom-left, none bottom-right
    assert legend_corner(pred) == "bottom-right"
    kp[0, 2] = [140.0, 110.0]
    kp[0, 1] = [145.0, 104.0]  # one bottom-left, three bottom-right, one top-left: bottom-left first
    assert legend_corner(pred) == "bottom-left"
    kp[0, 0] = [30.0, 108.0]
    kp[0, 3] = [90.0, 60.0]  # ... and none top-left
    assert legend_corner(pred) == "top-left"
    for corner in LEGEND_CORNERS:  # a video's frames keep one corner
        assert _legend_at(draw_prediction(img, pred, legend=corner)) == corner


def test_the_no_confidence_label_moves_as_the_bar_does():
    from adaanchor.predict.overlay import legend_corner

    img = np.full((120, 160, 3), 128, np.uint8)
    for where, corner in (((80, 60), "bottom-left"), ((8, 114), "bottom-right")):
        pred = _one_keypoint_at(*where, scores=None)
        assert legend_corner(pred) == corner
        out = draw_prediction(img, pred, legend=True)
        white = (out.astype(int) > 240).all(-1)
        h, w = white.shape
        half = white[h // 2:, : w // 2] if corner == "bottom-left" else white[h // 2:, w // 2:]
        assert half.sum() > 20  # the label's white text is in that corner


def test_a_labelled_video_keeps_its_first_frames_legend_corner(monkeypatch):
    """The corner is chosen per drawing: on a video the legend would jump from corner to corner."""
    from types import SimpleNamespace

    import adaanchor.predict.output_groups as command

    corners = []
    monkeypatch.setattr(command, "draw_prediction", lambda *a, **k: corners.append(k["legend"]) or np.zeros((2, 2, 3)))
    g = SimpleNamespace(legend=True, video=SimpleNamespace(write=lambda img, t: None))
    predictor = SimpleNamespace(skeleton=[], has_anchors=False, stride=4, multi_person=False)
    frames = [_one_keypoint_at(80, 60), _one_keypoint_at(12, 112)]  # bottom-left free, then not
    for pred in frames:
        command.draw_frame(SimpleNamespace(kind="video", image=None, time=0.0), pred, g, predictor, True, 0.0, None, set())
    assert corners == ["bottom-left", "bottom-left"]
    image = SimpleNamespace(kind="image", image=None, source=SimpleNamespace(stem="a"))
    monkeypatch.setattr(command, "save_png", lambda img, path: None)
    command.draw_frame(image, frames[1], g, predictor, True, 0.0, Path("."), set())
    assert corners[-1] is True  # an image's overlay takes its own corner
