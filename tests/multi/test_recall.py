"""Keypoint recall (appendix A.2) on a hand-computed case; AP = recall = 1 for the ground truth; the sweep."""

from __future__ import annotations

import json

import numpy as np
import pytest

from adaanchor.metrics.recall import keypoint_recall
from adaanchor.metrics.sweep import GAMMAS, gamma_sweep, multi_person_metrics, plot_gamma_sweep

SIG = np.full(17, 0.05)  # kappa = 0.1; with area 10000 the cut-off is 0.1 * 100 * sqrt(2 ln 2) = 11.774 px


def _kps(points: dict[int, tuple[float, float]], v: int = 2) -> list[float]:
    out = [0.0] * 51
    for k, (x, y) in points.items():
        out[3 * k: 3 * k + 3] = [x, y, v]
    return out


def _gt() -> dict:
    anns = [  # image 1: person A (nose, left eye), person B (nose); image 2: one nose
        {"id": 1, "image_id": 1, "category_id": 1, "keypoints": _kps({0: (0, 0), 1: (50, 50)}), "bbox": [0, 0, 100, 100], "area": 10000},
        {"id": 2, "image_id": 1, "category_id": 1, "keypoints": _kps({0: (20, 0)}), "bbox": [0, 0, 100, 100], "area": 10000},
        {"id": 3, "image_id": 2, "category_id": 1, "keypoints": _kps({0: (5, 5)}), "bbox": [0, 0, 100, 100], "area": 10000},
    ]
    return {"images": [{"id": 1, "width": 100, "height": 100}, {"id": 2, "width": 100, "height": 100}],
            "annotations": anns, "categories": [{"id": 1, "name": "person"}]}


def _res(points: dict[int, tuple[float, float, float]], score: float = 0.5) -> dict:
    kp = [0.0] * 51
    for k, xys in points.items():
        kp[3 * k: 3 * k + 3] = list(xys)
    return {"image_id": 1, "category_id": 1, "keypoints": kp, "score": score}


def test_recall_by_hand_greedy_in_confidence_order():
    # Noses: p1 (9, 0) score 0.9 goes first, to the closer A (9 px < 11 px to B); p2 (-10, 0) is then 30 px from
    # the free B: no match. Eye: 12 px > 11.774 px: no match. A prediction of an unlabelled type (right eye) does
    # not count. Matched 1 of 4 labelled (A nose, B nose, A eye, image 2's nose).
    res = [_res({0: (9, 0, 0.9), 1: (50, 62, 0.8), 2: (1, 1, 0.9)}), _res({0: (-10, 0, 0.5)})]
    r = keypoint_recall(_gt(), res, sigmas=SIG)
    assert (r["matched"], r["labelled"], r["recall"]) == (1, 4, 0.25)
    # The same points with p2 the more confident: p2 takes A (10 px), then p1 takes B (11 px): 2 of 4.
    res = [_res({0: (9, 0, 0.4)}), _res({0: (-10, 0, 0.5)})]
    assert keypoint_recall(_gt(), res, sigmas=SIG)["recall"] == 0.5
    # Score 0 means missing: never matched.
    assert keypoint_recall(_gt(), [_res({0: (0, 0, 0.0)})], sigmas=SIG)["matched"] == 0


def test_cutoff_is_the_per_keypoint_oks_half():
    just_in = [_res({1: (50, 50 + 11.77, 0.5)})]
    just_out = [_res({1: (50, 50 + 11.78, 0.5)})]
    assert keypoint_recall(_gt(), just_in, sigmas=SIG)["matched"] == 1
    assert keypoint_recall(_gt(), just_out, sigmas=SIG)["matched"] == 0


def test_ground_truth_as_predictions_scores_one(tmp_path):
    rng = np.random.default_rng(0)
    images, anns = [], []
    for i in range(4):
        images.append({"id": i + 1, "width": 200, "height": 200})
        for _j in range(3):
            kp = np.concatenate([rng.uniform(0, 200, (17, 2)), np.full((17, 1), 2)], 1).reshape(-1).tolist()
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": 1, "keypoints": kp, "bbox": [0, 0, 200, 200],
                         "area": 5000.0, "iscrowd": 0, "num_keypoints": 17})
    gt = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}
    res = [{"image_id": a["image_id"], "category_id": 1, "score": 1.0,
            "keypoints": [v if (i % 3) < 2 else 1.0 for i, v in enumerate(a["keypoints"])]} for a in anns]
    m = multi_person_metrics(gt, res)
    assert m["ap"] == pytest.approx(1.0) and m["ap50"] == pytest.approx(1.0) and m["recall"] == 1.0
    sweep = gamma_sweep(lambda g: [r for r in res if r["score"] >= g], gt)
    assert list(sweep["ap_by_gamma"]) == [str(g) for g in GAMMAS]
    assert all(v == pytest.approx(1.0) for v in sweep["ap_by_gamma"].values())
    half = gamma_sweep(lambda g: res[: len(res) // 2], gt, gammas=(0.1,))
    assert half["recall_by_gamma"]["0.1"] == 0.5
    path = plot_gamma_sweep({"a": sweep, "b": half | {"ap_by_gamma": {"0.1": 0.5}}}, tmp_path / "g.png")
    assert path.stat().st_size > 1000
    json.dumps(sweep)


def test_gamma_sweep_plot_puts_its_legend_under_the_panels(tmp_path, monkeypatch):
    """The legend covers no curve: it lies below both panels, one entry per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seen = {}
    monkeypatch.setattr(plt, "close", lambda fig: seen.setdefault("fig", fig))
    curves = {f"m{i}": {"ap_by_gamma": {"0.1": 0.1 * i, "0.5": 0.1 * i}, "recall_by_gamma": {"0.1": 0.5, "0.5": 0.4}}
              for i in range(6)}
    plot_gamma_sweep(curves, tmp_path / "g.png", "t")
    fig = seen["fig"]
    fig.canvas.draw()
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == list(curves)
    box = legend.get_window_extent()
    for ax in fig.axes:
        assert ax.get_legend() is None and box.y1 <= ax.get_window_extent().y0


def test_gamma_sweep_takes_known_metrics_without_predicting_again():
    """An evaluation's own threshold is scored once: the sweep reads it from ``known`` and gives the same numbers."""
    gt = _gt()
    res = [_res({0: (1.0, 0.0, 0.9)}, 0.9), _res({0: (30.0, 0.0, 0.05)}, 0.05)]
    predict = lambda g: [r for r in res if r["score"] >= g]  # noqa: E731
    asked: list[float] = []
    full = gamma_sweep(predict, gt, SIG)
    known = {0.1: multi_person_metrics(gt, predict(0.1), SIG)}
    part = gamma_sweep(lambda g: asked.append(g) or predict(g), gt, SIG, known=known)
    assert part == full and 0.1 not in asked and asked == [g for g in GAMMAS if g != 0.1]
