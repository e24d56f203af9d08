"""``Predictor.from_run(RUN, overrides="key=value")``: one string is one override, as ``visualize_command`` takes
it (it was read letter by letter: "override 'b' must look like key=value"); a list works as before."""

from __future__ import annotations

import pytest

from adaanchor.errors import AdaAnchorError
from adaanchor.predict import Predictor


def test_one_override_string_is_applied(pred_runs):
    p = Predictor.from_run(pred_runs["adaanchor"], overrides="eval.batch_size=3")
    assert p.predict(__import__("numpy").zeros((20, 30, 3), "uint8")).keypoints.shape[0] == 1
    q = Predictor.from_run(pred_runs["adaanchor"], overrides=["eval.batch_size=3"])
    assert q.keypoint_names == p.keypoint_names


def test_a_bad_override_string_names_itself(pred_runs):
    with pytest.raises(AdaAnchorError, match=r"unknown config key 'eval\.batch_sise'"):
        Predictor.from_run(pred_runs["adaanchor"], overrides="eval.batch_sise=3")
