"""A loss that runs away without becoming NaN is said once (``train.lr=1e3``: 5.8 -> 4,800 in 20 steps, exit 0 and
no word before); an ordinary run says nothing."""

from __future__ import annotations

from types import SimpleNamespace

from adaanchor.cli import main
from adaanchor.engine.loss_watch import FACTOR, watch_loss


def _run(main_rank: bool = True) -> SimpleNamespace:
    return SimpleNamespace(loss_low=None, loss_warned=False, step=0, info=SimpleNamespace(is_main=main_rank))


def test_a_loss_far_above_its_lowest_value_is_said_once(capsys):
    run = _run()
    for step, loss in enumerate([5.8, 3.0, 2.9, 2.9 * FACTOR * 1.01, 1e9], 1):
        run.step = step
        watch_loss(run, loss)
    err = capsys.readouterr().err
    assert err.count("warning: the training loss is") == 1 and "at step 4, 101 times its lowest value so far (2.9)" in err
    quiet = _run()
    for loss in (5.8, 3.0, float("nan"), 3.0 * FACTOR * 0.99, float("inf")):  # noise, non-finite: nothing
        watch_loss(quiet, loss)
    assert capsys.readouterr().err == "" and quiet.loss_low == 3.0
    other = _run(main_rank=False)
    for loss in (1.0, 1e6):
        watch_loss(other, loss)
    assert other.loss_warned and capsys.readouterr().err == ""  # rank 0 alone prints


def test_a_diverging_training_says_so_and_an_ordinary_one_does_not(tiny_overrides, capsys):
    assert main(["train", "demo", *tiny_overrides, "train.max_steps=20", "train.lr=1e3"]) == 0
    assert "the training is diverging? (a lower train.lr, or train.grad_clip)" in capsys.readouterr().err
    assert main(["train", "demo", *tiny_overrides, "train.max_steps=20", "overwrite=true"]) == 0
    assert "diverging" not in capsys.readouterr().err
