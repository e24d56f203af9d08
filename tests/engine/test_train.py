"""Training: every strategy learns on a fixed batch, checkpoints round-trip, resume continues exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adaanchor.config import build_config
from adaanchor.data.build import build_dataset
from adaanchor.data.types import collate
from adaanchor.engine.checkpoint import safe_load
from adaanchor.engine.run import build_system, load_for_eval, seed_everything
from adaanchor.engine.train import train
from adaanchor.strategies import STRATEGY_NAMES, compute_loss


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_loss_goes_down_on_a_fixed_batch(name, tiny_overrides):
    cfg = build_config(None, [*tiny_overrides, f"strategy.name={name}"])
    seed_everything(0)
    model, strategy = build_system(cfg)
    ds = build_dataset(cfg.data, "train", train=False, verbose=False)
    batch = collate([ds[i] for i in range(8)])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(25):
        out = model(batch["image"])
        enc = strategy.encode({k: v.detach() for k, v in out.items()}, batch["keypoints"], batch["visibility"], step=step)
        loss = compute_loss(out, enc.targets, strategy.losses)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    # Adaptive targets move with the predictions, so compare averages of the first and last steps.
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.8 * first, (name, losses)


def test_checkpoint_round_trip_and_eval_load(tiny_overrides):
    cfg = build_config(None, [*tiny_overrides, "strategy.name=adaanchor", "train.max_steps=3", "train.eval_every=1"])
    summary = train(cfg)
    assert summary["steps"] == 3
    run = summary["run_dir"]
    state = safe_load(f"{run}/checkpoints/last.pt")
    assert state["step"] == 3 and set(state) >= {"model", "optimizer", "scheduler", "rng", "epoch", "batch", "best"}
    model, _, info = load_for_eval(cfg, f"{run}/checkpoints/last.pt")
    for k, v in model.state_dict().items():
        assert torch.equal(v, state["model"][k]), k
    assert (summary["metrics"] or {}).get("vis_error") is not None
    assert Path(run, "config.yaml").is_file() and build_config(f"{run}/config.yaml").strategy.name == "adaanchor"


@pytest.mark.slow
def test_resume_continues_like_an_uninterrupted_run(tiny_overrides, tmp_path):
    common = [*tiny_overrides, "strategy.name=adaanchor", "train.eval_every=0", "train.log_every=1",
              "train.deterministic=true"]
    full = build_config(None, [*common, f"out_dir={tmp_path / 'full'}", "train.max_steps=8"])
    train(full)
    # The first call stops after step 3 (mid-epoch: 6 batches per epoch) with its checkpoint; resume=auto,
    # with the step count raised to the full run's, finishes it.
    first = train(build_config(None, [*common, f"out_dir={tmp_path / 'part'}", "train.max_steps=3"]))
    assert first["steps"] == 3 and safe_load(tmp_path / "part" / "checkpoints" / "last.pt")["batch"] == 3
    train(build_config(None, [*common, f"out_dir={tmp_path / 'part'}", "train.max_steps=8", "resume=auto"]))
    a = safe_load(tmp_path / "full" / "checkpoints" / "last.pt")["model"]
    b = safe_load(tmp_path / "part" / "checkpoints" / "last.pt")["model"]
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-5), k


@pytest.mark.parametrize(("overrides", "line", "warning"), [
    # The demo's schedule: steps, a drop at 80 %.
    (["train.max_steps=400", "train.lr_steps=[320]"],
     "schedule: 400 steps (7 per epoch), lr 0.002, x0.1 after step 320 (train.lr_steps=[320] in steps)", None),
    # A config's epoch milestones kept while max_steps was added: they count steps, and the warning says so.
    (["train.max_steps=1200", "train.lr_steps=[4,5]"],
     "schedule: 1200 steps (7 per epoch), lr 0.002, x0.1 after steps 4, 5 (train.lr_steps=[4, 5] in steps)",
     "warning: train.lr_steps=[4, 5] count steps because train.max_steps is set: the learning rate is 2e-05 after "
     "step 5 of 1200. Epochs are train.lr_steps=[28, 35] in steps"),
    # Epochs past the end of training.
    (["train.max_steps=null", "train.epochs=3", "train.lr_steps=[2,3]"],
     "schedule: 21 steps (7 per epoch), lr 0.002, x0.1 after steps 14, 21 (train.lr_steps=[2, 3] in epochs)",
     "warning: train.lr_steps [3] (epochs) fall at or after the last step (21): never applied"),
    (["train.max_steps=null", "train.epochs=2", "train.lr_steps=[]"], "schedule: 14 steps (7 per epoch), lr 0.002", None),
])
def test_the_schedule_is_printed_in_steps_with_a_warning_for_milestones_that_cannot_be_meant(overrides, line, warning):
    from adaanchor.engine.schedule import describe_schedule, milestones_in_steps

    cfg = build_config("demo", [*overrides, "train.lr=0.002"])
    got, warnings = describe_schedule(cfg, 7, int(cfg.train.max_steps or 7 * cfg.train.epochs), milestones_in_steps(cfg, 7))
    assert got == line
    assert warnings == ([warning] if warning else [])


def test_train_prints_the_schedule_and_its_warning(tiny_overrides, capsys):
    train(build_config(None, [*tiny_overrides, "train.eval_every=0", "train.max_steps=2", "train.lr_steps=[0]"]))
    out, err = capsys.readouterr()
    assert "schedule: 2 steps (" in out and "x0.1 after step 0 (train.lr_steps=[0] in steps)" in out
    assert "warning: train.lr_steps=[0] count steps because train.max_steps is set" in err


def test_train_names_an_option_its_strategy_does_not_read(tiny_overrides, capsys):
    train(build_config(None, [*tiny_overrides, "train.eval_every=0", "train.max_steps=1", "strategy.name=fixanchor",
                              "strategy.select=atss"]))
    assert ("warning: strategy.select='atss' has no effect: it is read by the adaptive assignment, and fixanchor "
            "assigns the nearest cells") in capsys.readouterr().err


@pytest.mark.parametrize(("name", "warmup", "warned"), [
    ("adaanchor", 2, True), ("adaanchor", 1, False), ("fixanchor", 5, False), ("adaanchor", 0, False)])
def test_a_warmup_as_long_as_the_run_is_named(tiny_overrides, capsys, name, warmup, warned):
    train(build_config(None, [*tiny_overrides, "train.eval_every=0", "train.max_steps=2", f"strategy.name={name}",
                              f"strategy.warmup_steps={warmup}"]))
    err = capsys.readouterr().err
    assert (f"warning: strategy.warmup_steps={warmup} is not less than the run's 2 steps: the adaptive assignment "
            "never starts" in err) == warned, err


def test_more_workers_than_cpus_are_capped_with_a_note(monkeypatch, capsys):
    from adaanchor.engine import state

    monkeypatch.setattr(state.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert state.usable_workers(8) == 2
    assert "note: train.workers=8 but this process may use 2 CPU(s): 2 data loader worker(s) each" in capsys.readouterr().err
    assert state.usable_workers(2) == 2 and state.usable_workers(0) == 0
    assert state.usable_workers(5, say=False) == 2 and capsys.readouterr().err == ""
    # torchrun's 2 processes on this machine share its 2 CPUs: one worker each (it was 2 each, 4 on 2 cores).
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert state.usable_workers(2) == 1
    assert ("note: train.workers=2 but the 2 training processes on this machine share its 2 CPU(s): 1 data loader "
            "worker(s) each") in capsys.readouterr().err


@pytest.mark.parametrize(("every", "per_epoch", "total", "noted"), [
    (25, 250, 3000, True), (25, 6, 3000, False), (0, 250, 3000, False), (1, 10, 10, True), (1, 10, 11, False)])
def test_an_evaluation_only_at_the_end_is_noted(every, per_epoch, total, noted):
    from adaanchor.engine.schedule import evaluation_note

    cfg = build_config("custom", ["data.root=/nowhere", f"train.eval_every={every}"])
    note = evaluation_note(cfg, per_epoch, total)
    assert bool(note) == noted
    if noted:
        assert note == [f"note: train.eval_every={every} epochs ({every * per_epoch} steps) is not shorter than the run "
                        f"({total} steps): the model is evaluated at the end only, and best.pt is the last step"]


def test_the_cache_share_of_a_training_ends_with_it(tiny_overrides, monkeypatch):
    """data.cache_mb is split among the training's data workers while it runs; an evaluation or a training that
    follows in the same process (a notebook, a sweep) gets the whole bound again."""
    import adaanchor.engine.state as state
    from adaanchor.data import image_cache

    seen: list[int] = []
    real = image_cache.split_among
    monkeypatch.setattr(state, "split_among", lambda n: (seen.append(n), real(n)))
    train(build_config(None, [*tiny_overrides, "train.max_steps=2", "train.eval_every=0", "train.workers=1"]))
    assert seen == [2]  # one worker and the training process
    assert image_cache._STATE["readers"] == 1
