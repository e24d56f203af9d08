"""Shared fixtures: a tiny copy of the built-in benchmark, generated once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings
from PIL import Image

# Tests run two workers on two cores: one thread each keeps them from fighting.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)

# Property tests draw new examples on every run here; CI (.ci/run sets HYPOTHESIS_PROFILE=ci) draws the same ones
# each time, so that a landing is judged on what was run before it, and prints how to reproduce a failure.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

TINY_SYNTH = {"n_train": 48, "n_val": 12, "seed": 0}


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    """Give every test the thread count the session started with: a benchmark's ``main`` sets its own (2 by
    default), and a later test in the same worker would then sum in other chunks and round differently (the
    crash-resume test compares a run in this process with runs in subprocesses at one thread)."""
    n = torch.get_num_threads()
    yield
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tiny_bench(tmp_path_factory) -> Path:
    """A 48/12-image benchmark (72x96) in a session temp folder; returns its root."""
    from adaanchor.bench.synth import write_benchmark

    root = tmp_path_factory.mktemp("bench")
    write_benchmark(root, {**TINY_SYNTH, "width": 72, "height": 96}, progress=False)
    return root


@pytest.fixture
def perfect_predictions(monkeypatch) -> None:
    """The top-down evaluation's ``predict`` returning the ground truth as the prediction (score 1): the AP of a
    correct evaluation is then 1."""
    import numpy as np

    from adaanchor.engine import evaluate as ev

    real = ev.predict

    def perfect(*args, **kwargs):
        p = real(*args, **kwargs)
        p["pred"], p["pred_orig"] = p["gt"].copy(), p["gt_orig"].copy()
        p["score"] = np.ones_like(p["score"])
        return p

    monkeypatch.setattr(ev, "predict", perfect)


@pytest.fixture
def tiny_overrides(tiny_bench, tmp_path) -> list[str]:
    """Config overrides for a seconds-long run on the tiny benchmark, writing into tmp_path."""
    return [
        f"data.root={tiny_bench}",
        *(f"data.synth.{k}={v}" for k, v in TINY_SYNTH.items()),
        f"out_dir={tmp_path / 'run'}",
        "model.tiny_width=8",
        "train.batch_size=8",
        "train.progress=false",
        "eval.batch_size=12",
    ]


def write_face_csv(folder: Path, people: dict[str, int], seed: int = 0, name: str = "faces.csv", images: str = "img") -> Path:
    """A landmark CSV with 68 points per image, ``n`` frames for each person, and the images."""
    rng = np.random.default_rng(seed)
    (folder / images).mkdir(parents=True)
    rows = ["," + ",".join(str(i) for i in range(136))]
    for person, n in people.items():
        for f in range(n):
            fn = f"{person}_{f:02d}.jpg"
            Image.fromarray(rng.integers(0, 255, (80, 70, 3), dtype=np.uint8)).save(folder / images / fn)
            pts = np.stack([rng.uniform(15, 55, 68), rng.uniform(15, 65, 68)], 1)
            pts[36], pts[45] = (20, 30), (50, 30)  # outer eye corners: inter-ocular 30 px
            rows.append(fn + "," + ",".join(f"{v:.2f}" for v in pts.reshape(-1)))
    (folder / name).write_text("\n".join(rows) + "\n")
    return folder / name


def one_step_demo_run(root: Path, n_val: int = 6) -> Path:
    """A one-step run of the tiny model (width 8) on a small benchmark under ``root``: a real checkpoint to evaluate,
    export or write over."""
    from adaanchor.config import build_config
    from adaanchor.demo import DEMO_CONFIG
    from adaanchor.engine.train import train

    over = [f"data.root={root / 'bench'}", "data.synth.n_train=16", f"data.synth.n_val={n_val}", f"out_dir={root / 'run'}",
            "model.tiny_width=8", "train.batch_size=8", "train.progress=false", "eval.batch_size=4",
            "train.max_steps=1", "train.eval_every=0"]
    return Path(train(build_config(DEMO_CONFIG, over))["run_dir"])
