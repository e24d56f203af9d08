"""benchmarks/rejected_speedups.py: the alternatives it times compute what the code computes (else its ratios
would compare different work), and it writes its files."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "rejected_speedups.py"


def _bench():
    sys.path.insert(0, str(BENCH.parent))
    spec = importlib.util.spec_from_file_location("rejected_speedups_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("row", ["heads_backward"])
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
    assert mod.main(["--reps", "1", "--rows", "onnx_deconvs", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "rejected_speedups.json").read_text())
    assert set(res["rows"]) == {"onnx_deconvs"}
    assert res["rows"]["onnx_deconvs"]["max_abs_difference"] <= 1e-4 and res["rows"]["onnx_deconvs"]["ratio"] > 0
    assert "| onnx_deconvs |" in (tmp_path / "rejected_speedups.md").read_text()
