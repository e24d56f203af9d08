"""What the pictures show where a value is missing, not finite or outside the image (a review of the drawings):
one colour per method in every plot, no bar of 0 for "no value", keypoints outside the image and NaN scores marked,
the keypoints ``viz --keypoints`` chose ringed and named."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from adaanchor.colors import COLORS, method_color  # noqa: E402
from adaanchor.predict.overlay import NAN_SCORE_RGB, NO_SCORE_RGB, confidence_rgb, draw_prediction  # noqa: E402
from adaanchor.predict.predictor import fit_image_affine  # noqa: E402
from adaanchor.predict.result import Prediction  # noqa: E402
from adaanchor.strategies import STRATEGY_NAMES  # noqa: E402

INVISIBLE_RED = "#d62728"  # the invisible ground truth's colour in the demo's grid


def test_every_strategy_has_its_own_colour_and_none_is_the_invisible_red():
    """LocalAnchor had none: the error bars drew it in the heatmap's blue, the prediction grid in the red of the
    invisible ground truth."""
    colors = [method_color(n) for n in STRATEGY_NAMES]
    assert len(set(colors)) == len(colors) and INVISIBLE_RED not in colors and set(COLORS) == set(STRATEGY_NAMES)
    assert method_color("heatmap_ae") == COLORS["heatmap"] and method_color("mine") not in colors


def _pred(kp, scores) -> Prediction:
    return Prediction(np.array([kp], float), None if scores is None else np.array([scores], np.float32), None,
                      np.array([[0.0, 0.0, 160.0, 120.0]]), np.ones(1), fit_image_affine((120, 160), (72, 96))[None],
                      (120, 160))


def _near(img, rgb, y, x, r=4) -> bool:
    patch = img[max(0, y - r): y + r + 1, max(0, x - r): x + r + 1].reshape(-1, 3).astype(int)
    return bool((np.abs(patch - np.array(rgb)).sum(1) <= 40).any())


def test_overlay_marks_keypoints_outside_the_image_at_its_border():
    """A keypoint outside the image was not drawn at all: only its skeleton line ran off the edge."""
    img = np.full((120, 160, 3), 128, np.uint8)
    out = draw_prediction(img, _pred([[-30.0, 60.0], [80.0, 200.0]], [0.1, 0.9]), legend=False)  # 2x: 240 x 320
    assert _near(out, confidence_rgb(0.1), 120, 4) and _near(out, confidence_rgb(0.9), 235, 160)


def test_overlay_nan_scores_and_strategies_without_confidence_are_not_the_red_of_confidence_0():
    img = np.full((120, 160, 3), 128, np.uint8)
    out = draw_prediction(img, _pred([[20.0, 30.0], [100.0, 60.0]], [np.nan, 0.5]), legend=False)
    assert confidence_rgb(np.nan) == NAN_SCORE_RGB != confidence_rgb(0.0) and _near(out, NAN_SCORE_RGB, 61, 41)
    out = draw_prediction(img, _pred([[20.0, 30.0], [100.0, 60.0]], None), legend=True)
    assert NO_SCORE_RGB == (255, 255, 255) and _near(out, NO_SCORE_RGB, 61, 41)
    assert (out[-12:, :120] == 255).all(-1).any()  # the "keypoints: no confidence" label


def test_bars_without_a_value_are_no_bar_of_zero(tmp_path, monkeypatch):
    """Regression's confidence (None) was a bar of 0 next to "N/A" on one group only."""
    from adaanchor.viz import plot_error_score

    seen = {}
    real = plt.Figure.savefig
    monkeypatch.setattr(plt.Figure, "savefig", lambda fig, *a, **k: (seen.setdefault("fig", fig), real(fig, *a, **k)))
    res = {"regression": {"vis_error": 5.0, "inv_error": 7.0, "vis_score": None, "inv_score": None},
           "heatmap": {"vis_error": 4.0, "inv_error": 9.0, "vis_score": 0.6, "inv_score": None}}
    plot_error_score(res, tmp_path / "e.png", "a title")
    score_ax = seen["fig"].axes[1]
    heights = [p.get_height() for p in score_ax.patches]
    assert sum(np.isnan(heights)) == 3 and 0.0 not in heights
    assert sorted(t.get_text() for t in score_ax.texts) == ["heatmap: N/A", "regression: N/A", "regression: N/A"]
    assert seen["fig"]._suptitle.get_text() == "a title"


