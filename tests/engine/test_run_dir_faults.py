"""A run directory tells the truth, and resource faults lose nothing: the lock against a second training, a
resume with changed options (refused or applied, with the history kept), a full disk while checkpointing,
damaged checkpoint fields, missing image files. Every error is one line naming the file and the field."""

from __future__ import annotations

import csv
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf
from PIL import Image

import adaanchor.engine.checkpoint as ckpt_mod
from adaanchor.config import build_config
from adaanchor.engine.checkpoint import atomic_save, safe_load
from adaanchor.engine.rundir import HISTORY_NAME, LOCK_NAME
from adaanchor.engine.train import train
from adaanchor.errors import AdaAnchorError

FAST = ["train.eval_every=0", "train.log_every=1"]


def _one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg, msg
    return msg


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


# --- the lock -----------------------------------------------------------------------------------------------

_HOLDER = textwrap.dedent("""
    import fcntl, json, os, socket, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": "then"}).encode())
    print("locked", flush=True)
    time.sleep(120)
""")


def test_a_second_training_on_a_locked_run_dir_fails_at_once(tiny_overrides, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(run / LOCK_NAME)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        t = time.time()
        with pytest.raises(AdaAnchorError) as e:
            train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=1"]))
        msg = _one_line(e)
        assert time.time() - t < 5  # at once, not after building the model and reading the data
        assert "another training is writing this run directory" in msg and f"pid {holder.pid}" in msg
        assert socket.gethostname() in msg and str(run / LOCK_NAME) in msg
        assert not (run / "config.yaml").exists()  # nothing of the live run was touched
        assert (run / LOCK_NAME).exists()  # the owner's lock stays
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_lock_is_taken_over_with_a_message_and_released_on_every_exit(tiny_overrides, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (run / LOCK_NAME).write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(), "started": "x"}))
    train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=1"]))
    out = capsys.readouterr().out
    assert f"took over a stale lock (pid {int(dead.stdout)} on host {socket.gethostname()}" in out
    assert "no longer running; it left no checkpoint)" in out  # it said "its last checkpoint is intact"
    assert not (run / LOCK_NAME).exists()  # released after a normal end
    with pytest.raises(AdaAnchorError):  # an error after the lock was taken: refused resume
        train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=2", "resume=auto", "model.tiny_width=16"]))
    assert not (run / LOCK_NAME).exists()


