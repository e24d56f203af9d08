"""The convergence check reads the multi-person snapshots taken at round(p * steps) (benchmarks/multi_runs.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from protocol import convergence  # noqa: E402


def _log(path, rows):
    path.write_text("step,ap,oracle_ap,recall\n" + "".join(f"{s},0.1,{v},0.5\n" for s, v in rows))
    return path


@pytest.mark.parametrize("steps", [1003, 1007, 3600])
def test_convergence_reads_the_snapshots_at_the_rounded_steps(tmp_path, steps):
    # multi_runs.SNAPSHOTS are taken at max(1, round(f * steps)); with 1003 steps the 90% one is step 903 (> 902.7),
    # with 1007 the 80% one is 806 (> 805.6): each must be the reference of its window, not the row before it.
    s80, s90 = (max(1, round(f * steps)) for f in (0.8, 0.9))
    c = convergence(_log(tmp_path / "eval_log.csv", [(s80, 0.20), (s90, 0.255), (steps, 0.26)]), steps, "oracle_ap")
    assert c["rel_change_last20"] == pytest.approx((0.26 - 0.20) / 0.20)
    assert c["rel_change_last10"] == pytest.approx((0.26 - 0.255) / 0.255)
    assert c["converged"] is True
