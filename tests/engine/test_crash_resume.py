"""Crash safety end to end: a training process killed with SIGKILL mid-epoch, resumed with ``resume=auto``,
ends exactly where an uninterrupted run ends; the run directory and its logs stay consistent."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from adaanchor.config import build_config
from adaanchor.engine.checkpoint import safe_load
from adaanchor.engine.train import CsvLog, train
from adaanchor.errors import AdaAnchorError

STEPS, CKPT_EVERY, BATCH = 24, 2, 16  # 48 images / 16 = 3 steps per epoch: most checkpoints fall mid-epoch


def _cli(config: Path, overrides: list[str]) -> list[str]:
    return [sys.executable, "-m", "adaanchor", "train", str(config), *overrides]


def _log_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _last_logged_step(path: Path) -> int:
    """The step of the last complete row of a CSV that another process is appending to (0 if none)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return 0
    lines = [ln for ln in text[: text.rfind("\n") + 1].splitlines() if ln.strip()]
    if len(lines) < 2:
        return 0
    try:
        return int(lines[-1].split(",", 1)[0])
    except ValueError:
        return 0


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(tiny_overrides, tmp_path):
    config = tmp_path / "empty.yaml"
    config.write_text("{}\n")
    common = [*tiny_overrides, f"train.batch_size={BATCH}", f"train.max_steps={STEPS}", "train.log_every=1",
              f"train.ckpt_every_steps={CKPT_EVERY}", "train.eval_every=0", "train.deterministic=true"]
    run = tmp_path / "crashed"
    overrides = [*common, f"out_dir={run}"]
    log = run / "train_log.csv"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    proc = subprocess.Popen(_cli(config, overrides), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    per_epoch = 48 // BATCH
    try:
        deadline = time.time() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"training ended before it could be killed:\n{proc.stdout.read().decode()}")
            last = _last_logged_step(log)
            # An odd step logged: the checkpoint of the step before exists and training went past it. Kill
            # inside an epoch, where that checkpoint is mid-epoch too (the data order must continue there).
            if last >= 3 and last % 2 == 1 and (last - 1) % per_epoch and last % per_epoch:
                break
            assert time.time() < deadline, "no training progress within 120 s"
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed_at = _last_logged_step(log)
    ckpt = safe_load(run / "checkpoints" / "last.pt")
    ckpt_step = int(ckpt["step"])
    assert 2 <= ckpt_step < STEPS and (ckpt_step % CKPT_EVERY == 0 or ckpt_step % per_epoch == 0)
    # At most the steps since the last checkpoint are lost (a row is logged just before its checkpoint).
    assert 0 <= killed_at - ckpt_step <= CKPT_EVERY, (killed_at, ckpt_step)

    res = subprocess.run(_cli(config, [*overrides, "resume=auto"]), env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"at step {ckpt_step} (" in res.stdout, res.stdout  # resumed exactly at the last checkpoint
    assert f"epoch {ckpt['epoch']}, batch {ckpt['batch']})" in res.stdout

    ref_dir = tmp_path / "reference"
    # The subprocesses ran at OMP_NUM_THREADS=1; another thread count sums in other chunks (other rounding).
    assert torch.get_num_threads() == 1, torch.get_num_threads()
    train(build_config(None, [*common, f"out_dir={ref_dir}"]))

    got, ref = _log_rows(log), _log_rows(ref_dir / "train_log.csv")
    # The resumed run cut the log back to its checkpoint: one row per step, no duplicates, no gap.
    assert [int(r["step"]) for r in got] == list(range(1, STEPS + 1))
    assert [int(r["step"]) for r in ref] == list(range(1, STEPS + 1))
    for key in ("loss", "lr"):
        a = torch.tensor([float(r[key]) for r in got], dtype=torch.float64)
        b = torch.tensor([float(r[key]) for r in ref], dtype=torch.float64)
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-9), (key, (a - b).abs().max())
    wa = safe_load(run / "checkpoints" / "last.pt")
    wb = safe_load(ref_dir / "checkpoints" / "last.pt")
    assert wa["step"] == wb["step"] == STEPS
    for k, v in wb["model"].items():
        assert torch.allclose(wa["model"][k].double(), v.double(), rtol=1e-6, atol=1e-7), k