@pytest.mark.slow
def test_a_live_training_process_keeps_the_run_dir_and_a_killed_one_leaves_a_stale_lock(tiny_overrides, tmp_path, capsys):
    """A real training process holds the lock; after SIGKILL the next training takes it over and resumes."""
    config = tmp_path / "empty.yaml"
    config.write_text("{}\n")
    run = tmp_path / "run"
    # A data worker too: it must not keep the lock alive after its training process is killed.
    args = [*tiny_overrides, *FAST, "train.max_steps=100000", "train.ckpt_every_steps=1", "train.workers=1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "adaanchor", "train", str(config), *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not (run / "checkpoints" / "last.pt").exists():
            assert proc.poll() is None and time.time() < deadline, "the first training did not start"
            time.sleep(0.05)
        with pytest.raises(AdaAnchorError, match=f"another training is writing .*pid {proc.pid} "):
            train(build_config(None, [*args, "train.max_steps=1", "resume=auto"]))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (run / LOCK_NAME).exists()  # SIGKILL leaves the file, but nobody holds it any more
    import fcntl

    fd = os.open(run / LOCK_NAME, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # at once: the worker (maybe still alive) holds no copy
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    step = int(safe_load(run / "checkpoints" / "last.pt")["step"])
    capsys.readouterr()
    summary = train(build_config(None, [*args, f"train.max_steps={step + 1}", "resume=auto"]))
    assert f"took over a stale lock (pid {proc.pid} " in capsys.readouterr().out
    assert summary["steps"] == step + 1 and not (run / LOCK_NAME).exists()


# --- resuming with changed options ----------------------------------------------------------------------------

def test_resume_with_other_validation_data_chooses_best_anew(tiny_overrides, tmp_path, capsys):
    """best.pt compared a score on the old validation data (or metric) with scores on the new one, silently."""
    run = tmp_path / "run"
    over = [*tiny_overrides, "train.log_every=1", "train.eval_every=1"]
    train(build_config(None, [*over, "train.max_steps=6"]))  # one epoch of 6 batches, evaluated
    best = safe_load(run / "checkpoints" / "best.pt")["best"]
    capsys.readouterr()
    train(build_config(None, [*over, "train.max_steps=12", "eval.pck=[0.01]", "resume=auto"]))
    out = capsys.readouterr().out
    assert (f"note: eval.pck changed what the evaluation scores: best.pt (score {best:.4g} on the earlier setting) "
            "is chosen anew from the next evaluation") in out, out
    last = _rows(run / "eval_log.csv")[-1]
    state = safe_load(run / "checkpoints" / "best.pt")
    assert state["step"] == 12 and state["best"] == pytest.approx(float(last["pck"]))
    capsys.readouterr()
    train(build_config(None, [*over, "train.max_steps=18", "eval.pck=[0.01]", "resume=auto"]))
    assert "chosen anew" not in capsys.readouterr().out  # the same setting as the checkpoint's: compared as usual


def test_options_that_change_the_evaluation_images_are_scored_changes():
    """Occluders or shifted crops on the validation images, another crop or EXIF reading, another detection
    threshold: best.pt kept a score on the clean images and ranked the occluded ones against it, with no note."""
    from adaanchor.engine.resume_config import scored_otherwise

    scored = ["data.occlusion.val", "data.occlusion.coverage", "data.truncation.val", "data.truncation.shift",
              "data.truncation.seed", "data.crop", "data.exif", "data.det_score_thr"]
    changes = dict.fromkeys([*scored, "data.occlusion.train", "data.truncation.train", "train.lr", "data.aug.flip"], 1)
    assert scored_otherwise(changes) == scored


def test_a_kill_between_best_pt_and_last_pt_keeps_the_new_best_as_the_bar(tiny_overrides, tmp_path):
    """A new best writes best.pt, then last.pt with the score to beat; killed between the two, last.pt held the old
    score and a worse model later replaced best.pt (the eval log said otherwise)."""
    from adaanchor.engine.state import _best_written

    run = tmp_path / "run"
    train(build_config(None, [*tiny_overrides, "train.eval_every=1", "train.max_steps=6"]))
    ckpts = run / "checkpoints"
    best = float(safe_load(ckpts / "best.pt")["best"])
    last = safe_load(ckpts / "last.pt")
    last["best"] = -1.0  # the state a kill between the two writes leaves
    torch.save(last, ckpts / "last.pt")
    assert _best_written(ckpts / "last.pt", last) == best > -1.0
    older = safe_load(ckpts / "best.pt")
    older["step"] = int(last["step"]) - 1  # a best.pt written before last.pt: last.pt's own score decides
    torch.save(older, ckpts / "best.pt")
    assert _best_written(ckpts / "last.pt", last) == float("-inf")


def test_an_epoch_schedule_does_not_resume_across_another_epoch_length(tiny_overrides, tmp_path):
    """With twice the batch size, the checkpoint's step 18 (epoch 3 of 6-step epochs) read as past the end of a
    5-epoch run of 3-step epochs: 'nothing to do', exit 0; with 8 epochs the run ended at epoch 5 with the learning
    rate dropped early. A step-counted schedule continues."""
    over = [*tiny_overrides, "train.max_steps=null"]
    train(build_config(None, [*over, "train.epochs=2"]))
    with pytest.raises(AdaAnchorError, match=r"last\.pt: an epoch was 6 steps when this checkpoint was written and is 3 "
                                             r"now .* give train\.max_steps"):
        train(build_config(None, [*over, "train.epochs=5", "train.batch_size=16", "resume=auto"]))
    summary = train(build_config(None, [*tiny_overrides, "train.max_steps=14", "train.batch_size=16", "resume=auto"]))
    assert summary["steps"] == 14


def test_the_flip_test_and_the_multi_person_decoding_are_scored_changes():
    """A resume with the flip test turned on, or another detection threshold, kept best.pt's earlier score as the
    bar without a note; the multi-person losses' weights change the training alone."""
    from adaanchor.engine.resume_config import scored_otherwise

    scored = ["eval.flip_test", "eval.flip_offsets", "eval.flip_conf", "bottomup.gamma", "bottomup.max_candidates", "bottomup.tag_threshold",
              "bottomup.refine", "centre.gamma", "centre.read_at", "centre.nms_threshold", "centre.nms_scale"]
    changes = dict.fromkeys([*scored, "bottomup.lambda_tag", "bottomup.push", "centre.lambda_pose",
                             "centre.pose_radius", "eval.batch_size"], 1)
    assert scored_otherwise(changes) == scored


def test_resume_to_fewer_steps_than_the_checkpoint_says_nothing_is_trained(tiny_overrides, tmp_path, capsys):
    """'train.max_steps changed 4 -> 2 (applied)' and then 'nothing to do' read as a contradiction; and config.yaml
    then said max_steps 2 of a model trained for 4 steps."""
    run = tmp_path / "run"
    train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=4"]))
    history = (run / "config_history.yaml").read_text()
    capsys.readouterr()
    train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=2", "resume=auto"]))
    out = capsys.readouterr().out
    assert ("resume: train.max_steps changed 4 -> 2: the checkpoint is at step 4 already, so nothing is trained "
            "(config.yaml keeps 4)") in out and "nothing to do" in out, out
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["max_steps"] == 4
    assert (run / "config_history.yaml").read_text() == history


def test_describing_fewer_epochs_than_the_checkpoint_says_nothing_is_trained():
    """'train.epochs changed 3 -> 2 (applied)' was followed by 'nothing to do'; the epoch wording is the step's."""
    from adaanchor.engine.resume_config import describe_changes

    assert describe_changes({"train.epochs": (3, 2)}, at_step=24, at_epoch=3) == [
        "resume: train.epochs changed 3 -> 2: the checkpoint is at epoch 3 already, so nothing is trained (config.yaml "
        "keeps 3)"]
    assert describe_changes({"train.epochs": (3, 5)}, at_step=24, at_epoch=3) == ["resume: train.epochs changed 3 -> 5 (applied)"]
    assert describe_changes({"train.epochs": (3, 2)}, at_step=24) == ["resume: train.epochs changed 3 -> 2 (applied)"]


def test_resume_applies_a_changed_lr_and_schedule_and_keeps_the_history(tiny_overrides, tmp_path, capsys):
    run = tmp_path / "run"
    train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=2", "train.lr=0.001"]))
    capsys.readouterr()
    train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=5", "train.lr=0.5", "train.lr_steps=[4]",
                              "train.lr_factor=0.1", "resume=auto"]))
    out = capsys.readouterr().out
    assert "resume: train.lr changed 0.001 -> 0.5 (applied)" in out
    assert "resume: train.max_steps changed 2 -> 5 (applied)" in out and "train.lr_steps changed [] -> [4]" in out
    lrs = [float(r["lr"]) for r in _rows(run / "train_log.csv")]
    # The rate each step trained with: steps 1-2 the old lr; 3-4 the new one; x0.1 after step 4 (lr_steps=[4]). The
    # column read one step ahead (step 4's row said 0.05).
    assert lrs[:2] == [0.001, 0.001] and lrs[2:4] == pytest.approx([0.5, 0.5]) and lrs[4:] == pytest.approx([0.05])
    state = safe_load(run / "checkpoints" / "last.pt")
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.05)
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["lr"] == 0.5
    hist = yaml.safe_load((run / HISTORY_NAME).read_text())
    assert [h["resumed_from"] is None for h in hist] == [True, False] and hist[1]["start_step"] == 2
    assert hist[1]["changed"]["train.lr"] == {"old": 0.001, "new": 0.5}
    assert hist[0]["changed"] == {}
    from importlib import metadata

    import adaanchor
    from adaanchor.versions import source_commit
    for h in hist:  # the code and libraries that wrote each start
        assert h["versions"]["adaanchor"] == adaanchor.__version__ and h["versions"]["torch"] == metadata.version("torch")
        assert set(h["versions"]) - {"commit"} == {"adaanchor", "torch", "timm", "omegaconf", "python"}
        assert h["versions"].get("commit") == source_commit()  # from a git checkout (CI's clean clone): its commit


