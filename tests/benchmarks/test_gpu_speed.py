"""benchmarks/gpu_speed.py runs its rows' timers (here on the CPU, the device swapped) and refuses a machine
without CUDA with a message."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import gpu_speed  # noqa: E402
import speed  # noqa: E402


def test_the_rows_timers_run_and_measure_paired_ratios(monkeypatch):
    monkeypatch.setattr(gpu_speed, "CUDA", torch.device("cpu"))
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: None)
    tiny = {**speed.TINY, "overrides": ["model.tiny_width=8"]}
    row = speed.Row("t", lambda: {**gpu_speed.train_timers(tiny, ["heatmap", "adaanchor"], 4, 1),
                                  **{f"{k}_infer": v for k, v in gpu_speed.infer_timers(tiny, ["adaanchor"], 2, 1).items()}},
                    {"adaanchor / heatmap": ("adaanchor", "heatmap")})
    r = speed.measure(row, 2)
    assert set(r["ms"]) == {"heatmap", "adaanchor", "adaanchor_infer"} and all(v > 0 for v in r["ms"].values())
    assert r["ratios"]["adaanchor / heatmap"]["median"] > 0
    md = gpu_speed.to_markdown({"machine": {"gpu": "g", "torch": "t", "cuda": "c", "commit": "x"}, "wall_s": 1.0,
                                "rows": {"t": r}})
    assert "adaanchor / heatmap: **" in md


def test_without_cuda_it_says_so(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit):
        gpu_speed.main(["--rows", "train_tiny_b32"])
    assert "no CUDA device" in capsys.readouterr().err