def test_csv_log_truncation_keeps_a_clean_curve(tmp_path):
    log = CsvLog(tmp_path / "log.csv", True)
    for s in range(1, 6):
        log.write({"step": s, "loss": 1.0 / s})
    with (tmp_path / "log.csv").open("a") as f:
        f.write("6,0.16")  # a row cut by a crash (no newline)
    log = CsvLog(tmp_path / "log.csv", True)
    log.truncate_after(3)
    log.write({"step": 4, "loss": 0.5})
    assert [r["step"] for r in _log_rows(tmp_path / "log.csv")] == ["1", "2", "3", "4"]
    log.truncate_after(0)  # a fresh run starts a fresh log
    assert not (tmp_path / "log.csv").exists()


def test_csv_log_widens_its_header_for_a_key_the_first_row_lacked(tmp_path):
    """A step without positives has no positives' distance: when it came first, that column was dropped for the
    whole run (and for a resume of it)."""
    log = CsvLog(tmp_path / "log.csv", True)
    log.write({"step": 1, "loss": 1.0})
    log.write({"step": 2, "loss": 0.5, "pos_dist_cells": 1.5})
    CsvLog(tmp_path / "log.csv", True).write({"step": 3, "loss": 0.25, "pos_dist_cells": 1.25})  # a resumed run
    assert _log_rows(tmp_path / "log.csv") == [{"step": "1", "loss": "1.0", "pos_dist_cells": ""},
                                               {"step": "2", "loss": "0.5", "pos_dist_cells": "1.5"},
                                               {"step": "3", "loss": "0.25", "pos_dist_cells": "1.25"}]


def test_resolved_config_is_saved_and_resume_auto_without_checkpoint_starts_fresh(tiny_overrides, tmp_path, capsys):
    cfg = build_config(None, [*tiny_overrides, "train.max_steps=1", "train.eval_every=0", "resume=auto"])
    summary = train(cfg)
    assert summary["steps"] == 1 and summary["resumed_from"] is None
    assert "starting from scratch" in capsys.readouterr().out
    saved = build_config(Path(summary["run_dir"]) / "config.yaml")
    assert OmegaConf.to_container(saved) == OmegaConf.to_container(cfg, resolve=True)  # every key, resolved


@pytest.mark.parametrize("kind", ["file_in_the_way", "read_only"])
def test_unwritable_out_dir_is_a_one_line_error(tiny_overrides, tmp_path, kind):
    if kind == "file_in_the_way":
        (tmp_path / "blocker").write_text("not a folder")
        out = tmp_path / "blocker" / "run"
    else:
        if os.geteuid() == 0:
            pytest.skip("root can write into a read-only folder")
        (tmp_path / "ro").mkdir()
        os.chmod(tmp_path / "ro", 0o500)
        out = tmp_path / "ro" / "run"
    cfg = build_config(None, [*tiny_overrides, f"out_dir={out}", "train.max_steps=1"])
    with pytest.raises(AdaAnchorError) as e:
        train(cfg)
    msg = str(e.value)
    assert "\n" not in msg and str(out) in msg and "cannot write" in msg