def test_a_new_run_does_not_replace_an_earlier_runs_checkpoints_unless_asked(tiny_overrides, tmp_path, capsys):
    """The same command run twice would lose the first training at the second's first checkpoint."""
    from adaanchor.cli import main

    run = tmp_path / "run"
    train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=2"]))
    last = run / "checkpoints" / "last.pt"
    before = (last.read_bytes(), (run / "config.yaml").read_text(), (run / HISTORY_NAME).read_text())
    with pytest.raises(AdaAnchorError) as e:
        train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=3"]))
    assert _one_line(e) == (f"{run}: holds the checkpoints of an earlier training ({last}): continue it with "
                            "resume=auto, start again over it with overwrite=true, or give another out_dir")
    assert (last.read_bytes(), (run / "config.yaml").read_text(), (run / HISTORY_NAME).read_text()) == before
    (tmp_path / "empty.yaml").write_text("{}\n")
    capsys.readouterr()
    assert main(["train", str(tmp_path / "empty.yaml"), *tiny_overrides, *FAST, "train.max_steps=3"]) == 2
    assert capsys.readouterr().err.startswith(f"error: {run}: holds the checkpoints of an earlier training")
    assert train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=3", "resume=auto"]))["steps"] == 3
    best = run / "checkpoints" / "best.pt"
    best.write_bytes(last.read_bytes())  # an earlier training's best.pt, which eval RUN picks first
    # A new run refused while it is built (here its data) leaves them: they were removed before the refusal.
    kept = (last.read_bytes(), best.read_bytes())
    with pytest.raises(AdaAnchorError):
        train(build_config(None, [*tiny_overrides, *FAST, "overwrite=true", f"data.root={tmp_path / 'nowhere'}",
                                  "data.format=coco", "data.train=train.json", "data.val=val.json"]))
    assert (last.read_bytes(), best.read_bytes()) == kept
    capsys.readouterr()
    assert train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=1", "overwrite=true"]))["steps"] == 1
    assert "overwrite=true: removed the earlier training's checkpoints (best.pt, last.pt)" in capsys.readouterr().out
    assert safe_load(last)["step"] == 1 and not best.exists()  # started again, nothing of the earlier run left
    assert [r["step"] for r in _rows(run / "train_log.csv")] == ["1"]  # with empty logs


