"""The program's exit: the status of ``main``, and no interpreter finalisation in a process that made a process
group (a gloo worker thread releasing a collective's tensors during it aborted finished torchrun trainings)."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

import adaanchor.cli as cli
from adaanchor.engine import dist as dist_mod


class _HardExit(Exception):
    pass


@pytest.fixture
def fake_exit(monkeypatch):
    """``os._exit`` recorded instead of taken."""
    calls = []

    def _exit(code):
        calls.append(code)
        raise _HardExit

    monkeypatch.setattr(cli.os, "_exit", _exit)
    return calls


def test_exit_status_is_mains(monkeypatch, fake_exit):
    monkeypatch.setattr(cli, "main", lambda: 3)
    monkeypatch.setattr(dist_mod, "_made_group", [False])
    with pytest.raises(SystemExit) as e:
        cli.entry()
    assert e.value.code == 3 and fake_exit == []


class _Stream(io.StringIO):
    """A buffered stream: what is flushed is what a reader would see after ``os._exit``."""

    def __init__(self):
        super().__init__()
        self.seen = ""

    def flush(self):
        self.seen = self.getvalue()


def test_a_process_that_made_a_group_exits_at_once_with_its_output_flushed(monkeypatch, fake_exit):
    out, err = _Stream(), _Stream()
    monkeypatch.setattr(cli.sys, "stdout", out)
    monkeypatch.setattr(cli.sys, "stderr", err)

    def main():
        print("trained 4 steps", end="", file=out)
        print("warning: x", end="", file=err)
        return 2

    monkeypatch.setattr(cli, "main", main)
    monkeypatch.setattr(dist_mod, "_made_group", [True])
    with pytest.raises(_HardExit):
        cli.entry()
    assert fake_exit == [2] and out.seen == "trained 4 steps" and err.seen == "warning: x"


def test_init_distributed_records_the_group_it_makes(monkeypatch):
    made = []
    monkeypatch.setattr(dist_mod, "_made_group", [False])
    monkeypatch.setattr(dist_mod.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist_mod.dist, "init_process_group", lambda **kw: made.append(kw["backend"]))
    monkeypatch.setenv("WORLD_SIZE", "1")
    dist_mod.init_distributed("cpu")
    assert not dist_mod.made_process_group() and made == []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    dist_mod.init_distributed("cpu")
    assert dist_mod.made_process_group() and made == ["gloo"]


def test_python_m_adaanchor_exits_with_the_commands_status():
    ok = subprocess.run([sys.executable, "-m", "adaanchor", "--version"], capture_output=True, text=True, timeout=60)
    bad = subprocess.run([sys.executable, "-m", "adaanchor", "no-such-command"], capture_output=True, text=True,
                         timeout=60)
    assert ok.returncode == 0 and "adaanchor" in ok.stdout
    assert bad.returncode == 2
