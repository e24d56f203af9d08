"""Under DDP the EMA copy the assignment scores is the same on every rank, BatchNorm statistics included."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from adaanchor.engine.checkpoint import safe_load
from adaanchor.engine.dist import param_fingerprint


@pytest.mark.slow
def test_ema_copies_identical_across_ranks_without_sync_bn(tiny_overrides, tmp_path):
    config = tmp_path / "empty.yaml"
    config.write_text("{}\n")
    out = tmp_path / "ddp"
    # sync_bn=false: each rank's running statistics come from its half of the batch, and the EMA averaged them.
    args = [*tiny_overrides, "strategy.assign_ema_decay=0.99", "train.sync_bn=false", "train.max_steps=4",
            "train.eval_every=0", "train.device=cpu", f"out_dir={out}"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "adaanchor", "train", str(config), *args]
    res = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    found = re.findall(r"assignment EMA copy identical on all 2 ranks \(sha256 ([0-9a-f]{16})\)", res.stdout)
    assert len(found) == 1, res.stdout + res.stderr
    saved = safe_load(out / "checkpoints" / "last.pt")["assign_ema"]["model"]
    assert param_fingerprint(saved.items())[:16] == found[0]  # rank 0 saved what every rank scored with