def test_a_config_read_back_from_yaml_is_not_a_change(tiny_overrides, tmp_path, capsys):
    """The synthetic data's defaults are tuples, kept as tuples by OmegaConf from 2.4, and YAML gives them back as
    lists: a run started again in its run dir, or resumed from a checkpoint whose config holds lists (an older
    OmegaConf), records and reports no change."""
    run = tmp_path / "run"
    cfg = build_config(None, [*tiny_overrides, *FAST, "train.max_steps=1"])
    assert isinstance(OmegaConf.to_container(cfg)["data"]["synth"]["occluders"], (list, tuple))
    train(cfg)
    train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=1", "overwrite=true"]))  # a new run over it
    last = run / "checkpoints" / "last.pt"
    state = safe_load(last)
    state["config"] = yaml.safe_load(yaml.safe_dump(state["config"]))  # every sequence a list
    torch.save(state, last)
    capsys.readouterr()
    train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=2", "resume=auto"]))
    assert [ln for ln in capsys.readouterr().out.splitlines() if "changed" in ln] == [
        "resume: train.max_steps changed 1 -> 2 (applied)"]
    hist = yaml.safe_load((run / HISTORY_NAME).read_text())
    assert [h["changed"] for h in hist] == [{}, {}, {"train.max_steps": {"old": 1, "new": 2}}]


def test_resume_refuses_options_that_fix_the_model_with_a_diff(tiny_overrides, tmp_path):
    run = tmp_path / "run"
    train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=1"]))
    before = (run / "config.yaml").read_text()
    changed = ["model.tiny_width=16", "strategy.name=heatmap", "data.input_size=[64,96]", "data.spec=mpii"]
    with pytest.raises(AdaAnchorError) as e:
        train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=2", "resume=auto", *changed]))
    msg = _one_line(e)
    assert msg.startswith(f"{run / 'checkpoints' / 'last.pt'}: cannot resume: options that fix the model changed:")
    for part in ("model.tiny_width: 8 -> 16", "strategy.name: 'adaanchor' -> 'heatmap'",
                 "data.input_size: [72, 96] -> [64, 96]", "keypoint spec: coco (17 keypoints", "-> mpii (16 keypoints"):
        assert part in msg, (part, msg)
    assert (run / "config.yaml").read_text() == before  # the refused run wrote nothing


