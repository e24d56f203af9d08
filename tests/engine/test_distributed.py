"""DDP under torchrun (2 processes, gloo on CPU) trains like one process with the same global batch."""

from __future__ import annotations

import csv
import os
import random
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from adaanchor.config import build_config
from adaanchor.data.build import build_dataset
from adaanchor.engine.checkpoint import safe_load
from adaanchor.engine.dist import param_fingerprint
from adaanchor.engine.run import build_system
from adaanchor.engine.sampler import KeyedDataset, ResumableBatchSampler
from adaanchor.engine.train import train
from adaanchor.errors import AdaAnchorError


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_rank_slices_make_up_the_single_process_batches_and_resume_mid_epoch():
    one = ResumableBatchSampler(50, 8, seed=3)
    ranks = [ResumableBatchSampler(50, 8, seed=3, rank=r, world=2) for r in range(2)]
    for s in (one, *ranks):
        s.set_epoch(2)
    assert len(one) == 6
    for full, a, b in zip(one, *ranks, strict=True):
        assert len(a) == len(b) == 4 and a + b == full
    one.set_epoch(2, start_batch=4)  # resume: the rest of the same order
    again = ResumableBatchSampler(50, 8, seed=3)
    again.set_epoch(2)
    assert list(one) == list(again)[4:]
    with pytest.raises(AdaAnchorError, match="not divisible"):
        ResumableBatchSampler(50, 7, seed=0, rank=0, world=2)


def test_keyed_augmentation_is_reproducible_and_leaves_the_global_rngs_alone(tiny_overrides):
    cfg = build_config(None, [*tiny_overrides, "data.aug.rotation=30", "data.aug.scale=0.25"])
    ds = KeyedDataset(build_dataset(cfg.data, "train", verbose=False), seed=5)
    before = (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state())
    a, b, c = ds[(3, 1)], ds[(3, 1)], ds[(3, 2)]
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["keypoints"], b["keypoints"])
    assert not torch.equal(a["keypoints"], c["keypoints"])  # another epoch, another augmentation
    assert random.getstate() == before[0] and np.array_equal(np.random.get_state()[1], before[1])
    assert torch.equal(torch.get_rng_state(), before[2])


@pytest.mark.slow
def test_two_processes_match_one_process_and_stay_identical(tiny_overrides, tmp_path):
    config = tmp_path / "empty.yaml"
    config.write_text("{}\n")
    # heatmap: its loss is a plain mean over the batch, so the mean of the ranks' losses over their halves
    # is the loss of the whole batch (anchor strategies normalise by positives per rank; docs/training.md).
    common = [*tiny_overrides, "strategy.name=heatmap", "train.batch_size=16", "train.max_steps=6",
              "train.log_every=1", "train.eval_every=1", "train.ckpt_every_steps=2", "train.deterministic=true",
              "train.device=cpu"]
    ddp_dir, one_dir = tmp_path / "ddp", tmp_path / "one"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "adaanchor", "train", str(config), *common, f"out_dir={ddp_dir}"]
    res = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]

    # Replicas: every rank ended with the same parameters, and they are the ones rank 0 saved.
    found = re.findall(r"parameters identical on all 2 ranks \(sha256 ([0-9a-f]{16})\)", res.stdout)
    assert len(found) == 1, res.stdout
    cfg = build_config(None, [*common, f"out_dir={ddp_dir}"])
    names = [n for n, _ in build_system(cfg)[0].named_parameters()]
    saved = safe_load(ddp_dir / "checkpoints" / "last.pt")
    assert param_fingerprint((n, saved["model"][n]) for n in names)[:16] == found[0]

    # Rank 0 alone logs and checkpoints: one row per step, one set of files; evaluation ran (ranks waited).
    ddp_rows = _rows(ddp_dir / "train_log.csv")
    assert [int(r["step"]) for r in ddp_rows] == [1, 2, 3, 4, 5, 6]
    assert [int(r["step"]) for r in _rows(ddp_dir / "eval_log.csv")] == [3, 6]
    assert sorted(p.name for p in (ddp_dir / "checkpoints").iterdir()) in (["best.pt", "last.pt"], ["last.pt"])
    # Rank 0 alone took the run directory's lock (a rank 1 trying too would have failed) and released it.
    assert not (ddp_dir / "train.lock").exists() and (ddp_dir / "spec.yaml").is_file()
    assert saved["step"] == 6

    one = train(build_config(None, [*common, f"out_dir={one_dir}"]))
    one_rows = _rows(one_dir / "train_log.csv")
    a = torch.tensor([float(r["loss"]) for r in ddp_rows], dtype=torch.float64)
    b = torch.tensor([float(r["loss"]) for r in one_rows], dtype=torch.float64)
    # Same initial weights, same samples and augmentation, BatchNorm over the global batch (train.sync_bn):
    # the first loss agrees to float rounding; later ones drift only by summation order (Adam amplifies it).
    assert torch.allclose(a[0], b[0], rtol=1e-6), (a, b)
    assert torch.allclose(a, b, rtol=2e-3), (a, b)
    ref = safe_load(one_dir / "checkpoints" / "last.pt")["model"]
    for n in names:
        assert torch.allclose(saved["model"][n], ref[n], atol=2e-3, rtol=1e-2), n
    assert one["steps"] == 6


