"""benchmarks/crowd_errors.py: each labelled keypoint's distance to the nearest detection of its type, by band."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import crowd_errors as ce  # noqa: E402


class _Decoder:
    """decode_multi's interface: detections ``xy (1, K, M, 2)`` in input pixels with scores and validity."""

    def __init__(self, xy, score, valid):
        self.dec = SimpleNamespace(xy=torch.tensor([xy]), score=torch.tensor([score]), valid=torch.tensor([valid]))

    def decode_multi(self, outputs, gamma):
        return self.dec, None


def test_errors_are_put_in_bands_and_misses_count():
    # 32x32 at stride 4: outer cell centres at 1.5 and 29.5. Type 0 on the map, type 1 three cells off it (a
    # detection below gamma does not count), type 2 half a cell off with no detection at all.
    strat = _Decoder(xy=[[[11.0, 10.0], [0.0, 0.0]], [[2.0, 10.0], [-9.5, 10.0]], [[0.0, 0.0], [0.0, 0.0]]],
                     score=[[0.9, 0.0], [0.9, 0.05], [0.0, 0.0]], valid=[[True, False], [True, True], [False, False]])
    truth = {7: (np.array([[[10.0, 10.0], [-10.5, 10.0], [31.5, 10.0]]]), np.array([[2, 1, 2]]))}
    cached = [({}, {"image_id": 7, "affine": np.eye(3)[:2]})]
    rows = ce.keypoint_errors(strat, cached, truth, {7: (32, 32)}, 4, 0.1, 2.0)
    # (10, 10) lies 2.125 cells inside the left and top edges: near the edge
    assert rows[0] == (1, 1.0) and rows[1] == (3, 12.5) and rows[2][0] == 2 and math.isinf(rows[2][1])
    s = ce.summary(rows)
    assert s["inside, near the edge"] == {"n": 1, "missed": 0, "median_px": 1.0, "mean_px": 1.0, "within_4px": 1.0}
    assert s["inside, away from the edge"]["n"] == 0
    assert s["beyond the radius"]["median_px"] == 12.5 and s["beyond the radius"]["within_4px"] == 0.0
    assert s["beyond, up to the radius"] == {"n": 1, "missed": 1, "median_px": None, "mean_px": None, "within_4px": 0.0}
    signed = ce.edge_cells(np.array([[15.5, 15.5], [1.5, 20.0], [-10.5, 10.0]]), 32, 32, 4)
    assert signed.tolist() == pytest.approx([-3.5, 0.0, 3.0])
    assert ce.band_of(signed, 2.0).tolist() == [0, 1, 3]
    doc = {"table": "table5", "split": "test", "gamma": 0.1, "seeds": [0], "radius": 2.0,
           "results": {"A": {"fixanchor": {"0": s}}}}
    assert "| A | fixanchor | inside, near the edge | 1 | 0.0 | 1.00 | 1.00 | 1.000 |" in ce.to_markdown(doc)


def test_a_folder_without_the_run_is_named(tmp_path):
    import multi_tables as mt

    data = mt.bench_data("crowd", tmp_path / "cache", 4, 2, "test")
    with pytest.raises(SystemExit, match=r"fixanchor_s0/model.pt: no trained run"):
        ce.run_errors(tmp_path / "none", "table5", "fixanchor", 0, data, 0.1, 8)
