"""A training stopped from outside its own code says so in one line (a peer process of a torchrun training gone, a
data-loading worker killed), every rank of a time-limit stop returns 3, and ``train.status`` records how each
training ended (docs/training.md, "Crash safety" and "Several GPUs, several machines")."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import adaanchor.engine.train as train_mod
from adaanchor.cli import commands, main
from adaanchor.config import build_config
from adaanchor.engine.checkpoint import safe_load
from adaanchor.engine.dist import DistInfo
from adaanchor.engine.stops import (
    KINDS,
    STATUS_NAME,
    StopError,
    dead_worker,
    explain,
    is_peer_gone,
    record_end,
    status_line,
)
from adaanchor.engine.train import train
from adaanchor.errors import AdaAnchorError

# What gloo raised on the surviving rank (torch 2.x): the peer's process ended, or was killed mid-read.
GLOO_CLOSED = ("[/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:561] Connection closed by peer "
               "[127.0.0.1]:33993. This is typically caused by a remote worker crashing.")
GLOO_RESET = ("[/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:545] Read error [127.0.0.1]:52894: "
              "Connection reset by peer. This is typically caused by a remote worker hanging")
NCCL_REMOTE = ("NCCL error in: /pytorch/torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:3356, remote process exited "
               "or there was a network error, NCCL version 2.21.5\nncclRemoteError: A call failed possibly due to a "
               "network error or a remote process exiting prematurely.")
TWO = DistInfo(rank=0, world=2)


def test_peer_gone_matches_the_backends_failures_only_in_a_distributed_run():
    for text in (GLOO_CLOSED, GLOO_RESET, NCCL_REMOTE):
        assert is_peer_gone(RuntimeError(text), TWO)
        assert not is_peer_gone(RuntimeError(text), DistInfo())  # one process: not a peer's doing
    # Not a peer gone: a data worker's broken queue, a gloo timeout (a peer hung), a real error naming no backend.
    assert not is_peer_gone(ConnectionResetError(104, "Connection reset by peer"), TWO)
    assert not is_peer_gone(RuntimeError("[gloo/transport/tcp/unbound_buffer.cc:81] Timed out waiting 1800000ms"), TWO)
    assert not is_peer_gone(RuntimeError("Connection reset by peer"), TWO)
    assert not is_peer_gone(ValueError(GLOO_CLOSED), TWO)
    assert explain(RuntimeError("mat1 and mat2 shapes cannot be multiplied"), None, TWO) is None


def test_peer_gone_is_one_line_with_where_to_continue(tmp_path):
    run = SimpleNamespace(last_ckpt=(tmp_path / "checkpoints" / "last.pt", 12), run_dir=tmp_path)
    msg = str(explain(RuntimeError(GLOO_RESET), run, TWO))
    assert msg.startswith("rank 0 of 2: another process of this training stopped") and "\n" not in msg
    assert f"the last checkpoint is step 12 ({tmp_path / 'checkpoints' / 'last.pt'}): continue with resume=auto" in msg
    # Another rank does not name a step: rank 0, which writes the checkpoints, may have stopped while writing one.
    other = str(explain(RuntimeError(GLOO_CLOSED), run, DistInfo(rank=1, world=2, local_rank=1)))
    assert other.startswith("rank 1 of 2: another process") and "step 12" not in other
    assert other.endswith(f"rank 0 wrote the checkpoints (in {tmp_path / 'checkpoints'}): continue with resume=auto")
    assert str(explain(RuntimeError(NCCL_REMOTE), None, TWO)).endswith("cannot go on without it; continue with "
                                                                     "resume=auto")


class _Worker:
    def __init__(self, pid, exitcode):
        self.pid, self.exitcode, self.joined = pid, exitcode, 0

    def join(self, timeout=None):
        self.joined += 1


def test_a_dead_worker_is_found_by_its_status_and_by_torchs_words():
    # The loader's queue broke (ConnectionResetError) and the worker's status shows the signal that killed it.
    alive, dead = _Worker(100, None), _Worker(101, -signal.SIGKILL)
    assert dead_worker([alive, dead], ConnectionResetError(104, "Connection reset by peer")) == (101, -9, "")
    # A worker that sent an exception (a bad image) is alive: that error is the data's, raised as it is.
    assert dead_worker([alive], AdaAnchorError("x.png: not an image")) is None and alive.joined == 0
    assert dead_worker([_Worker(5, 0)], RuntimeError("boom")) is None  # a worker that ended normally
    # torch's SIGCHLD handler and its queue check, when the worker objects are gone.
    assert dead_worker([], RuntimeError("DataLoader worker (pid 25203) is killed by signal: Killed. ")) == \
        (25203, -9, "is killed by signal: Killed")
    assert dead_worker([], RuntimeError("DataLoader worker (pid(s) 7, 8) exited unexpectedly"))[:2] == (7, None)
    assert dead_worker([], RuntimeError("DataLoader worker (pid 9) exited unexpectedly with exit code 1. Details "
                                        "are lost due to multiprocessing."))[:2] == (9, 1)


def test_a_killed_worker_is_one_line_naming_the_signal_the_checkpoint_and_workers_0(tmp_path):
    run = SimpleNamespace(last_ckpt=(tmp_path / "last.pt", 3), run_dir=tmp_path)
    msg = str(explain(ConnectionResetError(104, "Connection reset by peer"), run, DistInfo(),
                      [_Worker(4242, -signal.SIGKILL)]))
    assert msg == (f"a data-loading worker (pid 4242) died: killed by signal 9 (SIGKILL: out of memory? the kernel's "
                   f"out-of-memory killer sends it); the last checkpoint is step 3 ({tmp_path / 'last.pt'}): continue "
                   "with resume=auto, or with train.workers=0 to read the data in the training process itself")
    bus = str(explain(RuntimeError("DataLoader worker (pid 7) is killed by signal: Bus error. "), None, TWO))
    assert bus.startswith("rank 0 of 2: a data-loading worker (pid 7) died: killed by signal 7 (SIGBUS: out of shared")
    # Under torchrun a rank whose worker died names its step: rank 0 wrote it before any rank went on.
    other = str(explain(RuntimeError("DataLoader worker (pid 7) is killed by signal: Killed. "), run,
                        DistInfo(rank=1, world=2, local_rank=1)))
    assert "the last checkpoint is step 3" in other


def _raise_at(call: int, exc: BaseException, monkeypatch) -> None:
    """The training's ``call``-th loss raises ``exc``, as torch raises it there (its SIGCHLD handler runs wherever
    the training process is; a collective fails in the middle of a step)."""
    real, calls = train_mod.compute_loss, []

    def loss(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise exc
        return real(*args, **kwargs)

    monkeypatch.setattr(train_mod, "compute_loss", loss)


def _status(run_dir: Path) -> str:
    return (run_dir / STATUS_NAME).read_text()


def test_train_status_records_each_end_and_a_killed_worker_stops_in_one_line(tiny_overrides, monkeypatch, capsys):
    over = [*tiny_overrides, "train.max_steps=4", "train.ckpt_every_steps=2", "train.eval_every=0"]
    out = Path(build_config(None, over).out_dir)
    # What torch's SIGCHLD handler raises, at step 3 (the checkpoint of step 2 written): the worker was killed.
    _raise_at(3, RuntimeError("DataLoader worker (pid 4242) is killed by signal: Killed. "), monkeypatch)
    with pytest.raises(StopError, match=r"^a data-loading worker \(pid 4242\) died: killed by signal 9 .*step 2 "
                       r".*resume=auto, or with train.workers=0") as e:
        train(build_config(None, over))
    assert isinstance(e.value.__cause__, RuntimeError)  # from Python, what torch raised is kept
    assert _status(out).startswith("error: a data-loading worker (pid 4242) died") and not (out / "train.lock").exists()
    assert safe_load(out / "checkpoints" / "last.pt")["step"] == 2
    monkeypatch.undo()

    # One process: a gloo-looking failure is not a peer's (and not hidden), raised as it is.
    _raise_at(1, RuntimeError(GLOO_CLOSED), monkeypatch)
    with pytest.raises(RuntimeError, match="Connection closed by peer"):
        train(build_config(None, [*over, "resume=auto"]))
    assert _status(out).startswith("error: RuntimeError: [/pytorch/third_party/gloo")
    monkeypatch.undo()

    _raise_at(1, RuntimeError(), monkeypatch)
    monkeypatch.setattr(train_mod, "record_end", lambda *a: None)  # what a kill -9 leaves: nothing written
    with pytest.raises(RuntimeError):
        train(build_config(None, [*over, "resume=auto"]))
    assert not (out / STATUS_NAME).exists()  # a training that starts removes the earlier training's status
    monkeypatch.undo()

    summary = train(build_config(None, [*over, "resume=auto", "train.max_steps=6", "train.time_limit_s=1e-9"]))
    assert summary["timed_out"] and _status(out) == ("time_limit: stopped at train.time_limit_s=1e-09 after step 3; "
                                                     "continue with resume=auto\n")

    def sigterm(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)

    real = train_mod.compute_loss
    monkeypatch.setattr(train_mod, "compute_loss", sigterm)
    with pytest.raises(AdaAnchorError, match="stopped by SIGTERM after step 4"):
        train(build_config(None, [*over, "resume=auto", "train.max_steps=6"]))
    assert _status(out).startswith("stopped: stopped by SIGTERM after step 4; saved ")
    monkeypatch.undo()

    train(build_config(None, [*over, "resume=auto", "train.max_steps=6"]))
    assert _status(out) == "finished: step 6\n"
    # Refused before anything is written: the status of the training before stays (each refusal wrote its own
    # error line over "finished: step 6").
    for refused, match in ((over, "holds the checkpoints of an earlier training"),
                           ([*over, "resume=auto", "strategy.name=heatmap"], "options that fix the model changed"),
                           ([*over, "resume=auto", "overwrite=true"], "resume=auto and overwrite=true")):
        with pytest.raises(AdaAnchorError, match=match):
            train(build_config(None, refused))
        assert _status(out) == "finished: step 6\n", refused
    assert status_line(None, KeyboardInterrupt()).startswith("stopped: ")  # Ctrl-C where it stops at once
    assert {ln.split(":")[0] for ln in ("finished: step 6", "error: x")} <= set(KINDS)
    capsys.readouterr()


def test_the_status_of_a_torchrun_training_says_which_rank_stopped_first_and_why(tmp_path):
    rank0, rank1 = DistInfo(rank=0, world=2), DistInfo(rank=1, world=2, local_rank=1)
    own = StopError("rank 1 of 2: a data-loading worker (pid 7) died: killed by signal 9 (SIGKILL...)")
    record_end(tmp_path, rank1, False, None, own)  # rank 1's own error, written before it leaves
    record_end(tmp_path, rank0, True, None, explain(RuntimeError(GLOO_CLOSED), None, rank0))  # rank 0: it left
    assert _status(tmp_path) == f"error: {own}\n"
    unread = AdaAnchorError("another rank could not read the data (data.root=/d)")  # build_data, on rank 0
    unread.same_on_every_rank = unread.another_rank = True
    record_end(tmp_path, rank0, True, None, unread)
    assert _status(tmp_path) == f"error: {own}\n"
    # Rank 1 killed (nothing written): rank 0 says that a process stopped. A rank stopped by its peer writes nothing.
    (tmp_path / STATUS_NAME).unlink()
    record_end(tmp_path, rank1, False, None, explain(RuntimeError(GLOO_RESET), None, rank1))
    assert not (tmp_path / STATUS_NAME).exists()
    record_end(tmp_path, rank0, True, None, explain(RuntimeError(GLOO_RESET), None, rank0))
    assert _status(tmp_path).startswith("error: rank 0 of 2: another process of this training stopped")
    # What every rank raises alike, a time limit, the end: rank 0 alone writes.
    (tmp_path / STATUS_NAME).unlink()
    alike = AdaAnchorError("stopped by SIGTERM after step 3; saved last.pt: continue with resume=auto")
    alike.same_on_every_rank = alike.signal_stop = True
    for summary, exc in ((None, alike), ({"steps": 3, "timed_out": True}, None), ({"steps": 3}, None)):
        record_end(tmp_path, rank1, False, summary, exc)
    assert not (tmp_path / STATUS_NAME).exists()
    record_end(tmp_path, rank0, True, None, alike)
    assert _status(tmp_path) == "stopped: stopped by SIGTERM after step 3; saved last.pt: continue with resume=auto\n"


def test_a_time_limit_stop_returns_3_on_every_rank(monkeypatch, capsys):
    summary = {"timed_out": True, "metrics": None, "start_step": 0, "steps": 5, "train_seconds": 1.0, "run_dir": "r"}
    monkeypatch.setattr(train_mod, "train", lambda cfg: summary)
    monkeypatch.setattr("adaanchor.config.build_config", lambda config, overrides: None)
    args = argparse.Namespace(config="demo", overrides=[])
    for rank in ("0", "1"):
        monkeypatch.setenv("RANK", rank)
        assert commands.cmd_train(args) == 3
    summary["timed_out"] = False
    assert commands.cmd_train(args) == 0
    capsys.readouterr()


def test_a_peer_gone_error_is_printed_by_every_surviving_rank(monkeypatch, capsys):
    import adaanchor.cli as cli

    err = explain(RuntimeError(GLOO_CLOSED), None, DistInfo(rank=1, world=2, local_rank=1))

    def fail(a):
        raise err

    monkeypatch.setenv("RANK", "1")
    monkeypatch.setattr(cli.parser, "cmd_train", fail)  # the parser, built by main, dispatches to it
    assert main(["train", "demo"]) == 2
    assert capsys.readouterr().err == f"error: {err}\n"  # not one error that every rank raises alike: rank 1 says it


def _worker_of_rank(rank: int, ranks_parent: int) -> int | None:
    """The pid of a data-loading worker of rank ``rank`` of a torchrun started as ``ranks_parent``'s child."""
    def env(pid):
        try:
            return dict(kv.split("=", 1) for kv in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in kv)
        except OSError:
            return {}

    def children(pid):
        try:
            return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def cmdline(pid):
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return b""

    for r in children(ranks_parent):
        if env(r).get("RANK") == str(rank):  # a forked worker runs the rank's command line
            return next((k for k in children(r) if cmdline(k) == cmdline(r)), None)
    return None