def test_a_checkpoint_no_rank_can_read_is_said_once(tmp_path):
    """``resume=BAD.pt`` under torchrun: each rank printed the same ``error: ...`` line; rank 0 alone says it now,
    and every rank exits with code 2."""
    config, bad = tmp_path / "empty.yaml", tmp_path / "bad.pt"
    config.write_text("{}\n")
    bad.write_text("not a checkpoint\n")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "adaanchor",
           "train", str(config), "data.format=synth", "model.tiny_width=8", "train.device=cpu",
           "train.progress=false", f"out_dir={tmp_path / 'run'}", f"resume={bad}"]
    res = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=120)
    said = [line for line in res.stderr.splitlines() if line.startswith("error: ")]
    assert len(said) == 1 and said[0].startswith(f"error: {bad}: not a readable checkpoint"), res.stderr[-3000:]
    assert res.returncode != 0 and len(re.findall(r"exitcode\s*: 2 ", res.stderr)) == 2, res.stderr[-3000:]


@pytest.mark.parametrize("errors, said", [
    ([None, None], None),
    (["a.pt: cut short", "a.pt: cut short"], "a.pt: cut short"),
    (["a.pt: cut short", None], "a.pt: cut short"),
    ([None, None, "a.pt: not found"], "rank 2 of 3: a.pt: not found (elsewhere)"),
], ids=["none", "every-rank", "rank-0", "rank-2-only"])
def test_one_message_of_every_rank_s_error(errors, said):
    """What rank 0 prints: its own error, else the first failing rank's, named (it printed 'another rank cannot
    read this checkpoint' and that rank its own line)."""
    from adaanchor.engine.dist import first_rank_error

    assert first_rank_error(errors, " (elsewhere)") == said


def _rank_pid(rank: int, marker: str) -> int | None:
    """The pid of the process of ``rank`` whose command line holds ``marker`` (Linux /proc)."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if marker.encode() in cmd and f"RANK={rank}".encode() in env and b"adaanchor" in cmd:
            return int(d)
    return None


@pytest.mark.slow
def test_a_sigterm_that_reaches_one_rank_is_named_by_rank_0(tiny_overrides, tmp_path):
    """Every rank stops at the same step; rank 0, which had no signal of its own, said 'stopped by a signal' and wrote
    it into train.status, where SIGTERM was sent."""
    import signal
    import time

    config = tmp_path / "empty.yaml"
    config.write_text("{}\n")
    out = tmp_path / "ddp_term"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "adaanchor",
           "train", str(config), *tiny_overrides, "strategy.name=heatmap", "train.batch_size=16",
           "train.max_steps=400", "train.log_every=1", "train.eval_every=0", "train.device=cpu", f"out_dir={out}"]
    proc = subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(_rows(out / "train_log.csv") if (out / "train_log.csv").exists()
                                                   else []) < 3:
            time.sleep(0.2)
        pid = _rank_pid(1, str(out))
        assert pid is not None, "rank 1 not found"
        os.kill(pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    said = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(said) == 1 and said[0].startswith("error: stopped by SIGTERM after step "), err[-3000:]
    assert (out / "train.status").read_text().startswith("stopped: stopped by SIGTERM after step ")
