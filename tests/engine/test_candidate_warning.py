"""``strategy.candidate_radius`` under half a cell's diagonal leaves a keypoint between cell centres without a
candidate cell: no positive, and its confidence trained to 0. ``train`` says so (it trained on without a word)."""

from __future__ import annotations

import torch

from adaanchor.engine.schedule import candidate_warning
from adaanchor.strategies import build_strategy


def test_a_radius_under_half_a_cell_diagonal_warns_and_leaves_a_keypoint_without_positives():
    small = build_strategy({"name": "adaanchor", "candidate_radius": 0.5}, 1, 4, (32, 32))
    assert "candidate_radius=0.5 cells is under 0.71" in candidate_warning(small)[0]
    for quiet in ({"name": "adaanchor", "candidate_radius": 0.71}, {"name": "adaanchor"},
                  {"name": "fixanchor", "candidate_radius": 0.5}):
        assert candidate_warning(build_strategy(quiet, 1, 4, (32, 32))) == []
    # What it warns of: a keypoint at the corner of four cells is 0.71 cells from each centre.
    outputs = {k: torch.zeros(1, c, 8, 8) for k, c in small.heads.items()}
    corner = torch.tensor([[[[16.0 - 0.5, 16.0 - 0.5]]]])  # between the centres 13.5 and 17.5 (stride 4)
    enc = small.encode(outputs, corner, torch.tensor([[[2]]]))
    assert enc.targets["conf"].value.sum() == 0 and enc.targets["conf"].weight.max() == 1
    ok = build_strategy({"name": "adaanchor", "candidate_radius": 0.71}, 1, 4, (32, 32))
    assert ok.encode(outputs, corner, torch.tensor([[[2]]])).targets["conf"].value.sum() == 4


def test_a_topk_taking_every_cell_is_said():
    """strategy.topk=1000 on the demo's 432-cell map made every cell a positive: the adaptive assignment did
    nothing (the losses equalled FixAnchor's with topk=100000), without a word."""
    for cfg in ({"name": "adaanchor", "topk": 432}, {"name": "fixanchor", "topk": 1000}):
        lines = candidate_warning(build_strategy(cfg, 1, 4, (72, 96)))
        assert lines == [f"warning: strategy.topk={cfg['topk']} takes every one of the map's 432 cells (18x24): every cell "
                         "is a positive of every keypoint and no assignment is left"]
    for cfg in ({"name": "adaanchor", "topk": 431}, {"name": "adaanchor", "topk": 1000, "select": "atss"}):
        assert candidate_warning(build_strategy(cfg, 1, 4, (72, 96))) == []
