"""Crowd faces: a landmark labelled visible (v=2) should show its own face at its pixel.

The pasted ellipse is grown to hold every landmark with a 2% margin (``_ellipse``), but the visibility test reads
the landmark's *rounded* pixel, up to 0.71 px away: a chin landmark on the rim can round to a pixel outside its
own ellipse, where the canvas shows the background or a farther face, and is still v=2. On the default instances
this is 9 of 114,596 visible landmarks of the evaluation instance's training split, none of its held-out split,
and 6 of the dev instance (1 held-out); canvas 208 of the default training split has one (face 1, landmark 9).
"""

from __future__ import annotations

import numpy as np
import pytest

from adaanchor.bench import crowd_faces as cf


@pytest.mark.skipif(not cf.FACES_ROOT.is_dir(), reason=f"ytfaces-68 not available: {cf.FACES_ROOT} is absent")
@pytest.mark.xfail(strict=True, reason="generator labels a rim landmark v=2 whose rounded pixel is outside its own "
                                       "pasted ellipse (15 of about 255,000 visible landmarks); not changed, as it "
                                       "would change the published crowd-faces numbers")
def test_visible_landmark_pixel_lies_in_its_own_pasted_face():
    cfg = cf.resolve_crowd_faces_config({})
    pool = cf.face_pool(cfg, "train")
    index = 208
    sc = cf.generate_crowd_faces(np.random.default_rng([cfg["seed"], 11, 0, index]), pool, cfg, index)
    for mask, face, vis in zip(sc["masks"], sc["layout"], sc["visibility"]):
        xy = face["kps"][vis == 2]
        rows, cols = np.floor(xy[:, 1] + 0.5).astype(int), np.floor(xy[:, 0] + 0.5).astype(int)
        assert mask[rows, cols].all()
