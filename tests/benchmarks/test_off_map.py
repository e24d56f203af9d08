"""benchmarks/off_map.py: labelled keypoints and person centres beyond the map's outer cell centres, in cells."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import off_map  # noqa: E402

from adaanchor.errors import AdaAnchorError  # noqa: E402


def _coco(path: Path, keypoints: list[float], image: dict | None = None) -> Path:
    image = {"id": 1, "file_name": "a.png", "width": 32, "height": 32} if image is None else image
    path.write_text(json.dumps({"images": [image], "annotations": [
        {"id": 1, "image_id": 1, "keypoints": keypoints, "num_keypoints": 3},
        {"id": 2, "image_id": 1, "keypoints": [5, 5, 0, 6, 6, 0, 7, 7, 0]},  # nothing labelled: no centre
    ]}))
    return path


def test_counts_and_distances_against_the_outer_cell_centres(tmp_path, capsys):
    # 32x32 at stride 4: an 8x8 map whose outer cell centres lie at 1.5 and 29.5 pixels.
    path = _coco(tmp_path / "a.json", [-10.5, 10, 2, 31.5, 10, 1, 10, 10, 2])  # 3 cells off, 0.5 off, inside
    dist = off_map.beyond_cells(off_map.np.array([[-10.5, 10], [31.5, 10], [10, 10], [1.5, 29.5]]), 32, 32, 4)
    assert dist.tolist() == pytest.approx([3.0, 0.5, 0.0, 0.0])
    row = off_map.count_file(path, 4, 2.0)
    assert row["keypoints"] == {"labelled": 3, "beyond": 2, "beyond_radius": 1, "max_cells": 3.0}
    assert row["centres"] == {"labelled": 1, "beyond": 0, "beyond_radius": 0, "max_cells": 0.0}
    assert off_map.count_file(path, 4, 3.0)["keypoints"]["beyond_radius"] == 0  # "more than" the radius
    assert off_map.main([str(path), "--out", str(tmp_path / "out")]) == 0
    assert f"| {tmp_path.name}/a.json | keypoints | 3 | 2 (66.67 %) | 1 (33.33 %) | 3.0 |" in capsys.readouterr().out
    doc = json.loads((tmp_path / "out" / "off_map.json").read_text())
    assert doc["files"][0]["keypoints"]["beyond"] == 2
    assert doc["commit"] != "unknown" and "torch threads" in doc["machine"]  # the file had neither


def test_bad_files_name_the_file_and_the_record(tmp_path):
    with pytest.raises(AdaAnchorError, match=r"a.json: images\[0\] needs positive integer 'width'"):
        off_map.count_file(_coco(tmp_path / "a.json", [1, 1, 2] * 3, {"id": 1, "height": 32}), 4, 2.0)
    with pytest.raises(AdaAnchorError, match=r"b.json: annotations\[0\] \(id 1\): 'keypoints' must be x, y, v triples"):
        off_map.count_file(_coco(tmp_path / "b.json", [1, 1]), 4, 2.0)
    (tmp_path / "c.json").write_text("{")
    with pytest.raises(AdaAnchorError, match="c.json: cannot read it as JSON"):
        off_map.count_file(tmp_path / "c.json", 4, 2.0)
