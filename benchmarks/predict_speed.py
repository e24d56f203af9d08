"""``adaanchor predict`` on a video, end to end, against the model alone: frames per second of each.

    python benchmarks/predict_speed.py [--frames 600] [--size 360x480] [--threads 2] [--out benchmarks/results]

A tiny run (the demo's model, one training step on a small generated benchmark) predicts on a generated
video (synthetic scenes, resized to ``--size`` = W x H, H.264). End to end = the ``predict`` command's
work: decode, fit each frame into the input, normalise, forward + decode, map back, write COCO JSON and
the DeepLabCut CSV (no overlays), timed by wall clock. Model only = the same backend call on ready-made
input batches of the same batch size (forward + decode, no I/O). The ratio end-to-end / model-only is the
share of the model's speed that the command keeps. Writes ``predict_speed.json`` under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch


def make_run(root: Path) -> Path:
    from adaanchor.config import build_config
    from adaanchor.demo import DEMO_CONFIG
    from adaanchor.engine.train import train

    run = root / "run"
    train(build_config(DEMO_CONFIG, [f"data.root={root / 'bench'}", "data.synth.n_train=16", "data.synth.n_val=8",
                                     f"out_dir={run}", "train.max_steps=1", "train.progress=false",
                                     "train.eval_every=0"]))
    return run


def make_video(path: Path, root: Path, frames: int, size: tuple[int, int], fps: int = 30) -> Path:
    import av
    import cv2
    from PIL import Image

    scenes = [cv2.resize(np.asarray(Image.open(p).convert("RGB")), size, interpolation=cv2.INTER_LINEAR)
              for p in sorted((root / "bench" / "images" / "val").glob("*.png"))]
    with av.open(str(path), mode="w") as c:
        s = c.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=Fraction(fps))
        s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(frames):
            img = np.roll(scenes[(i // 30) % len(scenes)], i % 30, axis=1)  # a slow pan, new scene every second
            for pkt in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def model_only_fps(predictor, frames: int, repeats: int = 3) -> float:
    """Frames per second of the backend alone on batches of the predictor's batch size (best of ``repeats``)."""
    from adaanchor.predict.predictor import normalise

    w, h = predictor.input_size
    rng = np.random.default_rng(0)
    batch = normalise(rng.integers(0, 255, (predictor.batch_size, h, w, 3), dtype=np.uint8))
    predictor.backend(batch)  # warm-up
    n_batches = max(1, frames // predictor.batch_size)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n_batches):
            predictor.backend(batch)
        best = min(best, time.perf_counter() - t0)
    return n_batches * predictor.batch_size / best


def end_to_end_fps(run: Path, video: Path, out: Path, save_video: bool, repeats: int = 3) -> float:
    from adaanchor.predict.command import predict_command

    best = 0.0
    for _ in range(repeats):
        res = predict_command(str(run), [str(video)], out=out, formats=["coco", "csv"], save_video=save_video,
                              progress=False, device="cpu")
        best = max(best, res["fps"])
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--size", default="360x480", help="video W x H")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    size = tuple(int(v) for v in a.size.lower().split("x"))
    from adaanchor.predict import Predictor

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run = make_run(root)
        video = make_video(root / "clip.mp4", root, a.frames, size)
        predictor = Predictor.from_run(run, device="cpu")
        model = model_only_fps(predictor, a.frames)
        e2e = end_to_end_fps(run, video, root / "out", save_video=False)
        labelled = end_to_end_fps(run, video, root / "out_v", save_video=True, repeats=1)
    res = {
        "video": {"frames": a.frames, "size_wh": list(size), "codec": "h264"},
        "model": "demo config (tiny backbone, width 32, 72x96 input), strategy adaanchor",
        "batch_size": predictor.batch_size, "threads": a.threads,
        "model_only_fps": round(model, 1), "end_to_end_fps": round(e2e, 1),
        "ratio_end_to_end_over_model": round(e2e / model, 3),
        "end_to_end_with_labelled_video_fps": round(labelled, 1),
        "machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version(),
                    "torch": torch.__version__},
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "predict_speed.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
