"""The ``adaanchor`` command line. Errors a user can cause print one line and exit with status 2."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import AdaAnchorError


def _write_json(obj: Any, path: str | None) -> None:
    if not path:
        return
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(obj, indent=2, default=_jsonable))
    except OSError as e:
        why = "a parent of it is a file, not a folder" if isinstance(e, (FileExistsError, NotADirectoryError)) else e.strerror
        raise AdaAnchorError(f"{p}: cannot write ({why})") from None
    print(f"wrote {p}")


def _jsonable(x: Any) -> Any:
    if hasattr(x, "tolist"):
        return x.tolist()
    return str(x)


def one_line(message: str) -> str:
    """A user error in one line. Errors re-raised by DataLoader workers carry the worker's traceback: keep
    only its last line, the original message."""
    lines = [ln for ln in message.strip().splitlines() if ln.strip()]
    if len(lines) <= 1:
        return message.strip()
    last = lines[-1].strip()
    for prefix in ("adaanchor.errors.DataError: ", "adaanchor.errors.AdaAnchorError: "):
        last = last.removeprefix(prefix)
    return last


def _split_ckpt(items: Sequence[str]) -> tuple[str | None, list[str]]:
    """``ckpt=PATH`` is not a config key: take it out of the overrides."""
    ckpt, rest = None, []
    for it in items:
        if it.startswith("ckpt="):
            ckpt = it.split("=", 1)[1]
        else:
            rest.append(it)
    return ckpt, rest


def cmd_demo(a: argparse.Namespace) -> int:
    if a.task == "bottomup":
        from .demo_bottomup import run_bottomup_demo

        if a.overrides or a.budget_minutes is not None:
            raise AdaAnchorError("demo --task bottomup takes --out, --seed and --steps only")
        run_bottomup_demo(out_dir=a.out if a.out != "runs/demo" else "runs/demo_bottomup", seed=a.seed,
                          steps=a.steps or 300)
        return 0
    from .demo import run_demo

    run_demo(out_dir=a.out, budget_minutes=a.budget_minutes, seed=a.seed, overrides=a.overrides, steps=a.steps)
    return 0


def cmd_train(a: argparse.Namespace) -> int:
    from .config import build_config
    from .engine.train import train

    cfg = build_config(a.config, a.overrides)
    summary = train(cfg)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 reports
        return 0
    m = summary["metrics"]
    print(f"trained {summary['steps']} steps in {summary['train_seconds']:.0f} s -> {summary['run_dir']}")
    if m:
        from .metrics.keypoint import error_by_visibility_table

        print(error_by_visibility_table({cfg.strategy.name: {**m, "AP": m.get("ap")}}))
    return 0


def cmd_eval(a: argparse.Namespace) -> int:
    from .data.build import build_dataset
    from .engine.run import load_for_eval, resolve_run
    from .engine.train import evaluate_model
    from .metrics.keypoint import error_by_visibility_table

    ckpt, overrides = _split_ckpt(a.overrides)
    cfg, ckpt_path = resolve_run(a.target, ckpt, overrides)
    if ckpt_path is None:
        print("warning: no checkpoint found: evaluating randomly initialised weights", file=sys.stderr)
    model, strategy, info = load_for_eval(cfg, ckpt_path)
    ds = build_dataset(cfg.data, "val", train=False)
    m = evaluate_model(model, strategy, cfg, ds, "cpu", progress=True)
    m["checkpoint"] = info["checkpoint"]
    print(error_by_visibility_table({cfg.strategy.name: {**m, "AP": m.get("ap")}}))
    if m.get("nme") is not None:
        pct = lambda v: "N/A" if v is None else f"{100 * v:.2f}%"  # noqa: E731
        print(f"NME {pct(m['nme'])} (visible {pct(m['nme_vis'])}, occluded {pct(m['nme_inv'])}), FR@0.1 {pct(m['fr'])}")
    _write_json(m, a.json)
    return 0


def cmd_synth(a: argparse.Namespace) -> int:
    from .config import parse_overrides
    from .data.synth import visibility_counts, write_benchmark

    opts = parse_overrides(a.overrides)
    paths = write_benchmark(a.out_dir, opts)
    for split in ("train", "val"):
        print(f"{split}: {paths[split]}  {visibility_counts(paths[split])}")
    return 0


def cmd_score(a: argparse.Namespace) -> int:
    from .metrics.score import format_scores, score

    res = score(a.gt, a.results, a.metric, fmt=a.fmt, spec=a.spec, headboxes=a.headboxes)
    print(format_scores(res))
    _write_json(res, a.json)
    return 0


def cmd_data_stats(a: argparse.Namespace) -> int:
    from .config import build_config
    from .data.stats import dataset_stats, format_stats

    cfg = build_config(a.config, a.overrides)
    print(format_stats(dataset_stats(cfg.data)))
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    from .export import export_command, format_export_report

    ckpt, overrides = _split_ckpt(a.overrides)
    print(format_export_report(export_command(a.target, a.out, overrides, ckpt, a.opset, a.check)))
    return 0


def cmd_viz(a: argparse.Namespace) -> int:
    from .anchors_viz import split_image_args, visualize_command

    images, ckpt, overrides = split_image_args(a.items)
    for p in visualize_command(a.target, images, a.out, overrides, ckpt, a.keypoints):
        print(f"wrote {p}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="adaanchor", description="Adaptive anchors for robust keypoint localization.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="the occlusion benchmark: regression, heatmap, fixanchor and adaanchor, same budget")
    d.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    d.add_argument("--budget-minutes", type=float, help="derive the step count from a time budget for the four methods' "
                   "training (default: a fixed 400 steps each, about 6 minutes on 2 CPU cores)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--task", choices=("single", "bottomup"), default="single",
                   help="single: the occlusion benchmark (default); bottomup: associative embedding with heatmap, "
                   "fixanchor and adaanchor on the crowd-figures benchmark (output default runs/demo_bottomup)")
    d.add_argument("--steps", type=int, help="training steps per method (default 400; 300 with --task bottomup)")
    d.add_argument("overrides", nargs="*", help="config overrides key=value applied to every method")
    d.set_defaults(func=cmd_demo)

    t = sub.add_parser("train", help="train from a config file")
    t.add_argument("config")
    t.add_argument("overrides", nargs="*", help="key=value, e.g. strategy.name=heatmap train.epochs=5")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="evaluate a run directory or config (ckpt=PATH to pick a checkpoint)")
    e.add_argument("target", help="run directory or config file")
    e.add_argument("overrides", nargs="*")
    e.add_argument("--json", help="write the metrics here")
    e.set_defaults(func=cmd_eval)

    s = sub.add_parser("synth", help="write the built-in occlusion benchmark as COCO JSON plus images")
    s.add_argument("out_dir")
    s.add_argument("overrides", nargs="*", help="generator options, e.g. n_train=1000 occluders=[0,4]")
    s.set_defaults(func=cmd_synth)

    sc = sub.add_parser("score", help="score a COCO-style results file against ground truth")
    sc.add_argument("gt")
    sc.add_argument("results")
    sc.add_argument("--metric", choices=("coco", "crowdpose", "pckh", "nme"), required=True)
    sc.add_argument("--fmt", help="ground-truth format (default: inferred from the metric and file)")
    sc.add_argument("--spec", help="keypoint spec name or YAML (default: the format's own)")
    sc.add_argument("--headboxes", help="MPII: head boxes file (mpii_gt_val.mat-style) for the official PCKh")
    sc.add_argument("--json")
    sc.set_defaults(func=cmd_score)

    x = sub.add_parser("export", help="export model + decoding to ONNX and check it in onnxruntime (ckpt=PATH to pick a checkpoint)")
    x.add_argument("target", help="run directory or config file")
    x.add_argument("out", help="the .onnx file to write")
    x.add_argument("overrides", nargs="*", help="ckpt=PATH and key=value config overrides")
    x.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the dynamo exporter's; below 18: the TorchScript exporter)")
    x.add_argument("--no-check", dest="check", action="store_false", help="skip the onnxruntime comparison and latency")
    x.set_defaults(func=cmd_export)

    v = sub.add_parser("viz", help="predictions, anchors and confidence map on image files, one PNG each")
    v.add_argument("target", help="run directory or config file")
    v.add_argument("items", nargs="+", metavar="IMAGE", help="image files, then optional ckpt=PATH and key=value overrides")
    v.add_argument("--out", required=True, help="output folder")
    v.add_argument("--keypoints", nargs="+", metavar="NAME", help="keypoint types for the anchors and the confidence map (default: all)")
    v.set_defaults(func=cmd_viz)

    da = sub.add_parser("data", help="dataset tools")
    dsub = da.add_subparsers(dest="data_command", required=True)
    st = dsub.add_parser("stats", help="counts by visibility and every problem found")
    st.add_argument("config")
    st.add_argument("overrides", nargs="*")
    st.set_defaults(func=cmd_data_stats)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except AdaAnchorError as e:
        print(f"error: {one_line(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
