"""benchmarks/step_phases.py: a training step timed phase by phase, strategies interleaved."""

from __future__ import annotations

import json

import pytest

from root_helpers import load_benchmark


def _phases():
    return load_benchmark("step_phases")


def test_phases_add_up_to_the_step_and_files_are_written(tmp_path):
    mod = _phases()
    step = mod._stepper(mod.TINY, "adaanchor")
    times = step()
    assert len(times) == len(mod.PHASES) + len(mod.EXTRA) and all(t > 0 for t in times[:len(mod.PHASES)])
    assert sum(times[:len(mod.PHASES) - 1]) == pytest.approx(times[len(mod.PHASES) - 1], rel=1e-6)
    assert times[-1] >= 0 and times[-1] == int(times[-1])  # page faults: a count
    assert mod.main(["--steps", "2", "--strategies", "heatmap", "adaanchor", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "step_phases.json").read_text())
    assert set(res["ms"]) == {"heatmap", "adaanchor"} and set(res["ms"]["heatmap"]) == {*mod.PHASES, *mod.EXTRA}
    assert list(res["ratios"]) == ["adaanchor / heatmap"] and res["ratios"]["adaanchor / heatmap"] > 0
    assert "| adaanchor |" in (tmp_path / "step_phases.md").read_text()
    assert mod.main(["--steps", "1", "--strategies", "heatmap", "--out", str(tmp_path), "--name", "quick"]) == 0
    assert (tmp_path / "quick.json").is_file() and "adaanchor" in (tmp_path / "step_phases.md").read_text()
    assert "a third of the targets unlabelled" in (tmp_path / "step_phases.md").read_text()
    assert mod.main(["--steps", "1", "--strategies", "heatmap", "--labelled", "all", "--out", str(tmp_path),
                     "--name", "all"]) == 0
    assert json.loads((tmp_path / "all.json").read_text())["labelled"] == "all"
    assert "every target labelled" in (tmp_path / "all.md").read_text()
    with pytest.raises(SystemExit):
        mod.main(["--steps", "0", "--out", str(tmp_path)])