def test_the_backbone_layout_may_change_on_resume_and_is_reported(tiny_overrides, tmp_path, capsys):
    """model.channels_last changes the memory layout, not the weights: a resume applies a new value (a run saved
    with the former default, true, continues under the new one, null)."""
    run = tmp_path / "run"
    train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=1", "model.channels_last=true"]))
    capsys.readouterr()
    summary = train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=2", "resume=auto"]))
    assert summary["steps"] == 2
    assert "resume: model.channels_last changed True -> None (applied)" in capsys.readouterr().out
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["channels_last"] is None


def test_the_cli_prints_a_refused_resume_as_one_line(tiny_overrides, tmp_path, capsys):
    from adaanchor.cli import main

    train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=1"]))
    (tmp_path / "empty.yaml").write_text("{}\n")
    capsys.readouterr()
    rc = main(["train", str(tmp_path / "empty.yaml"), *tiny_overrides, *FAST, "resume=auto", "model.backbone=resnet18"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "model.backbone: 'tiny' -> 'resnet18'" in err, err


def test_the_same_keypoint_set_under_another_path_is_not_a_change(tiny_overrides, tmp_path, capsys):
    from adaanchor.data.spec import SPEC_DIR

    train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=1"]))
    mine = tmp_path / "mine.yaml"
    mine.write_text((SPEC_DIR / "coco.yaml").read_text())
    summary = train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=2", "resume=auto", f"data.spec={mine}"]))
    assert summary["steps"] == 2 and "keypoint spec" not in capsys.readouterr().out


# --- resource faults ------------------------------------------------------------------------------------------

def _writer_failure(*args, **kwargs):
    f = args[1]
    f.write(b"PK\x03\x04 partial")  # torch had written part of the file when the disk filled up
    raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 4416 vs 4352")


def test_a_full_disk_while_checkpointing_keeps_the_previous_checkpoint(tiny_overrides, tmp_path, monkeypatch):
    good = tmp_path / "last.pt"
    atomic_save({"step": 1, "w": torch.zeros(1000)}, good)
    monkeypatch.setattr(ckpt_mod.torch, "save", _writer_failure)
    free = type("Usage", (), {"free": 3 * 2**20})()
    monkeypatch.setattr(ckpt_mod.shutil, "disk_usage", lambda p: free)
    with pytest.raises(AdaAnchorError) as e:
        atomic_save({"step": 2, "w": torch.zeros(2**20)}, good)  # 4 MiB of tensors, 3 MiB free
    msg = _one_line(e)
    assert msg == (f"{good}: cannot write the checkpoint: no space left on the device (it needs about 4.0 MiB, "
                   f"3.0 MiB free in {tmp_path}); the previous last.pt is kept")
    assert safe_load(good)["step"] == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_another_write_failure_of_torch_names_it(tmp_path, monkeypatch):
    monkeypatch.setattr(ckpt_mod.torch, "save", _writer_failure)
    with pytest.raises(AdaAnchorError) as e:  # plenty of space: not reported as a full disk
        atomic_save({"w": torch.zeros(10)}, tmp_path / "a.pt")
    msg = _one_line(e)
    assert msg.startswith(f"{tmp_path / 'a.pt'}: cannot write the checkpoint: the write failed (torch: RuntimeError: "
                          "[enforce fail at inline_container.cc:603] . unexpected pos 4416 vs 4352) (it needs about 0.0 MiB, ")
    assert msg.endswith("no previous checkpoint of that name") and list(tmp_path.iterdir()) == []


def test_enospc_during_training_is_one_line_and_the_last_checkpoint_survives(tiny_overrides, tmp_path, monkeypatch):
    real, calls = torch.save, {"n": 0}

    def fill_up(obj, f, *a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(obj, f, *a, **k)

    monkeypatch.setattr(ckpt_mod.torch, "save", fill_up)
    with pytest.raises(AdaAnchorError) as e:
        train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=4", "train.ckpt_every_steps=1"]))
    msg = _one_line(e)
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    assert msg.startswith(f"{last}: cannot write the checkpoint: no space left on the device (it needs about ")
    assert "MiB free in" in msg and msg.endswith("the previous last.pt is kept")
    assert safe_load(last)["step"] == 2
    assert sorted(p.name for p in last.parent.iterdir()) == ["last.pt"]  # no temp file left
    assert not (tmp_path / "run" / LOCK_NAME).exists()


DAMAGE = [  # (field, damage, what the message says it is)
    ("step", "missing", "missing"), ("step", "3.5", "a float (3.5)"), ("step", "'7'", "a str ('7')"),
    ("epoch", "-1", "an int (-1)"), ("batch", "None", "a NoneType (None)"), ("best", "'high'", "a str ('high')"),
    ("best", "float('nan')", "a float (nan)"), ("rng", "[1, 2]", "a list ([1, 2])"), ("rng.torch", "missing", "missing"),
    ("time_s", "'soon'", "a str ('soon')"),
]


def test_a_damaged_checkpoint_field_names_the_file_and_the_field(tiny_overrides, tmp_path):
    train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=1"]))
    state = safe_load(tmp_path / "run" / "checkpoints" / "last.pt")
    for i, (fld, damage, what) in enumerate(DAMAGE):
        bad = {**state, "rng": dict(state["rng"])}
        where, key = (bad["rng"], "torch") if fld == "rng.torch" else (bad, fld)
        if damage == "missing":
            del where[key]
        else:
            where[key] = eval(damage)
        path = tmp_path / f"bad{i}.pt"
        atomic_save(bad, path)
        with pytest.raises(AdaAnchorError) as e:
            train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=2", f"resume={path}",
                                      f"out_dir={tmp_path / f'r{i}'}"]))
        msg = _one_line(e)
        assert msg.startswith(f"{path}: damaged checkpoint: field '{fld}' is {what} (expected "), msg


