"""``adaanchor eval`` of a run that a training is still writing says so: it scored a mid-run checkpoint, naming only
its step, while best.pt could still change. ``training_now`` reads the training lock without taking or creating
it."""

from __future__ import annotations

import os

from adaanchor.engine.rundir import LOCK_NAME, RunLock, training_now


def test_a_held_lock_is_a_training_and_names_its_owner(tmp_path):
    lock = RunLock(tmp_path)
    assert lock.acquire() is None
    try:
        who = training_now(tmp_path)
        assert who is not None and f"pid {os.getpid()}" in who
    finally:
        lock.release()
    assert training_now(tmp_path) is None  # released: no training, and the lock file is gone


def test_no_lock_file_and_a_stale_one_are_no_training(tmp_path):
    assert training_now(tmp_path) is None and not (tmp_path / LOCK_NAME).exists()  # nothing created
    (tmp_path / LOCK_NAME).write_text('{"pid": 999999999, "host": "elsewhere"}\n')  # left by a killed training
    assert training_now(tmp_path) is None


def test_eval_of_a_run_in_training_says_so(tmp_path, capsys):
    from adaanchor.cli.eval_command import _note_training_now

    lock = RunLock(tmp_path)
    lock.acquire()
    try:
        _note_training_now(str(tmp_path))
    finally:
        lock.release()
    err = capsys.readouterr().err
    assert "is still training" in err and "best.pt may still change" in err
    _note_training_now(str(tmp_path))
    assert capsys.readouterr().err == ""
