"""Every paper-table command runs end to end with a tiny budget and writes its markdown, JSON and plot."""

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
@pytest.mark.parametrize("table", ["table1", "fig6", "sigma", "table2", "locality"])
def test_table_command_runs(table, tiny_bench, tmp_path):
    from conftest import TINY_SYNTH

    over = [f"data.root={tiny_bench}", *(f"data.synth.{k}={v}" for k, v in TINY_SYNTH.items()), "model.tiny_width=8",
            "model.deconv_channels=8", "train.batch_size=4", "eval.batch_size=12"]
    assert paper_tables.main([table, "--seeds", "0", "1", "--steps", "1", "--out", str(tmp_path), *over]) == 0
    doc = json.loads((tmp_path / f"{table}.json").read_text())
    variants = paper_tables.TABLES[table]["variants"]
    assert set(doc["summary"]) == set(variants)
    for label, runs in doc["runs"].items():
        assert len(runs) == (2 if label in paper_tables.TABLES[table]["repeat"] else 1)
    assert doc["commit"] and doc["wall_seconds"] > 0
    assert (tmp_path / f"{table}.md").read_text().count("\n|") >= len(variants)
    assert (tmp_path / f"{table}.png").stat().st_size > 0


@pytest.mark.slow
def test_faces_table_runs_on_a_landmark_csv(tmp_path):
    from conftest import write_face_csv

    write_face_csv(tmp_path / "faces", {f"P_{i}": 2 for i in range(10)}, name="training_frames_keypoints.csv",
                   images="training")
    over = [f"data.root={tmp_path / 'faces'}", "data.input_size=[32,32]", "model.tiny_width=8", "train.batch_size=4"]
    assert paper_tables.main(["table4", "--seeds", "0", "--steps", "1", "--out", str(tmp_path / "out"), *over]) == 0
    doc = json.loads((tmp_path / "out" / "table4.json").read_text())
    assert doc["summary"]["Ours"]["nme"][0] > 0 and "NME occl." in (tmp_path / "out" / "table4.md").read_text()