@pytest.mark.slow
def test_under_torchrun_a_killed_worker_and_the_peer_it_leaves_say_one_line_each(tiny_overrides, tmp_path):
    config = tmp_path / "empty.yaml"
    config.write_text("{}\n")
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "adaanchor",
           "train", str(config), *tiny_overrides, "train.batch_size=16", "train.max_steps=400", "train.log_every=1",
           "train.ckpt_every_steps=2", "train.eval_every=0", "train.workers=1", "train.device=cpu",
           "train.time_limit_s=240", f"out_dir={run}"]
    proc = subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline, worker = time.time() + 180, None
        while worker is None:
            assert proc.poll() is None and time.time() < deadline, "no training progress to interrupt"
            if (run / "checkpoints" / "last.pt").exists():
                worker = _worker_of_rank(1, proc.pid)
            time.sleep(0.05)
        os.kill(worker, signal.SIGKILL)  # as the kernel's out-of-memory killer does
        out, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, out  # torchrun's status for any non-zero status of a rank
    lines = [ln for ln in out.splitlines() if ln.startswith("error:")]
    assert len(lines) == 2, out
    assert any(ln.startswith(f"error: rank 1 of 2: a data-loading worker (pid {worker}) died: killed by signal 9 "
                             "(SIGKILL") and "train.workers=0" in ln for ln in lines), out
    assert any(ln.startswith("error: rank 0 of 2: another process of this training stopped") and
               "continue with resume=auto" in ln for ln in lines), out
    assert "[rank0]" not in out and "[rank1]" not in out and "pair.cc" not in out, out  # no rank's traceback
    # The rank that stopped first wrote why; rank 0, stopped by its leaving, kept it.
    assert (run / STATUS_NAME).read_text().startswith(f"error: rank 1 of 2: a data-loading worker (pid {worker}) died")
    assert safe_load(run / "checkpoints" / "last.pt")["step"] >= 2 and not (run / "train.lock").exists()
