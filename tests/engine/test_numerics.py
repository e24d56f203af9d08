"""Numerical safety: non-finite losses and gradients are skipped and reported, too many in a row stop
training with a message naming the last good checkpoint, and gradient clipping bounds the update."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

import adaanchor.engine.train as train_mod
from adaanchor.config import build_config
from adaanchor.engine.checkpoint import safe_load
from adaanchor.engine.train import TrainingError, train


def _cfg(tiny_overrides, *extra):
    return build_config(None, [*tiny_overrides, "train.eval_every=0", "train.log_every=1", *extra])


def _poison(monkeypatch, bad_calls, how="loss"):
    """Make the loss (or only its gradient) non-finite on the given 1-based calls of compute_loss."""
    real = train_mod.compute_loss
    calls = {"n": 0}

    def fake(outputs, *args, **kwargs):
        out = real(outputs, *args, **kwargs)
        calls["n"] += 1
        if bad_calls(calls["n"]):
            if how == "loss":
                out["loss"] = out["loss"] * float("nan")
            else:  # finite loss, NaN gradient: d sqrt(x)/dx at 0 is inf, times 0 is NaN
                head = next(iter(outputs.values()))
                out["loss"] = out["loss"] + torch.sqrt(head.sum() * 0.0)
        return out

    monkeypatch.setattr(train_mod, "compute_loss", fake)
    return calls


@pytest.mark.parametrize("how", ["loss", "gradient"])
def test_non_finite_batches_are_skipped_and_reported(tiny_overrides, monkeypatch, capsys, how):
    _poison(monkeypatch, lambda n: n in (3, 4), how)
    summary = train(_cfg(tiny_overrides, "train.max_steps=6", "train.ckpt_every_steps=2"))
    assert summary["steps"] == 6 and summary["skipped_steps"] == 2  # made up for: still 6 optimizer steps
    out = capsys.readouterr().out
    assert out.count(f"non-finite {how} after step 2") == 2 and "batch skipped" in out
    with open(f"{summary['run_dir']}/train_log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == list(range(1, 7))
    assert [int(r["skipped"]) for r in rows] == [0, 0, 2, 2, 2, 2]
    assert all(math.isfinite(float(r["loss"])) for r in rows)
    state = safe_load(f"{summary['run_dir']}/checkpoints/last.pt")
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_too_many_bad_steps_stop_and_name_the_last_good_checkpoint(tiny_overrides, monkeypatch):
    _poison(monkeypatch, lambda n: n > 4)  # 4 good steps, then NaN for good
    cfg = _cfg(tiny_overrides, "train.max_steps=20", "train.ckpt_every_steps=2", "train.max_bad_steps=3")
    with pytest.raises(TrainingError) as e:
        train(cfg)
    msg = str(e.value)
    last = f"{cfg.out_dir}/checkpoints/last.pt"
    assert "3 consecutive" in msg and f"{last} (step 4)" in msg and "\n" not in msg
    assert safe_load(last)["step"] == 4  # the checkpoint named is there, and good


def test_all_bad_from_the_start_says_no_checkpoint_yet(tiny_overrides, monkeypatch):
    _poison(monkeypatch, lambda n: True)
    with pytest.raises(TrainingError, match="last good checkpoint: none written yet"):
        train(_cfg(tiny_overrides, "train.max_steps=5", "train.max_bad_steps=2"))


def test_grad_clip_bounds_the_gradient_norm_seen_by_the_optimizer(tiny_overrides):
    seen: list[float] = []

    def hook(opt, args, kwargs):
        grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
        seen.append(float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))))

    handle = register_optimizer_step_pre_hook(hook)
    try:
        clipped = train(_cfg(tiny_overrides, "train.max_steps=3", "train.grad_clip=0.01"))
        n_clipped = len(seen)
        train(_cfg(tiny_overrides, "train.max_steps=3", f"out_dir={clipped['run_dir']}-free"))
    finally:
        handle.remove()
    assert n_clipped == 3 and len(seen) == 6
    assert max(seen[:3]) <= 0.01 * (1 + 1e-4), seen
    assert min(seen[3:]) > 0.01, seen  # without clipping the norms are larger: the clip did act
    with open(f"{clipped['run_dir']}/train_log.csv", newline="") as f:
        logged = [float(r["grad_norm"]) for r in csv.DictReader(f)]  # the norm before clipping
    assert all(g > 0.01 for g in logged)


def test_an_update_that_overflows_the_weights_is_not_saved_as_good(tiny_overrides, tmp_path):
    """lr 1e30: the loss and gradient of step 1 are finite, its update is not (and the skipped batches' forward
    passes then fill BatchNorm's running statistics with inf and NaN). The epoch's checkpoint held those, was
    named the "last good checkpoint", and resuming from it failed the same way."""
    cfg = _cfg(tiny_overrides, "train.max_steps=60", "train.max_bad_steps=50", "train.lr=1e30")
    with pytest.raises(TrainingError, match=r"the weights are not finite after step \d+ \(an update overflowed them: "
                                            r"lower train.lr, or set train.grad_clip\); not saved; last good "
                                            r"checkpoint: "):
        train(cfg)
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    assert not last.exists() or all(torch.isfinite(t).all() for t in safe_load(last)["model"].values()
                                    if t.is_floating_point())


def test_the_error_that_stops_a_training_starts_a_line_of_its_own(tiny_overrides, monkeypatch, capsys):
    """It came glued to the progress bar's last state (``... loss=5.7419]error: training stopped: ...``)."""
    _poison(monkeypatch, lambda n: True)
    cfg = _cfg(tiny_overrides, "train.max_steps=5", "train.max_bad_steps=2", "train.progress=true")
    with pytest.raises(TrainingError):
        train(cfg)
    assert capsys.readouterr().err.endswith("\n")  # the bar ended its line: what is printed next starts one
