"""The flip test (``eval.flip_test``): a crop predicted as it is and mirrored, the two averaged."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from adaanchor.config import build_config
from adaanchor.data.spec import load_spec
from adaanchor.errors import AdaAnchorError
from adaanchor.strategies.base import Decoded
from adaanchor.strategies.flip_test import FlipBackend, average_flipped, mirror_back, predict_flip

COCO = load_spec("coco")
FLIP = COCO.flip_index
W = 72


def _mirrored_view(xy: np.ndarray, bias: float = 0.0) -> np.ndarray:
    """What a mirror-equivariant model biased by ``bias`` px in x gives on the mirrored crop."""
    m = xy[:, FLIP].copy()
    m[..., 0] = (W - 1) - m[..., 0]
    m[..., 0] += bias
    return m


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2 ** 31 - 1), st.floats(-5, 5))
def test_mirroring_back_inverts_a_mirror_and_the_average_cancels_a_horizontal_bias(seed, bias):
    xy = np.random.default_rng(seed).uniform(0, W - 1, (3, 17, 2))
    np.testing.assert_allclose(mirror_back(_mirrored_view(xy), FLIP, W), xy, atol=1e-9)
    plain = {"keypoints": xy + [bias, 0.0], "scores": np.full((3, 17), 0.8), "anchors": xy.round()}
    other = {"keypoints": _mirrored_view(xy, bias), "scores": np.full((3, 17), 0.6)[:, FLIP], "anchors": xy * 0}
    out = average_flipped(plain, other, FLIP, W)
    np.testing.assert_allclose(out["keypoints"], xy, atol=1e-9)  # the model's bias in x is gone
    np.testing.assert_allclose(out["scores"], 0.7)
    assert out["anchors"] is plain["anchors"]  # the unmirrored pass's anchor cells


def test_predict_flip_on_tensors_and_the_backend_on_arrays_agree():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.uniform(0, 1, (2, 3, 96, W)).astype(np.float32))

    def predict(t: torch.Tensor) -> Decoded:  # any function of the image: points from its column means
        col = t.mean(dim=(1, 2))  # (B, W)
        xs = (col[:, :17] * 40 + torch.arange(17.0)) % W
        xy = torch.stack([xs, col[:, 17:34] * 90], dim=-1)
        return Decoded(xy, torch.sigmoid(col[:, :17]), xy.round())

    d = predict_flip(predict, x, FLIP)
    a, b = predict(x), predict(torch.flip(x, dims=(-1,)))
    want = (a.xy.numpy() + mirror_back(b.xy.numpy(), FLIP, W)) / 2
    np.testing.assert_allclose(d.xy.numpy(), want, atol=1e-5)
    np.testing.assert_allclose(d.score.numpy(), (a.score.numpy() + b.score.numpy()[:, FLIP]) / 2, atol=1e-6)

    def backend(arr: np.ndarray) -> dict:
        r = predict(torch.from_numpy(arr))
        return {"keypoints": r.xy.numpy(), "scores": r.score.numpy(), "anchors": r.anchor.numpy()}

    out = FlipBackend(backend, FLIP)(x.numpy())
    np.testing.assert_allclose(out["keypoints"], d.xy.numpy(), atol=1e-5)
    np.testing.assert_allclose(out["scores"], d.score.numpy(), atol=1e-6)


def test_every_task_has_a_flip_test_and_a_new_one_is_refused_it(monkeypatch):
    """Top-down averages points, the multi-person tasks merge maps (tests/strategies/test_flip_maps.py); a task added
    to the registry has no flip test until its strategy merges its maps, and says so rather than ignoring it."""
    from adaanchor.strategies.tasks import TASKS, Task, build_bottomup

    assert build_config(None, ["eval.flip_test=true"]).eval.flip_test is True
    assert build_config(None, []).eval.flip_test is False
    assert build_config("bottomup_crowd", ["eval.flip_test=true"]).eval.flip_test is True
    assert build_config("bottomup_crowd", ["task=centre", "eval.flip_test=true"]).eval.flip_test is True
    monkeypatch.setitem(TASKS, "other", Task(build=build_bottomup, multi_person=True))
    assert build_config(None, ["task=other"]).task == "other"
    with pytest.raises(AdaAnchorError, match=r"eval\.flip_test=true: task=other has no flip test"):
        build_config(None, ["task=other", "eval.flip_test=true"])
