"""``adaanchor predict`` on a video, end to end, against the model alone: frames per second of each.

    python benchmarks/predict_speed.py [--frames 600] [--size 360x480] [--threads 2] [--rounds 5] [--out benchmarks/results]
        [--name predict_speed] [model.backbone=resnet50 data.input_size=[192,256] ...]

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
import os
import platform
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch

from adaanchor.atomic import write_text_atomic
from adaanchor.cli.argtypes import int_at_least
from adaanchor.versions import source_commit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from script_exit import results_place_problem, run_main  # noqa: E402


def make_run(root: Path, overrides: list[str] = ()) -> Path:
    from adaanchor.config import build_config
    from adaanchor.demo import DEMO_CONFIG
    from adaanchor.engine.train import train

    run = root / "run"
    train(build_config(DEMO_CONFIG, [f"data.root={root / 'bench'}", "data.synth.n_train=16", "data.synth.n_val=8",
                                     f"out_dir={run}", "overwrite=true", "train.max_steps=1", "train.progress=false",
                                     "train.eval_every=0", "train.batch_size=8", *overrides]))
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


def model_only_fps(predictor, frames: int) -> float:
    """Frames per second of the backend alone on ready batches of the predictor's batch size."""
    from adaanchor.predict.crops import normalise

    w, h = predictor.input_size
    rng = np.random.default_rng(0)
    batch = normalise(rng.integers(0, 255, (predictor.batch_size, h, w, 3), dtype=np.uint8))
    predictor.backend(batch)  # warm-up
    n_batches = max(1, frames // predictor.batch_size)
    t0 = time.perf_counter()
    for _ in range(n_batches):
        predictor.backend(batch)
    return n_batches * predictor.batch_size / (time.perf_counter() - t0)


def end_to_end_fps(run: Path, video: Path, out: Path, save_video: bool) -> float:
    """Frames per second of ``predict_command`` on the video (its own wall clock of the prediction loop)."""
    from adaanchor.predict.command import predict_command

    res = predict_command(str(run), [str(video)], out=out, formats=["coco", "csv"], save_video=save_video,
                          progress=False, device="cpu")
    return float(res["fps"])


def measure(run: Path, video: Path, root: Path, frames: int, rounds: int) -> dict:
    """``rounds`` rounds of model-only then end-to-end, back to back: on a shared machine the load changes
    from minute to minute, and a ratio of two runs made together is steadier than either number. Medians."""
    from adaanchor.predict import Predictor

    predictor = Predictor.from_run(run, device="cpu")
    model, e2e, ratio = [], [], []
    for _ in range(rounds):
        model.append(model_only_fps(predictor, frames))
        e2e.append(end_to_end_fps(run, video, root / "out", save_video=False))
        ratio.append(e2e[-1] / model[-1])
    labelled = end_to_end_fps(run, video, root / "out_v", save_video=True)
    med = lambda v: float(np.median(v))  # noqa: E731
    return {"batch_size": predictor.batch_size, "model_only_fps": round(med(model), 1),
            "end_to_end_fps": round(med(e2e), 1), "ratio_end_to_end_over_model": round(med(ratio), 3),
            "ratio_per_round": [round(r, 3) for r in ratio],
            "end_to_end_with_labelled_video_fps": round(labelled, 1)}


def machine_info() -> dict[str, Any]:
    """The machine and the code a measurement ran on (the commit as ``adaanchor --version`` gives it)."""
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "load_average_1min_after": round(os.getloadavg()[0], 2), "python": platform.python_version(),
            "torch": torch.__version__, "commit": source_commit() or "unknown"}


MIN_SIDE = 16  # the smallest video side taken (the frames are resized scenes of the benchmark)


def video_size(text: str) -> tuple[int, int]:
    """``--size``: ``WxH``, two even integers of at least :data:`MIN_SIDE` (the video is yuv420p, which halves both
    sides for its colour planes). ``12`` or ``0x0`` failed inside OpenCV with a 'dsize' traceback."""
    parts = text.lower().split("x")
    try:
        w, h = (int(v) for v in parts) if len(parts) == 2 else (None, None)
    except ValueError:
        w, h = None, None
    if w is None or h is None:
        raise argparse.ArgumentTypeError(f"expected WxH (e.g. 360x480), got {text!r}")
    if min(w, h) < MIN_SIDE or w % 2 or h % 2:
        raise argparse.ArgumentTypeError(f"width and height must be even integers >= {MIN_SIDE}, got {text!r}")
    return w, h


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int_at_least(1), default=600)
    ap.add_argument("--size", type=video_size, default="360x480", help="video WxH, even sides >= 16 (default 360x480)")
    ap.add_argument("--threads", type=int_at_least(1), default=2)
    ap.add_argument("--rounds", type=int_at_least(1), default=5)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    ap.add_argument("--name", default="predict_speed", help="stem of the JSON file written under --out")
    ap.add_argument("overrides", nargs="*", help="config overrides of the model, e.g. model.backbone=resnet50 "
                    "data.input_size=[192,256] (default: the demo's tiny CNN at 72x96)")
    a = ap.parse_args(argv)
    if (why := results_place_problem(a.out, a.name)) is not None:  # before the work, not after it
        ap.error(why)
    return run_main(lambda: measure_and_write(a), "nothing is saved (a measurement is all or nothing)", resume=False)


def measure_and_write(a: argparse.Namespace) -> int:
    """The measurement of the parsed options ``a``, written to ``<out>/<name>.json``."""
    torch.set_num_threads(a.threads)
    size = a.size
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run = make_run(root, a.overrides)
        video = make_video(root / "clip.mp4", root, a.frames, size)
        m = measure(run, video, root, a.frames, a.rounds)
    res = {
        "video": {"frames": a.frames, "size_wh": list(size), "codec": "h264"},
        "model": "demo config (tiny backbone, width 32, 72x96 input), strategy adaanchor"
                 + (f", with {' '.join(a.overrides)}" if a.overrides else ""),
        "threads": a.threads, "rounds": a.rounds, **m,
        "target_ratio": 0.8,
        "machine": machine_info(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / f"{a.name}.json", json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
