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
