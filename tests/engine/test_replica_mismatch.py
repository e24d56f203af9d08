"""``dist.replica_mismatch``: the check after DDP training that every rank holds the same weights (and the same EMA
copy the assignment scores), with the ranks' fingerprints gathered (stubbed here: two ranks' answers)."""

from __future__ import annotations

import torch

from adaanchor.engine import dist
from adaanchor.engine.dist import DistInfo, param_fingerprint, replica_mismatch


def _params(value: float) -> list[tuple[str, torch.Tensor]]:
    return [("w", torch.full((3,), value)), ("b", torch.zeros(1))]


def test_one_process_compares_nothing(monkeypatch):
    monkeypatch.setattr(dist, "gather_objects", lambda *a: (_ for _ in ()).throw(AssertionError("gathered")))
    assert replica_mismatch(_params(1.0), None, DistInfo()) is None


def test_identical_replicas_are_said_and_different_ones_named(monkeypatch, capsys):
    other = {"params": param_fingerprint(_params(1.0)), "ema": param_fingerprint(_params(5.0))}
    monkeypatch.setattr(dist, "gather_objects", lambda fp, info: [fp, other["params"] if fp == other["params"]
                                                                  else other["ema"]])
    info = DistInfo(rank=0, world=2)
    assert replica_mismatch(_params(1.0), _params(5.0), info) is None
    out = capsys.readouterr().out
    assert "parameters identical on all 2 ranks" in out and "assignment EMA copy identical on all 2 ranks" in out
    # rank 1's EMA copy differs: named, the parameters said identical first
    monkeypatch.setattr(dist, "gather_objects", lambda fp, info: [fp, fp if fp == other["params"] else "f" * 64])
    assert replica_mismatch(_params(1.0), _params(5.0), info).startswith("the assignment's EMA copies differ across ranks")
    assert "parameters identical" in capsys.readouterr().out
    monkeypatch.setattr(dist, "gather_objects", lambda fp, info: [fp, "0" * 64])
    assert replica_mismatch(_params(1.0), None, info).startswith("parameter fingerprints differ across ranks")
    assert capsys.readouterr().out == ""  # nothing said identical for a mismatch