@pytest.fixture
def python_ctrl_c():
    """Python's own SIGINT handler, as in a terminal, for the test: a shell starts background jobs (this suite, run
    with `&`) with SIGINT ignored, and an ignored SIGINT stays ignored (:func:`test_an_ignored_ctrl_c_stays_ignored`)."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_saves_a_checkpoint_and_a_second_one_stops_at_once(tiny_overrides, monkeypatch, capsys, presses,
                                                                   python_ctrl_c):
    """A first Ctrl-C finishes the step and saves, like SIGTERM; a second one is Python's KeyboardInterrupt."""
    import adaanchor.engine.train as train_mod

    real, calls = train_mod.compute_loss, {"n": 0}

    def loss_then_ctrl_c(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            for _ in range(presses):  # raise_signal runs the handler before it returns: no timing involved
                signal.raise_signal(signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(train_mod, "compute_loss", loss_then_ctrl_c)
    before = signal.getsignal(signal.SIGINT)
    cfg = build_config(None, [*tiny_overrides, "train.max_steps=20", "train.eval_every=1", "train.ckpt_every_steps=2"])
    expected = AdaAnchorError if presses == 1 else KeyboardInterrupt
    with pytest.raises(expected) as e:
        train(cfg)
    assert signal.getsignal(signal.SIGINT) == before  # Python's handler again after training
    assert "Ctrl-C: finishing this step and saving a checkpoint (Ctrl-C again stops at once)" in capsys.readouterr().err
    state = safe_load(f"{cfg.out_dir}/checkpoints/last.pt")
    if presses == 1:
        assert re.fullmatch(r"stopped by Ctrl-C \(SIGINT\) after step 3; saved .*last.pt: continue with resume=auto",
                            str(e.value))
        assert state["step"] == 3  # the step in progress was finished and saved
    else:
        assert state["step"] == 2  # stopped at once: the checkpoint before it is what there is
    assert not (Path(cfg.out_dir) / "train.lock").exists()


def test_an_ignored_ctrl_c_stays_ignored(tiny_overrides, monkeypatch):
    """A run started in the background (SIGINT ignored, as shells and nohup set it) is not stopped by Ctrl-C."""
    import adaanchor.engine.train as train_mod

    real = train_mod.compute_loss

    def loss_and_ctrl_c(*args, **kwargs):
        signal.raise_signal(signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(train_mod, "compute_loss", loss_and_ctrl_c)
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        assert train(build_config(None, [*tiny_overrides, "train.max_steps=3", "train.eval_every=0"]))["steps"] == 3
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, old)


def test_sigterm_saves_a_checkpoint_and_stops_cleanly(tiny_overrides, monkeypatch):
    import adaanchor.engine.train as train_mod

    real, calls = train_mod.compute_loss, {"n": 0}

    def loss_then_sigterm(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # a scheduler preempts the job during step 3
            os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(train_mod, "compute_loss", loss_then_sigterm)
    before = signal.getsignal(signal.SIGTERM)
    cfg = build_config(None, [*tiny_overrides, "train.max_steps=20", "train.eval_every=1"])
    with pytest.raises(AdaAnchorError, match="stopped by SIGTERM after step 3.*resume=auto") as e:
        train(cfg)
    assert "\n" not in str(e.value)
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is only there while training
    state = safe_load(f"{cfg.out_dir}/checkpoints/last.pt")
    assert (state["step"], state["epoch"], state["batch"]) == (3, 0, 3)  # the step in progress was finished
    assert not (Path(cfg.out_dir) / "eval_log.csv").exists()  # no evaluation on the way out


def test_an_evaluation_skipped_by_a_stop_at_the_epoch_end_runs_on_resume(tiny_overrides, monkeypatch):
    """SIGTERM during an epoch's last step: the checkpoint is saved and the evaluation skipped; resuming went on
    to the next epoch and that evaluation never ran (best.pt could never be that epoch's model)."""
    import csv

    import adaanchor.engine.train as train_mod

    real, calls = train_mod.compute_loss, {"n": 0}

    def loss_then_sigterm(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:  # 48 images, batch 8: the last step of the first epoch
            os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(train_mod, "compute_loss", loss_then_sigterm)
    over = [*tiny_overrides, "train.eval_every=1"]
    with pytest.raises(AdaAnchorError, match="stopped by SIGTERM after step 6"):
        train(build_config(None, [*over, "train.max_steps=20"]))
    out = Path(build_config(None, over).out_dir)
    state = safe_load(out / "checkpoints" / "last.pt")
    assert (state["step"], state["epoch"], state["batch"]) == (6, 1, 0) and not (out / "eval_log.csv").exists()
    monkeypatch.setattr(train_mod, "compute_loss", real)
    train(build_config(None, [*over, "train.max_steps=7", "resume=auto"]))
    with (out / "eval_log.csv").open() as f:
        assert [r["step"] for r in csv.DictReader(f)] == ["6", "7"]


def test_ctrl_c_during_the_final_evaluation_stops_at_once_and_resume_runs_it(tiny_overrides, monkeypatch, capsys,
                                                                              python_ctrl_c):
    """A first Ctrl-C during an evaluation used to print 'finishing this step', wait for the evaluation and end
    the run with exit 0; the evaluation now stops at once (the checkpoint before it is written), and resuming
    the finished run runs the evaluation it lacks."""
    import csv

    import adaanchor.engine.train_eval as train_mod  # the evaluation inside a training run

    real = train_mod.evaluate_model

    def eval_and_ctrl_c(*args, **kwargs):
        signal.raise_signal(signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(train_mod, "evaluate_model", eval_and_ctrl_c)
    over = [*tiny_overrides, "train.eval_every=1", "train.max_steps=4"]
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        train(build_config(None, over))
    assert signal.getsignal(signal.SIGINT) == before
    out = Path(build_config(None, over).out_dir)
    assert safe_load(out / "checkpoints" / "last.pt")["step"] == 4
    assert not (out / "eval_log.csv").exists()
    monkeypatch.setattr(train_mod, "evaluate_model", real)
    capsys.readouterr()
    summary = train(build_config(None, [*over, "resume=auto"]))
    assert "running the final evaluation, which a stop skipped" in capsys.readouterr().out
    assert summary["steps"] == 4 and summary["metrics"] is not None
    with (out / "eval_log.csv").open() as f:
        assert [r["step"] for r in csv.DictReader(f)] == ["4"]
    assert (out / "checkpoints" / "best.pt").is_file()
    capsys.readouterr()
    train(build_config(None, [*over, "resume=auto"]))  # evaluated now: nothing more to do
    assert "running the final evaluation" not in capsys.readouterr().out


@pytest.mark.slow
def test_sigterm_to_the_process_group_with_data_workers_stops_cleanly(tiny_overrides, tmp_path):
    """A scheduler (Slurm) and torchrun send SIGTERM to the whole process group: the data workers died of it and
    the step failed ('DataLoader worker ... is killed by signal: Terminated', exit 1, the step lost)."""
    config = tmp_path / "empty.yaml"
    config.write_text("{}\n")
    run = tmp_path / "run"
    overrides = [*tiny_overrides, "train.batch_size=8", "train.max_steps=5000", "train.log_every=1",
                 "train.eval_every=0", "train.workers=2", f"out_dir={run}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(_cli(config, overrides), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)  # its own process group, as a batch job has
    try:
        deadline = time.time() + 120
        while _last_logged_step(run / "train_log.csv") < 3:
            if proc.poll() is not None:
                pytest.fail(f"training ended before the signal:\n{proc.stdout.read().decode()}")
            assert time.time() < deadline, "no training progress within 120 s"
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGTERM)
        out = proc.communicate(timeout=60)[0].decode()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 2, out
    assert re.search(r"error: stopped by SIGTERM after step (\d+); saved .*last.pt", out), out
    step = int(re.search(r"after step (\d+)", out).group(1))
    assert safe_load(run / "checkpoints" / "last.pt")["step"] == step and "Traceback" not in out


def test_a_resume_that_stops_before_training_leaves_the_run_files_as_they_were(tiny_overrides, tmp_path):
    """A resume that failed (a global batch the processes do not divide, data not found) rewrote config.yaml
    with its options and added a 'started' entry to config_history.yaml for a training that never ran."""
    over = [*tiny_overrides, "train.max_steps=2", "train.eval_every=0"]
    cfg = build_config(None, over)
    train(cfg)
    out = Path(cfg.out_dir)
    files = {n: (out / n).read_bytes() for n in ("config.yaml", "config_history.yaml")}
    with pytest.raises(AdaAnchorError):
        train(build_config(None, [*over, "train.max_steps=4", "train.lr=0.5", "resume=auto",
                                  f"data.root={tmp_path / 'gone'}", "data.format=coco"]))
    assert {n: (out / n).read_bytes() for n in files} == files


def test_the_time_limit_says_so_exits_3_and_resume_continues(tiny_overrides, tmp_path, capsys):
    """Reaching train.time_limit_s looked like a finished training (exit 0, 'trained 15 steps'), and it evaluated
    past the limit; a requeue script could not tell."""
    from adaanchor.cli import main

    config = tmp_path / "empty.yaml"
    config.write_text("{}\n")
    over = [*tiny_overrides, "train.max_steps=8", "train.eval_every=1"]
    capsys.readouterr()
    assert main(["train", str(config), *over, "train.time_limit_s=1e-9"]) == 3
    out = capsys.readouterr().out
    assert re.search(r"stopped at train.time_limit_s=1e-09 after step 1 of 8; saved .*last.pt: continue with "
                     r"resume=auto", out), out
    run = Path(build_config(None, over).out_dir)
    assert safe_load(run / "checkpoints" / "last.pt")["step"] == 1 and not (run / "eval_log.csv").exists()
    assert main(["train", str(config), *over, "resume=auto"]) == 0
    assert "trained steps 2-8 (resumed at step 1)" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["run", "mouse #2"])
def test_resuming_a_moved_run_directory_trains_in_it(tiny_overrides, tmp_path, capsys, name):
    """`adaanchor train MOVED/config.yaml resume=auto` started from scratch at the old place (its out_dir),
    re-creating that folder, and left the moved checkpoints unused. A folder named `mouse #2` trained afresh in
    `mouse` (its path was read as YAML, ` #2` a comment)."""
    import shutil

    from adaanchor.cli import main

    config = tmp_path / "empty.yaml"
    config.write_text("{}\n")
    first = tmp_path / "first"
    assert main(["train", str(config), *tiny_overrides, "train.max_steps=2", "train.eval_every=0",
                 f"out_dir={first}"]) == 0
    moved = tmp_path / "moved" / name
    moved.parent.mkdir()
    shutil.move(str(first), str(moved))
    capsys.readouterr()
    assert main(["train", str(moved / "config.yaml"), "resume=auto", "train.max_steps=3"]) == 0
    cap = capsys.readouterr()
    assert f"is the config of the run directory {moved} (made as {first}): training there" in cap.err
    assert "trained steps 3-3 (resumed at step 2)" in cap.out
    assert not first.exists() and safe_load(moved / "checkpoints" / "last.pt")["step"] == 3
    assert sorted(q.name for q in moved.parent.iterdir()) == [name]


def test_a_log_row_that_cannot_be_written_is_cut_back_and_one_line(tmp_path, monkeypatch):
    """A full disk while a row was appended: a traceback (no error line, no train.status) and half a row left."""
    import errno
    from pathlib import Path

    from adaanchor.errors import AdaAnchorError

    log = CsvLog(tmp_path / "log.csv", True)
    log.write({"step": 1, "loss": 0.5})
    before = (tmp_path / "log.csv").read_text()
    real_open = Path.open

    class HalfThenFull:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, text):
            self.f.write(text[: len(text) // 2])
            self.f.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

    def fake_open(self, mode="r", *a, **k):
        f = real_open(self, mode, *a, **k)
        return HalfThenFull(f) if "a" in mode else f

    monkeypatch.setattr(Path, "open", fake_open)
    with pytest.raises(AdaAnchorError, match=r"log.csv: cannot write the log \(no space left on the device\); its "
                                             r"rows up to the last complete one are kept"):
        log.write({"step": 2, "loss": 0.25})
    monkeypatch.undo()
    assert (tmp_path / "log.csv").read_text() == before
