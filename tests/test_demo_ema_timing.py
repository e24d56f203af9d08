"""The demo's step timing runs the step training runs, also with the EMA assignment
(``strategy.assign_ema_decay``): it called ``encode`` without the EMA copy and stopped with its error."""

from __future__ import annotations

from adaanchor.config import build_config
from adaanchor.demo import time_steps


def test_time_steps_with_the_ema_assignment(tiny_overrides):
    cfg = build_config(None, [*tiny_overrides, "strategy.assign_ema_decay=0.9"])
    assert time_steps(cfg, n=1) > 0
