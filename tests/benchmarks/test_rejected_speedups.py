"""benchmarks/rejected_speedups.py: the alternatives it times compute what the code computes (else its ratios
would compare different work), and it writes its files."""

from __future__ import annotations

import json

import pytest

from root_helpers import load_benchmark


def _bench():
    return load_benchmark("rejected_speedups")


@pytest.mark.parametrize("row", ["heads_backward", "take_rows"])
def test_each_alternative_gives_the_current_results(row):
    mod = _bench()
    current, alternative = mod.ROWS[row][1]()
    a, b = current(), alternative()
    assert mod._difference(a, b) <= 1e-5
    if row == "heads_backward":
        assert float(a[1].abs().max()) > 1e-3  # the weight gradient is not all zeros: a comparison of something


@pytest.mark.slow
def test_the_onnx_row_and_the_files(tmp_path):
    mod = _bench()
    assert mod.main(["--reps", "1", "--rows", "onnx_deconvs", "take_rows_in_step", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "rejected_speedups.json").read_text())
    assert set(res["rows"]) == {"onnx_deconvs", "take_rows_in_step"}
    assert res["rows"]["take_rows_in_step"]["max_abs_difference"] is None
    assert res["rows"]["onnx_deconvs"]["max_abs_difference"] <= 1e-4 and res["rows"]["onnx_deconvs"]["ratio"] > 0
    assert "| onnx_deconvs |" in (tmp_path / "rejected_speedups.md").read_text()


def test_the_plane_pick_gives_the_pair_indexing_rows_in_every_layout():
    """The alternative is only a fair comparison where it picks the same values, also where it falls back."""
    import torch

    mod = _bench()
    g = torch.Generator().manual_seed(0)
    stacked = torch.randn(3, 20, 12, generator=g)
    layouts = [(t.view(3, -1, 3, 4), c) for t, c in zip(stacked.split([4, 8, 8], 1), (1, 2, 2))]
    layouts += [(torch.randn(3, 8, 3, 4, generator=g).contiguous(memory_format=torch.channels_last), 2),
                (torch.randn(3, 2, 4, 2, generator=g).permute(0, 2, 1, 3), 1)]
    rows = torch.tensor([0, 2, 5, 11])
    for x, per_row in layouts:
        assert torch.equal(mod._take_rows_planes(x, rows, per_row), mod.take_rows(x, rows, per_row))
    assert mod._channel_planes(layouts[0][0]) is not None and mod._channel_planes(layouts[3][0]) is None
