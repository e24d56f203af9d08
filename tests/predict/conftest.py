"""Fixtures of the prediction tests: two 2-step tiny runs, an exported ONNX graph and generated videos."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

# Same generator options as the session's tiny benchmark (tests/conftest.py), so its cache is reused.
SYNTH = {"n_train": 48, "n_val": 12, "seed": 0}


@pytest.fixture(scope="session")
def pred_runs(tiny_bench, tmp_path_factory) -> dict[str, Path]:
    """strategy -> run directory of a 2-step tiny run (adaanchor, localanchor and regression)."""
    from adaanchor.config import build_config
    from adaanchor.engine.train import train

    root = tmp_path_factory.mktemp("predict_runs")
    out = {}
    for name in ("adaanchor", "localanchor", "regression"):
        run = root / name
        train(build_config(None, [
            f"data.root={tiny_bench}", *(f"data.synth.{k}={v}" for k, v in SYNTH.items()), f"out_dir={run}",
            "model.tiny_width=8", "train.batch_size=8", "train.progress=false", "eval.batch_size=12",
            f"strategy.name={name}", "train.max_steps=2", "train.eval_every=0",
        ]))
        out[name] = run
    return out


@pytest.fixture(scope="session")
def val_images(tiny_bench) -> list[Path]:
    return sorted((tiny_bench / "images" / "val").glob("*.png"))


def write_video(path: Path, frames: int, size: tuple[int, int] = (64, 48), fps: int = 10, codec: str = "mpeg4",
                images: list[np.ndarray] | None = None) -> Path:
    """A video of ``frames`` frames (``size`` = (W, H)): the given images in turn, or a moving gradient."""
    import av

    w, h = size
    with av.open(str(path), mode="w") as c:
        s = c.add_stream(codec, rate=Fraction(fps))
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        yy, xx = np.mgrid[0:h, 0:w]
        for i in range(frames):
            if images is not None:
                img = images[i % len(images)]
            else:
                img = np.stack([(xx * 4 + i * 3) % 256, (yy * 5) % 256, np.full_like(xx, (i * 7) % 256)], -1)
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img, dtype=np.uint8), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


@pytest.fixture(scope="session")
def val_video(val_images, tmp_path_factory) -> Path:
    """24 frames (10 fps, 72x96): the 12 validation images twice."""
    from PIL import Image

    imgs = [np.asarray(Image.open(p).convert("RGB")) for p in val_images]
    return write_video(tmp_path_factory.mktemp("video") / "clip.mp4", 24, (72, 96), 10, images=imgs)


def predict_in_background(run, video, out, *args: str):
    """``adaanchor predict RUN VIDEO --out OUT ARGS`` in a subprocess that takes SIGINT as a terminal sends it (a test
    runner's worker may ignore it, and a child inherits that), returned once it has written some frames."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "adaanchor", "predict", str(run), str(video), "--out", str(out),
                             *args, "--device", "cpu", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not (out / f".{video.stem}.json.tmp").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(1.0)  # some frames in
    return proc
