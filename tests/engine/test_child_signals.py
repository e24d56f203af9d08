"""Helper processes outlive the process group's SIGTERM and end at the next one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

CHILD = r"""
import sys, time
from adaanchor.child_signals import absorb_first_sigterm
absorb_first_sigterm()
print("ready", flush=True)
time.sleep(60)
"""


def test_a_helper_outlives_the_first_sigterm_and_ends_at_the_second():
    """Ignoring SIGTERM for good hung the training's exit: torch and multiprocessing stop a slow worker with a
    SIGTERM and then wait for it."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        os.kill(proc.pid, signal.SIGTERM)  # the process group's: outlived
        time.sleep(0.5)
        assert proc.poll() is None
        os.kill(proc.pid, signal.SIGTERM)  # its parent stopping it
        assert proc.wait(timeout=10) == -signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


PARENT = r"""
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=subprocess.PIPE, text=True)
assert child.stdout.readline().strip() == "ready"
print(child.pid, flush=True)
"""


def test_a_helper_ends_when_its_parent_is_gone():
    """``adaanchor synth`` dies of the group's SIGTERM (it does not catch it): its generating processes outlived
    it and waited for work forever."""
    parent = subprocess.run([sys.executable, "-c", PARENT, CHILD], stdout=subprocess.PIPE, text=True, timeout=60,
                            check=True)
    pid = int(parent.stdout.strip())
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    raise AssertionError("the helper outlived its parent by 10 s")
