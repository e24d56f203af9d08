"""benchmarks/paired_tables.py: one table trained two ways, compared seed by seed (A − B per method)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from paired_tables import compare, main  # noqa: E402

from adaanchor.errors import AdaAnchorError  # noqa: E402

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def _doc(offsets: dict[int, float], seeds=(0, 1, 2), table: str = "truncation") -> dict:
    runs = {"FixAnchor": [{"seed": s, "nme_out": 0.10 + offsets.get(s, 0.0), "nme": 0.05, "nme_vis_in": 0.049}
                          for s in seeds],
            "Heatmap-anchor": [{"seed": s, "nme_out": 0.2, "nme": 0.06, "nme_vis_in": 0.055} for s in seeds]}
    return {"table": table, "split": "test", "runs": runs, "commit": "c", "steps": 10, "machine": "m"}


def test_paired_differences_over_the_common_seeds_with_the_seeds_that_moved_alike():
    a = _doc({0: -0.02, 1: -0.03, 2: 0.01, 3: -0.5}, seeds=(0, 1, 2, 3))
    b = _doc({})
    d = compare(a, b)["FixAnchor"]["nme_out"]
    assert d["seeds"] == [0, 1, 2] and d["mean"] == pytest.approx(-0.04 / 3)
    diffs = [-0.02, -0.03, 0.01]
    sd = math.sqrt(sum((x - d["mean"]) ** 2 for x in diffs) / 2)
    assert d["se"] == pytest.approx(sd / math.sqrt(3)) and d["same_sign"] == 2
    assert compare(a, b)["Heatmap-anchor"]["nme_out"]["mean"] == pytest.approx(0.0)
    assert list(compare(a, b, ["FixAnchor"])) == ["FixAnchor"]


def test_two_tables_or_splits_are_not_compared():
    with pytest.raises(AdaAnchorError, match="different tables"):
        compare(_doc({}), _doc({}, table="table4"))
    other = _doc({})
    other["split"] = "dev"
    with pytest.raises(AdaAnchorError, match="different splits"):
        compare(_doc({}), other)


def test_the_published_correction_is_what_the_command_gives(tmp_path, capsys):
    # The local supervision's correction on the pose benchmark (docs/results.md): −1.98 ± 0.46 and −1.56 ± 0.47 px
    # outside the image for FixAnchor and LocalAnchor, computed from the two published results files.
    main([str(RESULTS / "assigner_runs_clamped.json"), str(RESULTS / "assigner_runs_target_rerun.json"),
          "--name", "c", "--labels", "clamped", "target", "--out", str(tmp_path)])
    doc = json.loads((tmp_path / "c.json").read_text())["paired"]
    assert round(doc["FixAnchor"]["inv_error_out"]["mean"], 2) == -1.98
    assert round(doc["LocalAnchor"]["inv_error_out"]["se"], 2) == 0.47
    assert "| FixAnchor | 5 | +0.04 ± 0.02 |" in (tmp_path / "c.md").read_text() and "clamped − target" in capsys.readouterr().out
    # The file's commit is that of the script that gathered the runs; its FixAnchor and LocalAnchor runs were trained
    # 7 commits earlier, which the header said nowhere.
    assert ("commit aaa916d; FixAnchor trained at 4a2b90d; LocalAnchor trained at 4a2b90d, 3000 steps); B = target"
            in (tmp_path / "c.md").read_text())


def _multi(aps: dict[int, float], task: str = "ae") -> dict:
    rows = [{"seed": s, "ap": ap, "recall": 0.5, "ap50": 0.3, "oracle_tags": {"ap": 2 * ap, "recall": 0.5}}
            for s, ap in aps.items()]
    return {"table": "table5", "task": task, "split": "test", "commit": "c", "machine": "m",
            "benches": {"crowd": {"title": "crowd figures", "steps": 36, "runs": {"FixAnchor": rows}}}}


def test_multi_person_tables_are_compared_per_benchmark_and_grouping(tmp_path):
    """A multi-person file (benchmarks/multi_tables.py): per benchmark, the paired columns under learned and oracle
    tags, read from the runs as multi_report flattens them."""
    a, b = _multi({0: 0.20, 1: 0.30, 2: 0.25}), _multi({0: 0.10, 1: 0.20, 2: 0.25})
    d = compare(a, b)["crowd"]["FixAnchor"]
    assert d["ap"]["mean"] == pytest.approx(0.2 / 3) and d["ap"]["same_sign"] == 2
    assert d["oracle.ap"]["mean"] == pytest.approx(0.4 / 3) and d["recall"]["mean"] == pytest.approx(0.0)
    for name, doc in (("a", a), ("b", b)):
        (tmp_path / f"{name}.json").write_text(json.dumps(doc))
    main([str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--name", "m", "--out", str(tmp_path)])
    md = (tmp_path / "m.md").read_text()
    assert md.startswith("# table5 (ae), test split: A − B") and "## crowd figures" in md and "36 steps" in md
    assert "| FixAnchor | 3 | +0.000 ± 0.000 | +6.7 ± 3.3 | +0.0 ± 0.0 | +0.000 ± 0.000 | +13.3 ± 6.7 |" in md
    with pytest.raises(AdaAnchorError, match="different tasks"):
        compare(a, _multi({0: 0.1}, task="centre"))


def test_other_budgets_are_noted_and_unknown_methods_refused(tmp_path, capsys):
    """Tables of 10 and 300 steps were compared without a word (the steps only in the header), and a --methods name
    in neither table was ignored."""
    a, b = _doc({0: 1.0, 1: 2.0}), {**_doc({0: 0.5, 1: 1.0}), "steps": 300}
    for name, doc in (("a", a), ("b", b)):
        (tmp_path / f"{name}.json").write_text(json.dumps(doc))
    files = [str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--name", "x", "--out", str(tmp_path / "o")]
    assert main(files) == 0
    assert "note: the tables were trained for different budgets (10 and 300 steps)" in capsys.readouterr().err
    written = json.loads((tmp_path / "o" / "x.json").read_text())
    assert written["steps"] == [10, 300] and "machine" in written
    assert main([*files, "--methods", "Nope"]) == 2
    assert "--methods Nope: not a method of these tables" in capsys.readouterr().err


@pytest.mark.parametrize("edit,says", [
    (lambda r: r.pop("seed"), "seed must be a whole number, got None"),
    (lambda r: r.update(seed="0"), "seed must be a whole number, got '0'"),
    (lambda r: r.update(nme_out=float("nan")), "nme_out must be a finite number, got nan"),
    (lambda r: r.update(nme_out="5.1"), "nme_out must be a finite number, got '5.1'"),
])
def test_a_run_row_edited_by_hand_is_refused_naming_it(tmp_path, capsys, edit, says):
    """A row without a seed was a KeyError traceback, a string a TypeError; a NaN gave '+nan ± nan' and NaN tokens in
    the JSON written, exit 0."""
    a, b = _doc({0: 1.0, 1: 2.0}), _doc({0: 0.5, 1: 1.0})
    edit(a["runs"]["FixAnchor"][1])
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    assert main([str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--name", "m", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"error: {tmp_path / 'a.json'}: FixAnchor row 1" in err and says in err
    assert not (tmp_path / "m.json").exists()
