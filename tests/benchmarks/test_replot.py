"""benchmarks/replot.py: a table's plot drawn again from its results file, old and new formats alike."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from replot import main  # noqa: E402

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def _panels(monkeypatch, tmp_path, name: str) -> tuple[list[str], str]:
    """The panel titles and the figure title replot draws for the results file ``name`` (copied to ``tmp_path``)."""
    shutil.copy(RESULTS / f"{name}.json", tmp_path / f"{name}.json")
    seen = {}
    real = plt.Figure.savefig
    monkeypatch.setattr(plt.Figure, "savefig", lambda fig, *a, **k: (seen.setdefault("fig", fig), real(fig, *a, **k)))
    assert main([str(tmp_path / f"{name}.json")]) == 0 and (tmp_path / f"{name}.png").is_file()
    fig = seen["fig"]
    _panels.bands = sum(len(ax.collections) for ax in fig.axes)  # the shaded ± std bands of a sweep
    return [ax.get_title() for ax in fig.axes if ax.get_title()], fig._suptitle.get_text()


def test_a_table_from_before_the_split_invisible_error_keeps_its_error_panel(monkeypatch, tmp_path):
    """table2's summary has the whole invisible error only: its error panel was dropped (one panel of confidence)."""
    titles, title = _panels(monkeypatch, tmp_path, "table2")
    assert len(titles) == 2 and titles[0].startswith("Inv.Error") and title.startswith("table2 (150 steps)")


def test_a_table_of_the_split_error_and_a_crowd_table(monkeypatch, tmp_path):
    titles, title = _panels(monkeypatch, tmp_path, "assigner_runs_clamped")
    assert [t.split(" (")[0] for t in titles] == ["Inv.Error in image", "Inv.Error outside", "Inv.Score"]
    assert title == "assigner (test split, 3000 steps); bars: mean ± std over seeds"
    titles, title = _panels(monkeypatch, tmp_path, "table5")
    assert title == "table5: crowd figures; means over seeds, band: ± std" and titles == []
    assert _panels.bands == 8 + 4  # AP: 4 methods x 2 groupings; recall: once per method


def test_a_file_that_is_no_results_table_is_refused(tmp_path, capsys):
    (tmp_path / "x.json").write_text(json.dumps({"a": 1}))
    assert main([str(tmp_path / "x.json")]) == 2
    assert "x.json: not a results JSON of paper_tables.py or multi_tables.py" in capsys.readouterr().err


def _edited(tmp_path, name, edit):
    doc = json.loads((RESULTS / f"{name}.json").read_text())
    edit(doc)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(doc))
    return path


def _first_cell(doc):
    summary = doc["summary"]
    method = next(iter(summary))
    return summary[method], "inv_error_in"  # a column the plot draws


@pytest.mark.parametrize("name,edit,says", [
    ("table1", lambda d: _first_cell(d)[0].__setitem__(_first_cell(d)[1], [5.0]), "its summary is not as the table "
                                                                                 "scripts write it"),
    ("table1", lambda d: _first_cell(d)[0].__setitem__(_first_cell(d)[1], "12.3"), "its summary is not as the table"),
    ("table1", lambda d: d.update(summary={}), "the table has no summary of any method: nothing to draw"),
    ("table5", lambda d: next(iter(d["benches"].values())).pop("summary"), "a benchmark has no summary of any method"),
    ("table5", lambda d: d.update(benches={}), "a benchmark has no summary of any method"),
])
def test_a_file_edited_by_hand_is_one_line(tmp_path, capsys, name, edit, says):
    """Tracebacks (unpacking, KeyError 'summary', StopIteration), or an empty plot written with exit 0."""
    path = _edited(tmp_path, name, edit)
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: ") and says in err
    assert not path.with_suffix(".png").exists()
