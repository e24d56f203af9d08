"""The multi-person paper tables: table5 runs end to end at a tiny size through paper_tables.py, writes its files
and keys, and a finished run is evaluated again, not retrained."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("paper_tables", REPO / "benchmarks" / "paper_tables.py")
paper_tables = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(paper_tables)


@pytest.mark.slow
def test_table5_end_to_end(tmp_path):
    out = tmp_path / "results"
    argv = ["table5", "--steps", "2", "--seeds", "0", "--n-train", "8", "--n-val", "4", "--width", "8",
            "--out", str(out), "--data-cache", str(tmp_path / "cache")]
    assert paper_tables.main(argv) == 0
    for ext in ("md", "json", "png"):
        assert (out / f"table5.{ext}").is_file()
    doc = json.loads((out / "table5.json").read_text())
    assert doc["table"] == "table5" and doc["seeds"] == [0] and doc["task"] == "ae"
    bench = doc["benches"]["crowd"]
    assert set(bench["summary"]) == {"Heatmap", "FixAnchor", "AdaAnchor"} and bench["steps"] == 2
    s = bench["summary"]["AdaAnchor"]
    for key in ("recall", "ap", "ap50", "ap75", "ar", "oracle.ap", "ap@0.1", "recall@0.5", "oracle.ap@0.01"):
        assert key in s and len(s[key]) == 2  # (mean, std)
    assert set(bench["paired"]) == {"FixAnchor", "Heatmap"} and "AdaAnchor" in bench["paired"]["FixAnchor"]
    assert bench["paired"]["FixAnchor"]["AdaAnchor"]["ap"]["n"] == 1
    row = bench["runs"]["FixAnchor"][0]
    assert row["seed"] == 0 and set(row["ap_by_gamma"]) == {"0.01", "0.05", "0.1", "0.2", "0.3", "0.5"}
    md = (out / "table5.md").read_text()
    assert "| AdaAnchor | oracle tags |" in md and "Paired differences against FixAnchor" in md
    run = out / "runs" / "table5" / "adaanchor_s0"
    weights, record = run / "model.pt", json.loads((run / "run.json").read_text())
    assert weights.is_file() and record["settings"]["steps"] == 2 and "ap" in record["metrics"]
    # again: the finished runs are evaluated, not retrained
    stamp = weights.stat().st_mtime_ns
    assert paper_tables.main(argv) == 0
    assert weights.stat().st_mtime_ns == stamp
    again = json.loads((run / "run.json").read_text())
    assert again["train"] == record["train"] and again["metrics"]["ap"] == pytest.approx(record["metrics"]["ap"])
