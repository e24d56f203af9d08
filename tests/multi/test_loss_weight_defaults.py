"""The multi-person loss weights' defaults, as docs/multi-person.md ("Weight") and docs/centre.md ("Weights") state
them: the tag weight and the pose-offset weight depend on the dense strategy's confidence loss (the heatmap's MSE or
the anchors' focal loss), and a given value replaces the default."""

from __future__ import annotations

import pytest

from adaanchor.strategies.centre import build_centre
from adaanchor.strategies.tags import build_bottomup


@pytest.mark.parametrize(("name", "tag", "pose"), [("heatmap", 1e-3, 0.03), ("adaanchor", 0.1, 3.0),
                                                   ("fixanchor", 0.1, 3.0)])
def test_the_default_weights_follow_the_confidence_loss(name, tag, pose):
    ae = build_bottomup({"name": name}, {}, 17, 4, (64, 48))
    assert ae.losses["tags"][1] == pytest.approx(tag)
    assert build_bottomup({"name": name}, {"lambda_tag": 0.5}, 17, 4, (64, 48)).losses["tags"][1] == 0.5
    centre = build_centre({"name": name}, {}, 17, 4, (64, 48))
    assert centre.losses["poseoff"] == ("l1_scaled", pytest.approx(pose))
    assert build_centre({"name": name}, {"lambda_pose": 0.5}, 17, 4, (64, 48)).losses["poseoff"][1] == 0.5
