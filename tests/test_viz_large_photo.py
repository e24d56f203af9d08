"""``viz`` on a large photo: each panel draws the image shrunk to about its own pixels (an 8000 x 6000 photo took
4.65 GB: matplotlib drew it at full size, the gray panel as a float64 copy), on the same coordinates."""

from __future__ import annotations

import matplotlib.axes
import numpy as np

from adaanchor.anchors_draw import SHOWN_SIDE, _shown, render_prediction


def test_a_small_image_is_drawn_as_it_is_and_a_large_one_shrunk_on_the_same_coordinates():
    small = np.random.default_rng(0).integers(0, 256, (96, 72, 3), dtype=np.uint8)
    shown, extent = _shown(small)
    assert shown is small and extent == (-0.5, 71.5, 95.5, -0.5)  # imshow's own extent for it
    big = np.zeros((3000, 4000, 3), np.uint8)
    big[:, 2000:] = 200  # right half light: it stays on the right half of the shrunk image
    shown, extent = _shown(big)
    assert shown.shape == (900, SHOWN_SIDE, 3) and shown.dtype == np.uint8 and extent == (-0.5, 3999.5, 2999.5, -0.5)
    assert shown[:, : SHOWN_SIDE // 2 - 1].max() == 0 and shown[:, SHOWN_SIDE // 2 + 1:].min() == 200
    gray, _ = _shown(big, gray=True)
    assert gray.shape == (900, SHOWN_SIDE) and gray.dtype == np.uint8


def test_render_draws_no_panel_at_the_photos_full_size(tmp_path, monkeypatch):
    drawn: list[tuple[tuple[int, ...], object]] = []
    real = matplotlib.axes.Axes.imshow

    def imshow(self, x, *a, **k):
        drawn.append((np.shape(x), k.get("extent")))
        return real(self, x, *a, **k)

    monkeypatch.setattr(matplotlib.axes.Axes, "imshow", imshow)
    img = np.full((2400, 3200, 3), 90, np.uint8)
    k = 3
    pred = {"keypoints": np.array([[100.0, 200.0], [3000.0, 2000.0], [1600.0, 1200.0]]), "scores": np.full(k, 0.5),
            "anchors": None, "conf_map": np.zeros((k, 24, 18), np.float32), "affine": np.array([[0.0225, 0, 0], [0, 0.04, 0]]),
            "crop_anchors": None, "stride": 4, "method": "heatmap", "box": None, "map_label": "heatmap"}
    out = render_prediction(img, pred, tmp_path / "p.png")
    assert out.stat().st_size > 0
    photos = [shape for shape, extent in drawn if extent == (-0.5, 3199.5, 2399.5, -0.5)]
    assert photos == [(900, 1200, 3), (900, 1200)]  # the keypoint panel and the gray map panel, shrunk
    assert len(drawn) == 3  # and the confidence map, drawn at the view's own raster size