# --- data ------------------------------------------------------------------------------------------------------

def _coco(root: Path, names: list[str], present: list[str]) -> None:
    """A COCO keypoint file with one person per image; only the images in ``present`` are written."""
    (root / "img").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for n in present:
        Image.fromarray(rng.integers(0, 255, (96, 72, 3), dtype=np.uint8)).save(root / "img" / n)
    kp = np.stack([rng.uniform(10, 60, 17), rng.uniform(10, 85, 17), np.full(17, 2)], 1).reshape(-1).round(1)
    images = [{"id": i + 1, "file_name": n, "width": 72, "height": 96} for i, n in enumerate(names)]
    anns = [{"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [5, 5, 60, 85], "area": 5100, "iscrowd": 0,
             "num_keypoints": 17, "keypoints": kp.tolist()} for i in range(len(names))]
    doc = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}
    (root / "ann.json").write_text(json.dumps(doc))


def _coco_overrides(root: Path, out: Path) -> list[str]:
    return [f"data.root={root}", "data.format=coco", "data.train=ann.json", "data.val=ann.json", "data.images=img",
            "data.spec=coco", "data.input_size=[72,96]", f"out_dir={out}", "model.tiny_width=8", "train.batch_size=2",
            "train.progress=false", "train.max_steps=1", "eval.batch_size=4"]


def test_missing_images_are_named_before_training_or_skipped_and_counted(tmp_path, capsys):
    root = tmp_path / "data"
    _coco(root, ["a.png", "b.png", "gone.png"], present=["a.png", "b.png"])
    with pytest.raises(AdaAnchorError) as e:
        train(build_config(None, _coco_overrides(root, tmp_path / "r1")))
    msg = _one_line(e)
    assert msg == (f"{root / 'img' / 'gone.png'} [record image_id 3]: image file not found (1 of 3 train images are "
                   "missing: the data moved? give data.root=... or data.images=..., or data.skip_invalid=true to skip them)")
    capsys.readouterr()
    summary = train(build_config(None, [*_coco_overrides(root, tmp_path / "r2"), "data.skip_invalid=true"]))
    out = capsys.readouterr().out
    assert f"{root / 'ann.json'}: skipped 1 record(s):\n  1 x image file not found" in out
    assert "data: train 2 images, 2 instances; val 2 images, 2 instances" in out
    assert summary["steps"] == 1


# --- self-contained run directories --------------------------------------------------------------------------------

