"""A SIGTERM to a command that does not handle it itself unwinds it as Ctrl-C does (adaanchor/cli/sigterm.py); a
closed output pipe stops a command quietly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from adaanchor.cli import main
from adaanchor.cli.sigterm import EXIT_SIGTERM


def _as_synth(monkeypatch, func) -> None:
    """``adaanchor synth`` runs ``func`` (a command under sigterm_unwinds, as every command without its own handler)."""
    from adaanchor import cli

    real_build = cli.build_parser

    def build():
        p = real_build()
        p._subparsers._group_actions[0].choices["synth"].set_defaults(func=func)
        return p

    monkeypatch.setattr(cli, "build_parser", build)


def test_a_sigterm_in_a_command_is_said_and_exits_143(monkeypatch, capsys):
    """``adaanchor synth``, ``eval``, ``export``: the default action ended them on the spot, without a word."""

    def sigterm_midway(a):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
        raise AssertionError("SIGTERM did not stop the command")

    _as_synth(monkeypatch, sigterm_midway)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    t0 = time.time()
    assert main(["synth", "somewhere"]) == EXIT_SIGTERM
    assert time.time() - t0 < 4
    assert "stopped by SIGTERM" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # put back


@pytest.mark.slow
def test_synth_stopped_by_sigterm_ends_its_helpers_and_leaks_nothing(tmp_path):
    """The generating processes went on for the queued chunks (or waited forever), and multiprocessing warned of
    leaked semaphores."""
    out = tmp_path / "bench"
    proc = subprocess.Popen([sys.executable, "-m", "adaanchor", "synth", str(out), "n_train=8000", "n_val=10"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.time() + 120
        while not any((out / "images" / "train").glob("*.png")) if (out / "images" / "train").is_dir() else True:
            assert proc.poll() is None and time.time() < deadline, "no image written"
            time.sleep(0.05)
        t0 = time.time()
        os.killpg(proc.pid, signal.SIGTERM)  # the whole group, as a scheduler sends it
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == EXIT_SIGTERM, err
    assert time.time() - t0 < 10, "the queued chunks were rendered before the exit"
    assert "stopped by SIGTERM" in err and "leaked" not in err and "Traceback" not in err, err
    assert not (out / "manifest.json").exists()  # incomplete: the next run writes it again


def test_output_into_a_closed_pipe_stops_quietly():
    """``adaanchor score ... | head`` printed a BrokenPipeError traceback when head left."""
    code = ("import sys\nfrom adaanchor import cli\nreal = cli.build_parser\n"
            "def build():\n    p = real()\n"
            "    p._subparsers._group_actions[0].choices['synth'].set_defaults("
            "func=lambda a: [print('line', i) for i in range(200000)] and 0)\n    return p\n"
            "cli.build_parser = build\nsys.exit(cli.main(['synth', 'x']))\n")
    proc = subprocess.run(f"{sys.executable} -c \"{code}\" | head -1", shell=True, capture_output=True, text=True,
                          timeout=120)
    assert proc.stdout == "line 0\n" and "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


def _sigterm_in_a_finalizer() -> None:
    """A SIGTERM that arrives while a weakref finalizer runs: Python prints "Exception ignored" and drops the raise."""
    import weakref

    class Thing:
        pass

    thing = Thing()
    weakref.finalize(thing, os.kill, os.getpid(), signal.SIGTERM)
    del thing


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # what is tested
def test_a_sigterm_dropped_in_a_finalizer_still_stops_the_command(monkeypatch, capsys):
    """``viz`` drew all of a 1,500-frame video and exited 0 once in about 30 stops: the signal had landed in a
    weakref callback. The loops check for it per item, and the command ends with 143 whatever happened."""
    from adaanchor.errors import check_stop

    done = []

    def command(a):
        for i in range(3):
            check_stop()  # as viz's images and the evaluation's batches do
            if i == 0:
                _sigterm_in_a_finalizer()
            done.append(i)
        return 0

    _as_synth(monkeypatch, command)
    assert main(["synth", "somewhere"]) == EXIT_SIGTERM
    assert done == [0] and "stopped by SIGTERM" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # what is tested
def test_a_sigterm_dropped_in_a_finalizer_is_taken_at_the_end_of_the_block():
    from adaanchor.cli.sigterm import Terminated, sigterm_unwinds

    went_on = False
    with pytest.raises(Terminated):
        with sigterm_unwinds():
            _sigterm_in_a_finalizer()
            went_on = True
    assert went_on and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # what is tested
def test_the_stop_request_ends_with_its_block(monkeypatch):
    """A command stopped by SIGTERM left the request set: a later command of the process under its own handler (an
    embedding program) stopped at its first item, "stopped by SIGTERM", with no signal sent."""
    from adaanchor.cli.sigterm import Terminated, sigterm_unwinds
    from adaanchor.errors import check_stop, stop_requested

    with pytest.raises(Terminated):
        with sigterm_unwinds():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
    assert not stop_requested()
    check_stop()  # no raise
    with pytest.raises(Terminated):
        with sigterm_unwinds():
            _sigterm_in_a_finalizer()
    assert not stop_requested()
