"""A stop at ``train.time_limit_s`` logs the step it stopped after, whatever ``train.log_every``: that step's
losses were in no row (with log_every=10 a run stopped at step 3 left no train_log.csv at all), and a resume
keeps the row (the log is cut back to the checkpoint's step, which is this one)."""

from __future__ import annotations

import csv
from pathlib import Path

from adaanchor.config import build_config
from adaanchor.engine.train import train


def _steps(run: Path) -> list[int]:
    with open(run / "train_log.csv") as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


def test_time_limit_stop_logs_its_last_step(tiny_overrides):
    over = [*tiny_overrides, "train.eval_every=0", "train.max_steps=6", "train.log_every=4"]
    out = train(build_config(None, [*over, "train.time_limit_s=1e-9"]))
    assert out["timed_out"] and out["steps"] == 1
    run = Path(out["run_dir"])
    assert _steps(run) == [1]
    out = train(build_config(None, [*over, "resume=auto"]))
    assert out["steps"] == 6 and _steps(run) == [1, 4, 6]