def test_a_run_dir_works_from_another_folder_and_machine(tmp_path, monkeypatch, capsys):
    import shutil

    from adaanchor.data.spec import SPEC_DIR
    from adaanchor.engine.run import load_for_eval, resolve_run

    work = tmp_path / "work"
    _coco(work / "data", ["a.png", "b.png"], present=["a.png", "b.png"])
    (work / "mine.yaml").write_text((SPEC_DIR / "coco.yaml").read_text().replace("name: coco", "name: mine"))
    monkeypatch.chdir(work)  # every path relative to this folder
    over = [o for o in _coco_overrides(Path("data"), Path("runs/x")) if not o.startswith("data.spec")]
    train(build_config(None, [*over, "data.spec=mine.yaml"]))
    saved = yaml.safe_load((work / "runs/x/config.yaml").read_text())
    assert saved["out_dir"] == str(work / "runs/x") and saved["data"]["root"] == str(work / "data")
    assert saved["data"]["spec"] == str(work / "mine.yaml")
    assert (work / "runs/x/spec.yaml").read_text() == (work / "mine.yaml").read_text()

    # Another machine: the run copied elsewhere, the spec file and the data gone, another working directory.
    shutil.copytree(work / "runs/x", tmp_path / "moved")
    (work / "mine.yaml").unlink()
    shutil.move(work / "data", tmp_path / "data-elsewhere")
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    cfg, ckpt = resolve_run(tmp_path / "moved")
    err = capsys.readouterr().err
    assert cfg.data.spec == str(tmp_path / "moved" / "spec.yaml") and ckpt == tmp_path / "moved/checkpoints/best.pt"
    assert f"data.root={work / 'data'} does not exist here (the data moved?): give data.root=NEW_ROOT" in err
    model, strategy, info = load_for_eval(cfg, ckpt)
    weights = safe_load(ckpt)["model"]
    assert info["step"] >= 1 and all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())
    cfg2, _ = resolve_run(tmp_path / "moved", overrides=[f"data.root={tmp_path / 'data-elsewhere'}"])
    assert capsys.readouterr().err == "" and cfg2.data.root == str(tmp_path / "data-elsewhere")
    # Prediction, export and drawing need no data: no warning about it (it misled), and a checkpoint path stands
    # for its run (export read the .pt file as a YAML config: 'not UTF-8 text').
    from adaanchor.cli import main

    img = tmp_path / "data-elsewhere" / "img" / "a.png"
    assert main(["predict", str(tmp_path / "moved"), str(img), "--out", str(tmp_path / "p"), "--quiet"]) == 0
    assert "does not exist here" not in capsys.readouterr().err
    ckpt_path = tmp_path / "moved" / "checkpoints" / "best.pt"
    assert main(["export", str(ckpt_path), "--no-check"]) == 0
    cap = capsys.readouterr()
    assert "does not exist here" not in cap.err and (tmp_path / "moved" / "export" / "best.onnx").is_file()


# --- the learning-rate schedule after a resume with changed options -----------------------------------------------

@settings(max_examples=20, deadline=None)
@given(lr0=st.floats(1e-5, 1.0), lr1=st.floats(1e-5, 1.0), gamma=st.floats(0.01, 1.0),
       ms0=st.lists(st.integers(1, 30), max_size=3), ms1=st.lists(st.integers(1, 30), max_size=3),
       steps=st.integers(0, 30), more=st.integers(1, 10))
def test_a_restored_schedule_follows_the_new_options_like_a_fresh_one(lr0, lr1, gamma, ms0, ms1, steps, more):
    """Saved at ``steps`` under (lr0, ms0), restored under (lr1, ms1, gamma): from then on the lr is the one a
    run started under the new options would have at the same step."""
    from omegaconf import OmegaConf

    from adaanchor.engine.session import apply_schedule

    def make(lr, ms, g):
        opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=lr)
        return opt, torch.optim.lr_scheduler.MultiStepLR(opt, milestones=ms, gamma=g)

    opt, sched = make(lr0, ms0, 0.5)
    for _ in range(steps):
        opt.step()
        sched.step()
    new_opt, new_sched = make(lr1, ms1, gamma)
    new_opt.load_state_dict(opt.state_dict())
    new_sched.load_state_dict(sched.state_dict())
    cfg = OmegaConf.create({"train": {"lr": lr1, "lr_factor": gamma, "weight_decay": 0.0}})
    apply_schedule(cfg, new_opt, new_sched, ms1)
    ref_opt, ref_sched = make(lr1, ms1, gamma)
    for _ in range(steps):
        ref_opt.step()
        ref_sched.step()
    for _ in range(more + 1):
        assert new_opt.param_groups[0]["lr"] == pytest.approx(ref_opt.param_groups[0]["lr"], rel=1e-9, abs=1e-300)
        new_opt.step()
        new_sched.step()
        ref_opt.step()
        ref_sched.step()


