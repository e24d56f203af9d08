"""A long DeepLabCut table is read by sleap-io in parts (sleap-io sorts a video's image list again for every row, so
one call grew with the square of the rows: 39 s of CPU at 20,000 rows). The parts give what one reading gives:
the same points on the same images, the same skipped rows, single- and multi-animal, with a missing image."""

from __future__ import annotations

import numpy as np
import pytest
from test_dlc import make_dlc_project

from adaanchor.data.readers import dlc_load
from adaanchor.data.readers.dlc import dlc_spec, read_dlc
from adaanchor.data.spec_source import load_spec


def _read(root, part_rows, monkeypatch):
    monkeypatch.setattr(dlc_load, "PART_ROWS", part_rows)
    dlc_load._load_table.cache_clear()  # cached per file: read again under this part size
    res = read_dlc(root, load_spec(root), skip_invalid=True)
    spec = dlc_spec(root)
    dlc_load._load_table.cache_clear()
    return res, spec


@pytest.mark.parametrize("individuals", [(), ("mouse1", "mouse2")])
def test_a_table_read_in_parts_gives_what_one_reading_gives(tmp_path, monkeypatch, individuals):
    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 11, 3), ("vidB", 7, 1)), individuals=individuals)
    (root / "labeled-data" / "vidA" / "img004.png").unlink()  # a row whose image is missing, mid-table
    whole, whole_spec = _read(root, 10**9, monkeypatch)
    parts, parts_spec = _read(root, 3, monkeypatch)  # 3-4 parts a table
    assert [(s.name, s.keypoints, s.skeleton, s.flip_pairs) for s in (parts_spec, whole_spec)] == \
        [(whole_spec.name, whole_spec.keypoints, whole_spec.skeleton, whole_spec.flip_pairs)] * 2
    assert [(s.reason, str(s)) for s in parts.skipped] == [(s.reason, str(s)) for s in whole.skipped]
    assert any(s.reason == "image file not found" for s in whole.skipped)
    assert len(parts.instances) == len(whole.instances) >= 12
    for a, b in zip(parts.instances, whole.instances, strict=True):
        assert (a.image_path, a.image_id, a.extra) == (b.image_path, b.image_id, b.extra)
        np.testing.assert_array_equal(a.visibility, b.visibility)
        np.testing.assert_array_equal(a.keypoints, b.keypoints)
