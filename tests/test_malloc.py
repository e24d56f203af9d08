"""Keeping freed memory (adaanchor.malloc): a process that allocates the same large tensors again and again stops
taking page faults for them; the environment turns it off; nothing else changes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from adaanchor import malloc

# Whether the thresholds are set, and how much of a fresh 16 MB tensor glibc maps on its own (mmap) rather than
# serving from its heap (mallinfo2's hblkhd, glibc 2.33 and later): the first large block of a process is mapped
# afresh by default, and every such block once glibc's trim threshold gives freed memory back.
_PROBE = """
import ctypes, sys, torch
from adaanchor.malloc import keep_freed_memory
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                 "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
applied = keep_freed_memory() if sys.argv[1] == "keep" else False
before = libc.mallinfo2().hblkhd
a = torch.ones(4_000_000)
print(applied, libc.mallinfo2().hblkhd - before)
"""

needs_glibc = pytest.mark.skipif(malloc._glibc() is None or not hasattr(malloc._glibc(), "mallinfo2"),
                                 reason="glibc's malloc (2.33 or later) only")


def _probe(mode: str, **env: str) -> tuple[bool, int]:
    clean = {k: v for k, v in os.environ.items() if k not in (malloc.ENV, "GLIBC_TUNABLES")}
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True,
                         env={**clean, **env}).stdout.split()
    return out[0] == "True", int(out[1])


@needs_glibc
def test_large_tensors_come_from_the_heap_that_keeps_them():
    applied, mapped = _probe("keep")
    assert applied and mapped == 0
    applied, mapped = _probe("default")
    assert not applied and mapped >= 16_000_000


@needs_glibc
@pytest.mark.parametrize("env", [{malloc.ENV: "default"}, {malloc.ENV: " OFF"}, {malloc.ENV: "0"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1000000"}])
def test_the_environment_turns_it_off(env):
    applied, _ = _probe("keep", **env)
    assert not applied


def test_an_unknown_setting_is_named(monkeypatch):
    monkeypatch.setenv(malloc.ENV, "sometimes")
    monkeypatch.setattr(malloc, "_glibc", lambda: None)  # nothing is applied in the test process itself
    with pytest.warns(UserWarning, match=r"ADAANCHOR_MALLOC='sometimes' is neither 'keep' nor 'default'"):
        assert malloc._apply() is False


def test_off_glibc_nothing_is_changed(monkeypatch):
    monkeypatch.setattr(malloc.sys, "platform", "darwin")
    assert malloc._glibc() is None
    monkeypatch.setattr(malloc, "_state", {"applied": None})
    assert malloc.keep_freed_memory() is False


def test_the_cli_names_an_unknown_setting_in_one_line(monkeypatch, capsys, tmp_path):
    """The command line prints the warning as its other warnings (``warning: ...``), not Python's
    ``FILE:LINE: UserWarning:`` with a source line."""
    from adaanchor.cli import main

    monkeypatch.setenv(malloc.ENV, "sometimes")
    monkeypatch.setattr(malloc, "_glibc", lambda: None)
    monkeypatch.setattr(malloc, "_state", {"applied": None})
    assert main(["synth", str(tmp_path / "b"), "n_train=1", "n_val=1"]) == 0
    err = [ln for ln in capsys.readouterr().err.splitlines() if "ADAANCHOR_MALLOC" in ln]
    assert err == ["warning: ADAANCHOR_MALLOC='sometimes' is neither 'keep' nor 'default': keeping freed memory"]
