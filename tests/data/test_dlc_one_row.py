"""A DeepLabCut table with a single labelled frame: ``error: .../CollectedData_lab.csv: sleap-io read 0 frames from 1
rows``, and one such video beside a normal one blocked the whole project. sleap-io (0.9.5) tells DeepLabCut's layouts
apart by peeking at a table's second data row; a single-animal table of one row has none, its three index columns
(DeepLabCut >= 2.2) were taken for one and the row's image for ``labeled-data``. The reader gives sleap-io such a table
in the one-index-column form it reads without the peek; sleap-io stays the reader, checked here against the CSV read
with the csv module. The projects are generated here."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from adaanchor.cli import main
from adaanchor.data.readers.dlc import read_dlc
from adaanchor.data.spec_source import load_spec

BODYPARTS = ["snout", "leftear", "rightear", "tail"]


def _project(root: Path, videos: dict[str, int], n_index: int = 3) -> dict[str, np.ndarray]:
    """A single-animal project, ``videos``: name -> frames; returns image path as written -> (K, 2) points as the
    csv module reads them (NaN: an empty cell)."""
    rng = np.random.default_rng(1)
    root.mkdir(parents=True)
    (root / "config.yaml").write_text(yaml.safe_dump({"Task": "mouse", "scorer": "lab", "bodyparts": BODYPARTS,
                                                      "skeleton": [["snout", "tail"]]}))
    pad = [""] * (n_index - 1)
    truth = {}
    for v, n in videos.items():
        folder = root / "labeled-data" / v
        folder.mkdir(parents=True)
        rows = [["scorer", *pad, *["lab"] * 8], ["bodyparts", *pad, *[b for b in BODYPARTS for _ in "xy"]],
                ["coords", *pad, *["x", "y"] * 4]]
        for i in range(n):
            Image.new("RGB", (64, 48), (i * 30, 60, 90)).save(folder / f"img{i:03d}.png")
            pts = rng.uniform(0, [63, 47], (4, 2))
            pts[2] = np.nan  # one unlabelled bodypart
            cells = ["" if np.isnan(c) else repr(float(c)) for c in pts.reshape(-1)]
            image = f"labeled-data/{v}/img{i:03d}.png"
            rows.append([*(image.split("/") if n_index == 3 else [image]), *cells])
            truth[image] = np.array([[float(r[0]), float(r[1])] if r[0] else [np.nan, np.nan]
                                     for r in zip(cells[::2], cells[1::2])])
        with (folder / "CollectedData_lab.csv").open("w", newline="") as f:
            csv.writer(f).writerows(rows)
    return truth


def _read(root: Path) -> dict[str, np.ndarray]:
    res = read_dlc(root, load_spec(root))
    assert not res.skipped
    return {Path(i.image_path).relative_to(root).as_posix(): np.where(i.visibility[:, None] == 2, i.keypoints, np.nan)
            for i in res.instances}


@pytest.mark.parametrize("videos, n_index", [({"vidA": 1}, 3), ({"vidA": 1}, 1), ({"vidA": 4, "vidB": 1}, 3)],
                         ids=["one-row-3-index-columns", "one-row-1-index-column", "one-row-beside-a-video"])
def test_a_table_of_one_labelled_row_is_read(tmp_path, videos, n_index):
    truth = _project(tmp_path / "proj", videos, n_index)
    got = _read(tmp_path / "proj")
    assert sorted(got) == sorted(truth)
    for image, pts in truth.items():  # sleap-io's coordinates, bit for bit those of the CSV
        np.testing.assert_array_equal(got[image], pts)


def test_data_stats_of_a_project_with_a_one_row_video(tmp_path, capsys):
    _project(tmp_path / "proj", {"vidA": 4, "vidB": 1})
    capsys.readouterr()
    assert main(["data", "stats", "data.format=dlc", f"data.root={tmp_path / 'proj'}"]) == 0
    out = capsys.readouterr().out
    assert "sleap-io read" not in out and "| total | 5 |" in out
