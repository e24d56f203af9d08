"""The flip test's merge rules of the anchor strategies: for the anchor offsets
(:func:`adaanchor.strategies.flip_test.weighted_offsets`), ``weighted`` averages the two passes' offsets weighted by
each pass's confidence at the cell, ``max`` takes the offset of the more confident pass, ``mean``
(:func:`mean_offsets`) weighs them alike; for the confidences, ``mean`` or ``plain`` (the plain pass's)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from adaanchor.data.spec import load_spec
from adaanchor.strategies.flip_test import mean_offsets, mirror_pairs, weighted_offsets
from adaanchor.strategies.tags import build_bottomup

FLIP = load_spec("coco").flip_index
K, H, W = 17, 6, 8


def _maps(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(2, 2 * K, H, W, generator=g), torch.randn(2, 2 * K, H, W, generator=g),
            3 * torch.randn(2, K, H, W, generator=g), 3 * torch.randn(2, K, H, W, generator=g))


@pytest.mark.parametrize("seed", range(3))
def test_equal_confidences_give_the_mean(seed):
    a, m, ca, _ = _maps(seed)
    mirrored_conf = torch.flip(ca[:, FLIP], dims=(-1,))  # the mirror of ca: the same confidence at every cell
    got = weighted_offsets(a, m, ca, mirrored_conf, FLIP, "weighted")
    torch.testing.assert_close(got, mean_offsets(a, m, FLIP), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_weights_follow_each_pass_confidence(seed):
    a, m, ca, cm = _maps(seed)
    got = weighted_offsets(a, m, ca, cm, FLIP, "weighted").reshape(2, K, 2, H, W)
    pa = torch.sigmoid(ca).unsqueeze(2)
    pm = torch.sigmoid(torch.flip(cm, dims=(-1,))[:, FLIP]).unsqueeze(2)
    mb = mirror_pairs(m, FLIP).reshape(2, K, 2, H, W)
    want = (a.reshape(2, K, 2, H, W) * pa + mb * pm) / (pa + pm)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6)
    # the result lies between the two passes' offsets, element by element
    lo, hi = torch.minimum(a.reshape(got.shape), mb), torch.maximum(a.reshape(got.shape), mb)
    assert bool(((got >= lo - 1e-6) & (got <= hi + 1e-6)).all())


def test_max_takes_the_more_confident_pass_and_plain_on_a_tie():
    a, m, ca, _ = _maps(5)
    mb = mirror_pairs(m, FLIP)
    # the plain pass confident in the top half of the map, the mirrored pass in the bottom half
    conf_a = torch.where(torch.arange(H).view(1, 1, H, 1) < H // 2, 4.0, -4.0).expand(2, K, H, W)
    conf_m_back = -conf_a  # as the input's cells; the mirrored pass's own maps are its mirror
    conf_m = torch.flip(conf_m_back, dims=(-1,))[:, FLIP]
    got = weighted_offsets(a, m, conf_a, conf_m, FLIP, "max")
    top = torch.arange(H) < H // 2
    torch.testing.assert_close(got[..., top, :], a[..., top, :])
    torch.testing.assert_close(got[..., ~top, :], mb[..., ~top, :])
    tie = weighted_offsets(a, m, ca, torch.flip(ca[:, FLIP], dims=(-1,)), FLIP, "max")
    torch.testing.assert_close(tie, a)


@pytest.mark.parametrize("logit", [-30.0, -100.0, -200.0])
def test_equal_confidences_too_small_for_float32_still_give_the_mean(logit):
    """sigmoid(-100) is 0 in float32: the weights are taken from the logits' difference, not from p / (p + p)."""
    a, m, _, _ = _maps(2)
    conf = torch.full((2, K, H, W), logit)
    torch.testing.assert_close(weighted_offsets(a, m, conf, conf, FLIP, "weighted"), mean_offsets(a, m, FLIP),
                               atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_max_picks_per_cell_and_type_after_mirroring_the_confidences(seed):
    """Random confidences: the mirrored pass's confidence is compared at the mirrored cell of the swapped type."""
    a, m, ca, cm = _maps(seed)
    got = weighted_offsets(a, m, ca, cm, FLIP, "max").reshape(2, K, 2, H, W)
    back = torch.flip(cm, dims=(-1,))[:, FLIP]
    pick_plain = (ca >= back).unsqueeze(2)
    want = torch.where(pick_plain, a.reshape(2, K, 2, H, W), mirror_pairs(m, FLIP).reshape(2, K, 2, H, W))
    torch.testing.assert_close(got, want)
    assert 0.2 < float(pick_plain.float().mean()) < 0.8  # both passes win somewhere


def test_a_confident_pass_wins_the_weighted_mean_too():
    a, m, _, _ = _maps(7)
    sure, unsure = torch.full((2, K, H, W), 30.0), torch.full((2, K, H, W), -30.0)
    torch.testing.assert_close(weighted_offsets(a, m, sure, unsure, FLIP, "weighted"), a, atol=1e-6, rtol=0)
    torch.testing.assert_close(weighted_offsets(a, m, unsure, sure, FLIP, "weighted"), mirror_pairs(m, FLIP),
                               atol=1e-6, rtol=0)
    # a confident pass against one sure it is no anchor (sigmoid 0 in float32): the confident pass's offset
    nothing = torch.full((2, K, H, W), -200.0)
    torch.testing.assert_close(weighted_offsets(a, m, sure, nothing, FLIP, "weighted"), a, atol=1e-6, rtol=0)


def test_an_unknown_rule_is_refused():
    a, m, ca, cm = _maps(0)
    with pytest.raises(ValueError, match="mean, weighted or max"):
        weighted_offsets(a, m, ca, cm, FLIP, "median")


@pytest.mark.parametrize("rule", ["weighted", "max"])
def test_the_strategy_merges_its_anchor_offsets_by_the_rule_and_local_offsets_by_the_mean(rule):
    st = build_bottomup({"name": "adaanchor"}, None, K, 4, (W * 4, H * 4))
    a, m, ca, cm = _maps(3)
    plain = {"conf": ca, "offset": a, "local": a * 0.5, "tags": ca}
    mirrored = {"conf": cm, "offset": m, "local": m * 0.5, "tags": cm}
    st.inner.flip_offsets = rule
    out = st.flip_merge(plain, mirrored, np.asarray(FLIP))
    torch.testing.assert_close(out["offset"], weighted_offsets(a, m, ca, cm, FLIP, rule))
    torch.testing.assert_close(out["local"], mean_offsets(a * 0.5, m * 0.5, FLIP))
    st.inner.flip_offsets = "mean"
    torch.testing.assert_close(st.flip_merge(plain, mirrored, np.asarray(FLIP))["offset"], mean_offsets(a, m, FLIP))


# ---- the option: eval.flip_offsets ------------------------------------------------------------------------------


def test_the_options_reach_the_anchor_strategy_of_either_task():
    from adaanchor.config import build_config
    from adaanchor.engine.run import build_system

    for task, part in (("bottomup", "inner"), ("centre", "centre")):
        for rule, conf in (("mean", "mean"), ("weighted", "plain"), ("max", "mean")):
            cfg = build_config("bottomup_crowd", [f"task={task}", "strategy.name=fixanchor", f"eval.flip_offsets={rule}",
                                                  f"eval.flip_conf={conf}"])
            _, st = build_system(cfg, load_pretrained=False)
            assert (getattr(st, part).flip_offsets, getattr(st, part).flip_conf) == (rule, conf)


@pytest.mark.parametrize("task", ["bottomup", "centre"])
def test_plain_confidences_keep_the_plain_pass_and_still_merge_the_offsets(task):
    from adaanchor.strategies.centre import build_centre

    build = build_bottomup if task == "bottomup" else build_centre
    st = build({"name": "adaanchor"}, None, K, 4, (W * 4, H * 4))
    g = torch.Generator().manual_seed(4)
    plain = {k: torch.randn(1, c, H, W, generator=g) for k, c in st.heads.items()}
    mirrored = {k: torch.randn(1, c, H, W, generator=g) for k, c in st.heads.items()}
    merged = st.flip_merge(plain, mirrored, np.asarray(FLIP))
    part = st.centre if task == "centre" else st.inner
    part.flip_conf = "plain"
    kept = st.flip_merge(plain, mirrored, np.asarray(FLIP))
    assert torch.equal(kept["conf"], plain["conf"]) and not torch.allclose(merged["conf"], plain["conf"])
    for key in kept:
        if key != "conf":  # offsets, local offsets, tags / pose offsets: merged as before
            torch.testing.assert_close(kept[key], merged[key])
    assert not torch.allclose(kept["offset"], plain["offset"])


@pytest.mark.parametrize("over,why", [
    (["eval.flip_offsets=weighted"], "top-down flip test averages the decoded keypoints"),
    (["task=bottomup", "strategy.name=heatmap", "eval.flip_offsets=max"], "strategy heatmap has no anchor offsets"),
    (["task=centre", "strategy.name=regression", "eval.flip_offsets=max"], "strategy regression has no anchor offsets"),
    (["task=bottomup", "eval.flip_offsets=median"], "Valid: max, mean, weighted"),
    (["eval.flip_conf=plain"], "eval.flip_conf=plain: the top-down flip test averages the decoded keypoints"),
    (["task=centre", "strategy.name=heatmap", "eval.flip_conf=plain"], "strategy heatmap has no anchor offsets or conf"),
    (["task=bottomup", "eval.flip_conf=max"], "Valid: mean, plain"),
])
def test_the_option_is_refused_where_no_anchor_offsets_are_merged(over, why):
    from adaanchor.config import build_config
    from adaanchor.errors import AdaAnchorError

    with pytest.raises(AdaAnchorError, match=why):
        build_config("demo", over)


def test_a_rule_without_the_flip_test_is_accepted_and_said_to_do_nothing(capsys):
    from adaanchor.config import build_config

    build_config("bottomup_crowd", ["eval.flip_offsets=weighted", "eval.flip_conf=plain"])
    assert ("note: eval.flip_offsets=weighted, eval.flip_conf=plain has no effect without the flip test"
            in capsys.readouterr().err)
    build_config("bottomup_crowd", ["eval.flip_offsets=weighted", "eval.flip_test=true"])
    assert "no effect" not in capsys.readouterr().err


def test_every_registered_anchor_strategy_takes_the_rules_and_no_other():
    from adaanchor.strategies import STRATEGIES
    from adaanchor.strategies.anchor import AnchorStrategy
    from adaanchor.strategies.flip_test import has_anchor_maps

    assert {n for n in STRATEGIES if has_anchor_maps(n)} == set(AnchorStrategy.ASSIGN)
    assert not has_anchor_maps("heatmap") and not has_anchor_maps("nosuch")


def test_mean_is_accepted_everywhere_and_the_default():
    from adaanchor.config import build_config

    assert (build_config("demo", []).eval.flip_offsets, build_config("demo", []).eval.flip_conf) == ("mean", "mean")
    cfg = build_config("demo", ["strategy.name=heatmap", "eval.flip_offsets=mean", "eval.flip_conf=mean"])
    assert (cfg.eval.flip_offsets, cfg.eval.flip_conf) == ("mean", "mean")
