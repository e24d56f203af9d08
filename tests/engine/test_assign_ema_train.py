"""``strategy.assign_ema_decay > 0`` trains: the loop keeps an EMA copy of the model, the assignment scores its
outputs, the copy is updated after every step and saved in the checkpoints, and a resumed run goes on with it."""

from __future__ import annotations

import torch

import adaanchor.engine.assign_step as assign_step
from adaanchor.config import build_config
from adaanchor.engine.assign_step import encode_step, make_assign_ema
from adaanchor.engine.checkpoint import safe_load
from adaanchor.engine.run import build_system
from adaanchor.engine.train import train


def _cfg(tiny_overrides, *extra):
    return build_config(None, [*tiny_overrides, "train.eval_every=0", "train.log_every=1",
                               "strategy.assign_ema_decay=0.9", *extra])


def test_training_with_the_ema_assignment_runs_saves_and_resumes(tiny_overrides, monkeypatch):
    scored = []
    real = assign_step.encode_step

    def spy(strategy, ema, *args, **kwargs):
        scored.append(ema is not None)
        return real(strategy, ema, *args, **kwargs)

    monkeypatch.setattr("adaanchor.engine.train.encode_step", spy)
    out = train(_cfg(tiny_overrides, "train.max_steps=3"))
    assert out["steps"] == 3 and scored == [True] * 3
    ckpt = safe_load(f"{out['run_dir']}/checkpoints/last.pt")
    assert ckpt["assign_ema"]["updates"] == 3
    assert ckpt["assign_ema"]["model"].keys() == ckpt["model"].keys()
    # The averaged weights are not the live ones (decay ramped: 1/10, 2/11, 3/12 of the old weights kept).
    key = next(k for k, v in ckpt["model"].items() if v.is_floating_point() and k.startswith("heads.conf"))
    assert not torch.equal(ckpt["assign_ema"]["model"][key], ckpt["model"][key])
    resumed = train(_cfg(tiny_overrides, "train.max_steps=5", "resume=auto"))
    assert resumed["steps"] == 5
    assert safe_load(f"{out['run_dir']}/checkpoints/last.pt")["assign_ema"]["updates"] == 5


def test_the_ema_outputs_are_what_is_scored(tiny_overrides):
    cfg = _cfg(tiny_overrides)
    torch.manual_seed(0)
    model, strategy = build_system(cfg)
    ema = make_assign_ema(strategy, model)
    assert ema is not None
    with torch.no_grad():
        for p in ema.module.parameters():  # the copy now predicts otherwise than the live model
            p.add_(torch.randn_like(p) * 0.5)
    images = torch.randn(2, 3, *reversed(cfg.data.input_size))
    kp = torch.tensor([[[[10.0, 20.0]] * strategy.num_keypoints]] * 2)
    vis = torch.full(kp.shape[:3], 2)
    live = model(images)
    enc = encode_step(strategy, ema, images, live, kp, vis, 0, torch.no_grad)
    want = strategy.encode(ema.outputs(images), kp, vis, step=0, from_ema=True)
    assert torch.equal(enc.targets["conf"].value, want.targets["conf"].value)
    assert not torch.equal(enc.targets["conf"].value, strategy.encode(live, kp, vis, step=0, from_ema=True)
                           .targets["conf"].value)


def test_no_ema_for_fixed_assignment_or_decay_zero(tiny_overrides):
    for extra in (["strategy.name=fixanchor"], ["strategy.assign_ema_decay=0"]):
        model, strategy = build_system(_cfg(tiny_overrides, *extra))
        assert make_assign_ema(strategy, model) is None


def test_multi_person_strategies_pass_the_ema_outputs_on():
    from adaanchor.engine.assign_step import anchor_strategy
    from adaanchor.strategies.centre import build_centre
    from adaanchor.strategies.tags import build_bottomup

    cfg = {"name": "adaanchor", "assign_ema_decay": 0.9}
    kp = torch.tensor([[[[10.0, 12.0], [20.0, 14.0]], [[30.0, 8.0], [40.0, 20.0]]]])  # (1, 2, 2, 2)
    vis = torch.full((1, 2, 2), 2)
    for st in (build_bottomup(cfg, None, 2, 4, (64, 32)), build_centre(cfg, None, 2, 4, (64, 32))):
        assert anchor_strategy(st).opts["assign_ema_decay"] == 0.9
        outputs = {h: torch.zeros(1, c, 8, 16) for h, c in st.heads.items()}
        enc = st.encode(outputs, kp, vis, 0, from_ema=True)  # raised: the wrapper did not say from_ema
        assert enc.targets["conf"].value.sum() > 0
