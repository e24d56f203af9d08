"""The notes on a config are said once under torchrun: every rank builds the config, rank 0 alone prints them."""

from __future__ import annotations

import pytest

from adaanchor.config import build_config

NOTED = ["train.max_steps=5", "train.epochs=3", "strategy.name=alignanchor", "strategy.soft_targets=false"]


@pytest.mark.parametrize("rank,said", [("0", True), ("", True), ("1", False)])
def test_config_notes_only_on_rank_zero(monkeypatch, capsys, rank, said):
    monkeypatch.setenv("RANK", rank)
    build_config(None, NOTED)
    err = capsys.readouterr().err
    assert ("train.epochs=3 has no effect" in err) is said
    assert ("replaces options of the alignanchor preset" in err) is said