def test_an_out_dir_holding_another_tools_config_is_refused(tiny_overrides, tmp_path):
    """out_dir = a DeepLabCut project (data.root): the project's config.yaml was replaced by the run's, and its
    bodyparts and skeleton lost."""
    run = tmp_path / "run"
    run.mkdir()
    project = "Task: mouse\nscorer: lab\nbodyparts: [nose, tail]\nskeleton: [[nose, tail]]\n"
    (run / "config.yaml").write_text(project)
    with pytest.raises(AdaAnchorError) as e:
        train(build_config(None, [*tiny_overrides, *FAST, "train.max_steps=1", "overwrite=true"]))
    assert _one_line(e) == (f"{run / 'config.yaml'}: a config.yaml that is not a run's (a DeepLabCut project's?) "
                            "would be replaced by the run's: give out_dir a folder of its own")
    assert (run / "config.yaml").read_text() == project


def test_resume_refuses_another_width_of_the_centre_pose_branches(tmp_path):
    """centre.branch_width sets the pose branches' channels (task: centre): it was applied on resume, written into
    config.yaml, and the run then failed on a state-dict size mismatch, as did every later eval of the run."""
    from adaanchor.engine.rundir import check_resume_config

    over = ["task=centre", "model.tiny_width=8", f"out_dir={tmp_path}"]
    old = OmegaConf.to_container(build_config("bottomup_crowd", [*over, "centre.branch_width=8"]), resolve=True)
    cfg = build_config("bottomup_crowd", [*over, "centre.branch_width=4"])
    with pytest.raises(AdaAnchorError) as e:
        check_resume_config(old, cfg, tmp_path / "checkpoints" / "last.pt")
    assert "options that fix the model changed: centre.branch_width: 8 -> 4" in _one_line(e)
    same = build_config("bottomup_crowd", [*over, "centre.branch_width=8", "centre.gamma=0.3"])
    assert check_resume_config(old, same, tmp_path / "checkpoints" / "last.pt") == {"centre.gamma": (0.1, 0.3)}


def test_a_training_that_fails_before_writing_leaves_no_empty_run_directory(tiny_overrides, tmp_path):
    """Bad data found after the run directory was made left an empty out_dir/checkpoints/ behind."""
    out = tmp_path / "new" / "run"
    with pytest.raises(AdaAnchorError):
        train(build_config(None, [*tiny_overrides, "train.max_steps=1", f"out_dir={out}", "data.format=coco",
                                  f"data.root={tmp_path / 'missing'}"]))
    assert not out.exists()
    kept = tmp_path / "kept"
    (kept / "notes").mkdir(parents=True)  # a folder that was there before: never removed
    with pytest.raises(AdaAnchorError):
        train(build_config(None, [*tiny_overrides, "train.max_steps=1", f"out_dir={kept}", "data.format=coco",
                                  f"data.root={tmp_path / 'missing'}"]))
    assert (kept / "notes").is_dir()


def test_a_run_written_before_the_flip_rules_is_compared_as_it_behaved():
    """A run whose config predates eval.flip_offsets / eval.flip_conf merged by the mean: a resume that sets another
    rule is a scored change (the absent key was left out, and best.pt kept the other merge's score as the bar)."""
    from adaanchor.engine.resume_config import config_changes, scored_otherwise

    old = {"eval": {"flip_test": True}}
    new = {"eval": {"flip_test": True, "flip_offsets": "weighted", "flip_conf": "mean"}}
    changes = config_changes(old, new)
    assert changes == {"eval.flip_offsets": ("mean", "weighted")} and scored_otherwise(changes) == ["eval.flip_offsets"]
    assert config_changes(old, {"eval": {"flip_test": True, "flip_offsets": "mean", "flip_conf": "mean"}}) == {}


def test_a_folder_where_an_image_goes_is_named_a_folder_before_training(tmp_path):
    """``data stats`` said "a folder, not an image file" and ``train`` "image file not found"."""
    root = tmp_path / "data"
    _coco(root, ["a.png", "b.png", "dir.png"], present=["a.png", "b.png"])
    (root / "img" / "dir.png").mkdir()
    with pytest.raises(AdaAnchorError) as e:
        train(build_config(None, _coco_overrides(root, tmp_path / "r1")))
    assert _one_line(e) == (f"{root / 'img' / 'dir.png'} [record image_id 3]: a folder, not an image file (1 of 3 train "
                            "image paths are no image files: 1 folders or other non-files, 0 missing; "
                            "data.skip_invalid=true skips them)")
