"""benchmarks/grouping_ties.py groups the same outputs with the tie-break and without it, puts the weight back,
and refuses a folder that is not a bottom-up demo run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import grouping_ties  # noqa: E402

import adaanchor.strategies.grouping as grouping  # noqa: E402
from adaanchor.demo_bottomup import _bottomup_build  # noqa: E402
from adaanchor.models.backbones import build_backbone  # noqa: E402


@pytest.mark.parametrize("layout", ["run directory", "weights file"])  # the demo's folders now, and before
def test_each_method_is_grouped_with_and_without_the_tie_break(tmp_path, monkeypatch, layout):
    setup = type("Setup", (), {"spec": type("Spec", (), {"num_keypoints": 17})(), "size": (64, 48),
                                "val": None, "paths": {"val": "gt.json"}})()
    _, model = _bottomup_build("fixanchor", build_backbone("tiny", tiny_width=8), setup)
    if layout == "run directory":
        (tmp_path / "fixanchor" / "checkpoints").mkdir(parents=True)
        torch.save({"model": model.state_dict(), "step": 2}, tmp_path / "fixanchor" / "checkpoints" / "last.pt")
    else:
        torch.save(model.state_dict(), tmp_path / "fixanchor.pt")
    monkeypatch.setattr(grouping_ties, "build_backbone", lambda *a, **k: build_backbone("tiny", tiny_width=8))
    seen = []

    def fake_evaluate(model, strategy, dataset, gt, oracle_tags):
        seen.append(grouping._TIE)
        ap = 0.1 + grouping._TIE
        return {"ap": ap, "ap50": ap, "ap75": ap, "recall": 0.5, "ap_by_gamma": {"0.1": ap},
                "oracle_tags": {"ap": 0.3, "recall": 0.5}}

    monkeypatch.setattr(grouping_ties, "evaluate_bottomup", fake_evaluate)
    before = grouping._TIE
    rows = grouping_ties._evaluate(tmp_path, "fixanchor", setup)
    assert seen == [1e-3, 0.0] and grouping._TIE == before
    assert rows["tie-break"]["ap"] == pytest.approx(0.101) and rows["none (before)"]["ap"] == pytest.approx(0.1)
    md = grouping_ties.to_markdown({"run": "r", "wall_s": 1.0, "methods": {"fixanchor": rows},
                                    "machine": {"commit": "c", "torch": "t", "threads": 1}})
    assert "| fixanchor | tie-break | 10.10 |" in md and "| fixanchor | none (before) | 10.00 |" in md


def test_a_folder_without_the_demo_weights_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        grouping_ties.main([str(tmp_path)])
    assert e.value.code == 2
    assert "not a bottom-up demo run: missing" in capsys.readouterr().err