def test_eval_plot_writes_n_a_for_a_type_without_keypoints_of_a_visibility():
    from adaanchor.eval_plot import _confidence_panel, _keypoint_panel

    fig, (ax0, ax1) = plt.subplots(1, 2)
    try:
        _keypoint_panel(ax0, {"nose": {"vis_error": 3.0, "inv_error": None}, "eye": {"vis_error": 2.0, "inv_error": 4.0}})
        widths = [p.get_width() for p in ax0.patches]
        assert sum(np.isnan(widths)) == 1 and [t.get_text() for t in ax0.texts] == [" n/a"]
        preds = {"pred_orig": np.zeros((2, 2, 2)), "gt_orig": np.ones((2, 2, 2)), "vis": np.full((2, 2), 2),
                 "score": np.full((2, 2), np.nan)}
        _confidence_panel(ax1, preds)  # every score NaN: said, not an empty panel and a legend warning
        assert ax1.get_legend() is None and "no keypoint with a finite confidence" in ax1.texts[0].get_text()
    finally:
        plt.close(fig)


@pytest.mark.parametrize("selected, says", [(None, "mean score 0.500 (1 not finite)"),
                                            ([0], "mean score of a 0.900"), ([1], "no finite score of b")])
def test_the_viz_title_names_the_chosen_keypoints_and_ignores_nan_scores(selected, says):
    """The title said "mean score nan" for one NaN score, and not which keypoints --keypoints had chosen."""
    from adaanchor.anchors_draw import _score_line

    scores = np.array([0.9, np.nan, 0.1])
    sel = [0, 1, 2] if selected is None else selected
    assert _score_line(scores, sel, ["a", "b", "c"]) == says


def test_a_nan_confidence_map_of_one_type_leaves_the_others_drawn():
    """One diverged keypoint type's all-NaN map made the whole maximum NaN: an empty confidence panel."""
    from adaanchor.anchors_draw import _map_panel

    a = fit_image_affine((40, 60), (72, 96))
    cm = np.full((2, 24, 18), 0.3, np.float32)
    cm[1] = np.nan
    pred = {"method": "adaanchor", "keypoints": np.array([[10.0, 12.0], [20.0, 30.0]]), "conf_map": cm, "affine": a,
            "stride": 4}
    fig, ax = plt.subplots()
    try:
        _map_panel(fig, ax, np.zeros((40, 60, 3), np.uint8), pred, ["a", "b"], [0, 1])
        raster = np.asarray(ax.images[-1].get_array(), float)
        assert np.isfinite(raster).any() and np.nanmax(raster) == pytest.approx(0.3)
    finally:
        plt.close(fig)


def test_overlay_keypoints_inside_the_image_near_its_edge_keep_their_dot(monkeypatch):
    """The first version drew a keypoint at x = 0 or on the last column as 'outside' (a triangle)."""
    from adaanchor.predict import overlay

    triangles = []
    real = overlay.cv2.fillPoly
    monkeypatch.setattr(overlay.cv2, "fillPoly", lambda img, pts, *a: (triangles.append(pts), real(img, pts, *a)))
    img = np.full((120, 160, 3), 128, np.uint8)
    draw_prediction(img, _pred([[0.0, 60.0], [159.0, 0.0]], [0.5, 0.5]), legend=False)
    assert triangles == []
    draw_prediction(img, _pred([[-0.7, 60.0], [159.6, 119.0]], [0.5, 0.5]), legend=False)
    assert len(triangles) == 2
