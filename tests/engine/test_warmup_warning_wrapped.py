"""The warning for ``strategy.warmup_steps`` covering the whole run also reads the anchor strategy that a
multi-person strategy wraps (bottom-up: ``inner``; centre: ``centre``, which it missed)."""

from __future__ import annotations

import pytest

from adaanchor.engine.schedule import warmup_warning
from adaanchor.strategies import build_strategy
from adaanchor.strategies.centre import build_centre
from adaanchor.strategies.tags import build_bottomup


@pytest.mark.parametrize("build", [lambda c: build_strategy(c, 2, 4, (64, 32)),
                                   lambda c: build_bottomup(c, None, 2, 4, (64, 32)),
                                   lambda c: build_centre(c, None, 2, 4, (64, 32))])
def test_warmup_past_the_run_warns_for_every_task(build):
    st = build({"name": "adaanchor", "warmup_steps": 10})
    assert "warmup_steps=10" in warmup_warning(st, 10)[0]
    assert warmup_warning(st, 11) == []
    assert warmup_warning(build({"name": "fixanchor", "warmup_steps": 10}), 5) == []
