"""An evaluation's bar stays and ends its line in a log, and is cleared on a terminal: ``eval ... 2>&1 | tail``
showed the table's header glued to the cleared bar (``...1.66it/s]      | Method | Vis.Error |``)."""

from __future__ import annotations

import io
import sys

from tqdm import tqdm

from adaanchor.progress import leave_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_stays_in_a_log_and_goes_on_a_terminal(monkeypatch):
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    assert leave_bar() is True
    for _ in tqdm(range(3), file=log, leave=leave_bar(), mininterval=0):
        pass
    assert log.getvalue().endswith("\n")  # what is printed next starts a line of its own
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert leave_bar() is False
    monkeypatch.setattr(sys, "stderr", None)  # pythonw: no standard error at all
    assert leave_bar() is True


def test_the_evaluation_bars_use_it():
    from pathlib import Path

    engine = Path(__file__).resolve().parents[1] / "src" / "adaanchor" / "engine"
    texts = {f.name: f.read_text() for f in engine.glob("*.py")}
    assert not [n for n, t in texts.items() if "leave=False" in t]
    assert sum(t.count("leave=leave_bar()") for t in texts.values()) == 3
