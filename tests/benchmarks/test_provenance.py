"""Every results file records the code (the commit, marked modified as ``adaanchor --version`` marks it) and the
machine: the benchmark scripts recorded a clean commit for a modified tree, and some recorded neither."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import anchor_reach  # noqa: E402
import crowd_errors  # noqa: E402
import predict_speed  # noqa: E402
from protocol import git_commit, provenance, same_commit  # noqa: E402

from adaanchor.versions import source_commit  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def test_the_benchmark_commit_is_the_one_the_cli_reports():
    """protocol.git_commit ran only rev-parse: a modified tree was recorded as its clean commit."""
    here = git_commit()
    assert here == source_commit()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    assert here.endswith(" (modified)") == bool(dirty)


def test_same_commit_reads_short_long_and_modified_forms():
    full = "0123456789abcdef0123456789abcdef01234567"
    assert same_commit(full + " (modified)", "0123456")
    assert same_commit("0123456", full)
    assert not same_commit(full, "89abcde")
    assert not same_commit("", full)


def _reach_row() -> dict:
    return {g: {"n": 3, **{k: 1.0 for k in anchor_reach.MEASURES}} for g in anchor_reach.GROUPS}


def test_anchor_reach_records_the_machine_and_says_na_for_one_seed():
    """It recorded no machine, and printed '± 0.00' for one seed where other tables print N/A."""
    doc = {"name": "x", "methods": {"FixAnchor": [{"seed": 0, **_reach_row()}]}, "commit": "abc",
           "machine": "Linux, 2 torch threads", "threads": 2, "wall_seconds": 1.0}
    md = "\n".join(anchor_reach.to_markdown(doc))
    assert "± N/A" in md and "± 0.00" not in md
    assert "Commit abc; Linux, 2 torch threads;" in md


def test_crowd_errors_and_predict_speed_record_the_commit():
    where = provenance()
    assert where["commit"] == source_commit() and "torch threads" in where["machine"]
    doc = {"table": "table5", "split": "dev", "gamma": 0.1, "seeds": [0], "radius": 2.0, "results": {}, **where}
    assert f"Scored by commit {where['commit']}; {where['machine']}." in crowd_errors.to_markdown(doc)
    assert predict_speed.machine_info()["commit"] == source_commit()


def test_the_demo_report_records_the_commit(tmp_path, capsys):
    from adaanchor.demo import write_report

    row = {"vis_error": 1.0, "inv_error": 2.0, "inv_error_in": 1.5, "inv_error_out": 3.0, "vis_score": 0.5,
           "inv_score": 0.4, "score_auc": 0.7, "ap": 0.3, "pck": {"0.05": 0.5}}
    doc = {"methods": {"heatmap": row}, "dataset": {"val": {}}, "wall_seconds": 1.0, "commit": "abc (modified)",
           "config": {"steps_per_method": 2, "data": {"input_size": [72, 96]}},
           "machine": {"platform": "p", "torch_threads": 2}}
    write_report(doc, tmp_path, 0, None, {})
    assert "commit abc (modified)" in (tmp_path / "results.md").read_text()
