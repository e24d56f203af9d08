"""DeepLabCut tables saved again by a spreadsheet: separated by ';' (a comma-decimal locale), UTF-16 ("Unicode
Text"), or with empty columns at the end. Each was an error that did not say what was wrong (or a column error
for the empty columns); the empty columns are now read past."""

from __future__ import annotations

import numpy as np
import pytest
from test_dlc import _by_image, _expected, make_dlc_project

from adaanchor.data.readers.dlc import read_dlc
from adaanchor.data.spec_source import load_spec
from adaanchor.errors import DataError


def _table(root):
    return root / "labeled-data" / "vidA" / "CollectedData_lab.csv"


@pytest.mark.parametrize("sep,name", [(";", "';'"), ("\t", "tabs")])
def test_a_table_separated_by_semicolons_or_tabs_says_so(tmp_path, sep, name):
    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 4, 3),))
    _table(root).write_text(_table(root).read_text().replace(",", sep))
    with pytest.raises(DataError, match=f"no 'bodyparts' and 'coords' header rows \\(its cells are separated by "
                                        f"{name}, as Excel saves .*'CSV UTF-8 \\(comma delimited\\)'"):
        read_dlc(root, load_spec(root))


def test_a_utf16_table_names_its_encoding(tmp_path):
    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 4, 3),))
    _table(root).write_bytes(_table(root).read_text().encode("utf-16"))
    with pytest.raises(DataError, match=r"not a readable CSV file: UTF-16 text \(Excel's 'Unicode Text'\): save it as"):
        read_dlc(root, load_spec(root))


@pytest.mark.parametrize("n_index", [1, 3])
def test_empty_columns_at_the_end_are_read_past(tmp_path, n_index):
    """They were 'expected x, y for each bodypart, got ,  for '' (column 12)'."""
    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 5, n_index),))
    want = _expected(root)
    lines = _table(root).read_text().splitlines()
    _table(root).write_text("\n".join(ln + ",," for ln in lines) + "\n")
    got = _by_image(read_dlc(root, load_spec(root), skip_invalid=True), root)
    assert sorted(got) == sorted(want) and want
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])


def _h5_beside(root, edit):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("tables", reason="DeepLabCut .h5 tables are read through pandas + PyTables")
    table = _table(root)
    df = pd.read_csv(table, header=[0, 1, 2], index_col=[0, 1, 2])
    edit(df).to_hdf(table.with_suffix(".h5"), key="df_with_missing", mode="w")


def test_a_csv_and_h5_that_disagree_are_said_once(tmp_path, capsys):
    """The CSV was read over a stale .h5 beside it (DeepLabCut trains from the .h5) without a word."""
    from adaanchor.cli import main

    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 5, 3),))
    _h5_beside(root, lambda df: df)
    capsys.readouterr()
    assert main(["data", "stats", "data.format=dlc", f"data.root={root}"]) == 0
    assert "warning" not in capsys.readouterr().err  # the pair agrees
    _h5_beside(root, lambda df: df + 0.5)
    assert main(["data", "stats", "data.format=dlc", f"data.root={root}"]) == 0
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("warning:")]
    assert len(err) == 1 and "CollectedData_lab.csv and CollectedData_lab.h5 beside it hold different labels (" in err[0]
    assert "the first in row 0 (labeled-data/vidA/img000.png)" in err[0] or "the first in row 1" in err[0]
    assert "the .csv is read, but DeepLabCut trains from the .h5" in err[0]
    _h5_beside(root, lambda df: df.iloc[:3])
    assert main(["data", "stats", "data.format=dlc", f"data.root={root}"]) == 0
    assert "(5 x 10 against 3 x 10 cells)" in capsys.readouterr().err
