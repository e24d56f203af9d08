"""``adaanchor export`` prints the PyTorch and onnxruntime latencies: measured beside a running training they were
240-330 times the idle ones with nothing said; the report now says when the load average was at least half the
CPUs, and stays as it was on an idle machine."""

from __future__ import annotations

import os

import pytest

from adaanchor.export.report import format_export_report

RES = {"path": "m.onnx", "size_bytes": 2**20, "strategy": "adaanchor", "exporter": "dynamo", "opset": 18,
       "input_shape": [1, 3, 96, 72], "outputs": ["keypoints"], "threads": 2, "latency_ms_torch": 386.0,
       "latency_ms_onnxruntime": 200.0}
CPUS = len(os.sched_getaffinity(0))


@pytest.mark.parametrize("load, said", [(None, False), (0.0, False), (0.49 * CPUS, False), (0.5 * CPUS, True),
                                        (3.0 * CPUS, True)])
def test_latency_under_load_is_said(load, said):
    text = format_export_report({**RES, "load_average": load})
    assert "PyTorch 386.00 ms" in text
    assert ("measured while other work ran" in text) is said


def test_the_check_records_the_load(monkeypatch):
    from adaanchor.export import check

    monkeypatch.setattr(os, "getloadavg", lambda: (1.5, 1.0, 0.5))
    assert check.load_average() == 1.5
    monkeypatch.setattr(os, "getloadavg", lambda: (_ for _ in ()).throw(OSError("no load average")))
    assert check.load_average() is None


def test_a_run_evaluated_with_the_flip_test_is_told_the_graph_has_none():
    """export RUN eval.flip_test=true wrote a one-pass graph without a word (ONNX audit)."""
    assert "note: eval.flip_test=true is not in the graph" in format_export_report({**RES, "flip_test": True})
    assert "flip_test" not in format_export_report(RES)
