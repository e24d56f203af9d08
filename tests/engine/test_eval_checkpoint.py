"""Which weights ``adaanchor eval`` scores, and as what: a checkpoint of another strategy with the same head shapes
(FixAnchor's under an AdaAnchor run) was scored and labelled with the run's strategy; the output never said which
checkpoint or step it scored; a training stopped between evaluations printed an earlier evaluation's table as if
it were the last weights'."""

from __future__ import annotations

import pytest

from adaanchor.cli import main
from adaanchor.config import build_config
from adaanchor.engine.train import train


@pytest.fixture(scope="module")
def two_runs(tiny_bench, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    common = [f"data.root={tiny_bench}", "data.synth.n_train=48", "data.synth.n_val=12", "model.tiny_width=8",
              "train.batch_size=8", "train.progress=false", "eval.batch_size=12", "train.max_steps=2", "train.eval_every=0"]
    for name in ("adaanchor", "fixanchor"):
        train(build_config(None, [*common, f"strategy.name={name}", f"out_dir={root / name}"]))
    return root


def test_eval_refuses_a_checkpoint_of_another_strategy_and_says_which_it_scores(two_runs, capsys):
    other = two_runs / "adaanchor" / "checkpoints" / "last.pt"
    assert main(["eval", str(two_runs / "fixanchor"), f"ckpt={other}"]) == 2
    assert (f"error: {other}: trained as another model than this config (strategy.name 'adaanchor' there, "
            "'fixanchor' here)") in capsys.readouterr().err
    assert main(["eval", str(two_runs / "fixanchor")]) == 0
    out = capsys.readouterr().out
    assert f"checkpoint: {two_runs / 'fixanchor' / 'checkpoints' / 'last.pt'} (step 2)" in out.splitlines()[0]


def test_a_checkpoint_trained_at_another_input_size_is_said(capsys, tmp_path):
    from omegaconf import OmegaConf

    from adaanchor.engine.run import _check_trained_as

    cfg = build_config("demo", [])
    old = OmegaConf.to_container(build_config("demo", ["data.input_size=[96,128]"]), resolve=True)
    _check_trained_as(cfg, {"config": old}, tmp_path / "x.pt")
    assert "x.pt was trained at data.input_size=[96, 128]; it is run at [72, 96] here" in capsys.readouterr().err
    _check_trained_as(cfg, {"config": OmegaConf.to_container(cfg, resolve=True)}, tmp_path / "x.pt")
    assert capsys.readouterr().err == ""


def test_a_stop_between_evaluations_labels_the_table(tiny_overrides, capsys, monkeypatch):
    """A time-limit stop after step 9 with evaluations every 6 steps printed step 6's table unlabelled."""
    import adaanchor.engine.train as engine_train

    real = engine_train.train

    def stopped(cfg):
        summary = real(cfg)
        summary.update(steps=9, timed_out=True)  # as a time-limit stop after the evaluation of step 6 leaves it
        return summary

    monkeypatch.setattr(engine_train, "train", stopped)
    assert main(["train", "demo", *tiny_overrides, "train.max_steps=6", "train.eval_every=1"]) == 3
    assert "the evaluation at step 6, the last before the run stopped at step 9:" in capsys.readouterr().out
