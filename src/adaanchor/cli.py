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


def version_line() -> str:
    """``adaanchor X (torch Y, timm Z, Python W)``: what a bug report needs, read from the installed packages'
    metadata (importing torch only to print its version would slow every command's start)."""
    import platform
    from importlib import metadata

    from . import __version__

    def installed(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return (f"adaanchor {__version__} (torch {installed('torch')}, timm {installed('timm')}, "
            f"Python {platform.python_version()})")


class _VersionAction(argparse.Action):
    """``--version``: :func:`version_line`, computed only when asked for (reading the packages' metadata costs about
    30 ms, which every other command would pay at start-up if the line were built with the parser)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        print(version_line())
        parser.exit()


def _split_ckpt(items: Sequence[str]) -> tuple[str | None, list[str]]:
    """``ckpt=PATH`` is not a config key: take it out of the overrides."""
    ckpt, rest = None, []
    for it in items:
        if it.startswith("ckpt="):
            ckpt = it.split("=", 1)[1]
        else:
            rest.append(it)
    return ckpt, rest


#: The config used when none is given: your own data (docs/deeplabcut.md).
CUSTOM_CONFIG = Path(__file__).resolve().parent / "configs" / "custom.yaml"


def _config_or_custom(config: str | None, overrides: Sequence[str]) -> tuple[str, list[str]]:
    """``train``/``data stats`` without a config file: a first positional ``key=value`` is an override, and
    the packaged ``configs/custom.yaml`` is the config."""
    if config is not None and ("=" not in config or Path(config).is_file()):
        return config, list(overrides)
    items = [config, *overrides] if config is not None else list(overrides)
    if not any(it.startswith("data.root=") for it in items):
        raise AdaAnchorError("no config file: give one, or data.root=PATH for your own data (with data.format=dlc "
                             "or slp), e.g. adaanchor train data.format=dlc data.root=PROJECT")
    return str(CUSTOM_CONFIG), items


def cmd_demo(a: argparse.Namespace) -> int:
    if a.task in ("bottomup", "center"):
        if a.overrides or a.budget_minutes is not None:
            raise AdaAnchorError(f"demo --task {a.task} takes --out, --seed and --steps only")
        if a.task == "bottomup":
            from .demo_bottomup import run_bottomup_demo as run_multi
        else:
            from .demo_centre import run_centre_demo as run_multi
        default_out = "runs/demo_bottomup" if a.task == "bottomup" else "runs/demo_centre"
        run_multi(out_dir=a.out if a.out != "runs/demo" else default_out, seed=a.seed,
                  **({"steps": a.steps} if a.steps else {}))  # default: the demo function's
        return 0
    from .demo import run_demo

    run_demo(out_dir=a.out, budget_minutes=a.budget_minutes, seed=a.seed, overrides=a.overrides, steps=a.steps)
    return 0


def cmd_train(a: argparse.Namespace) -> int:
    from .config import build_config
    from .engine.train import train

    cfg = build_config(*_config_or_custom(a.config, a.overrides))
    summary = train(cfg)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 reports
        return 0
    m = summary["metrics"]
    print(f"trained {summary['steps']} steps in {summary['train_seconds']:.0f} s -> {summary['run_dir']}")
    if m and "pck" not in m:  # a multi-person task: AP and recall
        from .engine.multi import format_multi_eval

        print(format_multi_eval(cfg.strategy.name, m))
    elif m:
        from .metrics.keypoint import error_by_visibility_table

        print(error_by_visibility_table({cfg.strategy.name: {**m, "AP": m.get("ap")}}))
    return 0


def cmd_eval(a: argparse.Namespace) -> int:
    from .data.build import build_dataset
    from .engine.evaluate import coco_results, evaluate_dataset
    from .engine.run import is_multi_person, load_for_eval, resolve_run
    from .metrics.coco import write_results
    from .predict.backends import resolve_device

    ckpt, overrides = _split_ckpt(a.overrides)
    cfg, ckpt_path = resolve_run(a.target, ckpt, overrides)
    if ckpt_path is None:
        print("warning: no checkpoint found: evaluating randomly initialised weights", file=sys.stderr)
    device = resolve_device(a.device)
    model, strategy, info = load_for_eval(cfg, ckpt_path, device)
    if is_multi_person(cfg):  # AP family, recall and the gamma sweep (docs/multi-person.md)
        from .engine.multi import eval_multi_command

        _write_json(eval_multi_command(cfg, model, strategy, info, a.predictions, device), a.json)
        return 0
    ds = build_dataset(cfg.data, "val", train=False)
    m, preds = evaluate_dataset(model, strategy, cfg, ds, device, progress=True)
    m["checkpoint"] = info["checkpoint"]
    print(format_eval(cfg.strategy.name, m))
    if a.predictions:
        res = coco_results(preds)
        try:
            write_results(res, a.predictions)
        except OSError as e:
            why = "a parent of it is a file, not a folder" if isinstance(e, (FileExistsError, NotADirectoryError)) else e.strerror
            raise AdaAnchorError(f"{a.predictions}: cannot write the predictions ({why})") from None
        left = len(preds["image_id"]) - len(res)
        print(f"wrote {a.predictions} ({len(res)} predictions, COCO results"
              + (f"; {left} non-finite left out)" if left else ")"))
    _write_json(m, a.json)
    return 0


def format_eval(method: str, m: dict[str, Any]) -> str:
    """The text of ``adaanchor eval``: the paper's table (input pixels), the errors in original-image
    pixels, the invisible error inside / outside the image, the per-keypoint table, NME and the misses."""
    from .metrics.keypoint import error_by_visibility_table, per_keypoint_table

    f = lambda v: "N/A" if v is None else f"{v:.2f}"  # noqa: E731
    lines = [error_by_visibility_table({method: {**m, "AP": m.get("ap")}}), ""]
    ci = m.get("counts_inv") or {}
    lines.append(f"errors in input px: visible {f(m.get('vis_error'))}, invisible {f(m.get('inv_error'))} "
                 f"(occluded in image {f(m.get('inv_error_in'))}, n={ci.get('in', 0)}; outside image "
                 f"{f(m.get('inv_error_out'))}, n={ci.get('out', 0)})")
    lines.append(f"errors in original-image px: visible {f(m.get('vis_error_orig'))}, invisible "
                 f"{f(m.get('inv_error_orig'))} (occluded in image {f(m.get('inv_error_in_orig'))}; outside image "
                 f"{f(m.get('inv_error_out_orig'))})")
    if m.get("per_keypoint"):
        lines += ["", per_keypoint_table(m["per_keypoint"], m.get("per_keypoint_orig") or {})]
    if "nme" in m:
        pct = lambda v: "N/A" if v is None else f"{100 * v:.2f}%"  # noqa: E731
        lines += ["", f"NME {pct(m['nme'])} (visible {pct(m['nme_vis'])}, occluded {pct(m['nme_inv'])}), "
                  f"FR@0.1 {pct(m['fr'])}"]
    nf = m.get("nonfinite") or {}
    if nf.get("instances"):
        lines += ["", f"non-finite predictions: {nf['instances']} instance(s), {nf['vis']} visible and {nf['inv']} "
                  "invisible keypoints, counted as misses"]
    return "\n".join(lines)


def cmd_synth(a: argparse.Namespace) -> int:
    from .bench.synth import visibility_counts, write_benchmark
    from .config import parse_overrides

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

    cfg = build_config(*_config_or_custom(a.config, a.overrides))
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
    for p in visualize_command(a.target, images, a.out, overrides, ckpt, a.keypoints, every=a.every,
                               max_frames=a.max_frames or None):
        print(f"wrote {p}")
    return 0


def cmd_predict(a: argparse.Namespace) -> int:
    from .anchors_viz import split_image_args
    from .predict.command import format_summary, predict_command

    sources, ckpt, overrides = split_image_args(a.sources)
    res = predict_command(a.run, sources, out=a.out, boxes=a.boxes, gt=a.gt, formats=a.format,
                          save_video=a.save_video, overlays=a.overlays, batch_size=a.batch_size, device=a.device,
                          backend=a.backend, ckpt=ckpt, overrides=overrides, progress=not a.quiet, onnx_path=a.onnx)
    print(format_summary(res, Path(a.out)))
    return int(res["exit_code"])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="adaanchor", description="Adaptive anchors for robust keypoint localization.")
    p.add_argument("--version", action=_VersionAction, help="the package, torch, timm and Python versions")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="the occlusion benchmark: regression, heatmap, fixanchor, adaanchor and localanchor, same budget")
    d.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    length = d.add_mutually_exclusive_group()
    length.add_argument("--budget-minutes", type=float, help="derive the step count from a time budget "
                        "(minutes, > 0) for the five methods' training (default: a fixed 400 steps each, about "
                        "6 minutes on 2 CPU cores)")
    length.add_argument("--steps", type=int, help="training steps per method, >= 1 (default 400; --task bottomup or center: 1200)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--task", choices=("single", "bottomup", "center"), default="single",
                   help="single: the occlusion benchmark (default); bottomup: associative embedding with heatmap, "
                   "fixanchor and adaanchor on the crowd-figures benchmark (output default runs/demo_bottomup); "
                   "center: single-stage DEKR-style pose with the person centre located by each of them "
                   "(output default runs/demo_centre)")
    d.add_argument("overrides", nargs="*", help="config overrides key=value applied to every method")
    d.set_defaults(func=cmd_demo)

    t = sub.add_parser("train", help="train from a config file (none: configs/custom.yaml, for your own data)")
    t.add_argument("config", nargs="?", help="config file; leave out to train on your own data with the "
                   "packaged custom.yaml, e.g. adaanchor train data.format=dlc data.root=PROJECT")
    t.add_argument("overrides", nargs="*", help="key=value, e.g. strategy.name=heatmap train.epochs=5")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="evaluate a run directory or config (ckpt=PATH to pick a checkpoint)")
    e.add_argument("target", help="run directory or config file")
    e.add_argument("overrides", nargs="*")
    e.add_argument("--json", help="write the metrics here")
    e.add_argument("--predictions", metavar="PATH", help="write every prediction here as COCO keypoint results JSON "
                   "(original-image pixels, with ann_id; accepted by adaanchor score)")
    e.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda:0, ...")
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

    v = sub.add_parser("viz", help="predictions, anchors and confidence map on images or video frames, one PNG each")
    v.add_argument("target", help="run directory or config file")
    v.add_argument("items", nargs="+", metavar="IMAGE", help="image files, videos, folders or glob patterns, then optional "
                   "ckpt=PATH and key=value overrides")
    v.add_argument("--out", required=True, help="output folder")
    v.add_argument("--keypoints", nargs="+", metavar="NAME", help="keypoint types for the anchors and the confidence map (default: all)")
    v.add_argument("--every", type=int, default=1, metavar="N", help="videos: draw every N-th frame (default 1)")
    v.add_argument("--max-frames", type=int, default=100, metavar="N", help="videos: at most N frames each (default 100; 0: all)")
    v.set_defaults(func=cmd_viz)

    pr = sub.add_parser("predict", help="keypoints on images, folders, globs or videos: COCO JSON, DeepLabCut CSV, "
                        ".slp, overlays (exit 0: all read, 3: some inputs skipped, 2: error)")
    pr.add_argument("run", help="run directory, a checkpoint in one, or a config file")
    pr.add_argument("sources", nargs="+", metavar="SOURCE", help="image files, folders, glob patterns ('*.png') or videos, "
                    "then optional ckpt=PATH and key=value overrides")
    pr.add_argument("--out", default="predictions", help="output folder (default predictions)")
    pr.add_argument("--boxes", help="COCO detections JSON: predict top-down in these boxes (videos: image_id = frame index)")
    pr.add_argument("--gt", help="COCO-style JSON whose images give the image ids of the image inputs")
    pr.add_argument("--format", action="append", metavar="FMT", help="coco, csv (= dlc) or slp; repeat or comma-separate "
                    "(default coco,csv)")
    pr.add_argument("--save-video", action="store_true", help="write a labelled video V_labeled.mp4 for each video V")
    pr.add_argument("--no-overlays", dest="overlays", action="store_false", help="no overlay PNGs for image inputs")
    pr.add_argument("--batch-size", type=int, default=16)
    pr.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda:0, ...")
    pr.add_argument("--backend", choices=("torch", "onnx"), default="torch")
    pr.add_argument("--onnx", help="with --backend onnx: the exported file to use (default RUN/export/<ckpt>.onnx)")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")
    pr.set_defaults(func=cmd_predict)

    da = sub.add_parser("data", help="dataset tools")
    dsub = da.add_subparsers(dest="data_command", required=True)
    st = dsub.add_parser("stats", help="counts by visibility and every problem found")
    st.add_argument("config", nargs="?", help="config file (none: the packaged custom.yaml, as for train)")
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
