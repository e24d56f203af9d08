"""The ``adaanchor`` command line's parser: one ``_add_*`` function per command; the commands are in
:mod:`.commands`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from .argtypes import (
    BOX_CATEGORY_HELP,
    DEVICE_HELP,
    box_category,
    device_arg,
    finite,
    format_arg,
    int_at_least,
    seed_arg,
)
from .commands import (
    cmd_demo,
    cmd_export,
    cmd_predict,
    cmd_score,
    cmd_synth,
    cmd_train,
    cmd_viz,
)
from .data_command import cmd_data_stats
from .eval_command import cmd_eval


def version_line() -> str:
    """``adaanchor X[, commit C[ modified]] (torch Y, timm Z, Python W)``: what a bug report needs
    (:func:`adaanchor.versions.versions`; the commit when the package runs from a git checkout)."""
    from ..versions import versions

    v = versions()
    commit = f", commit {v['commit'][:12]}{' modified' if v['commit'].endswith('(modified)') else ''}" \
        if "commit" in v else ""
    return f"adaanchor {v['adaanchor']}{commit} (torch {v['torch']}, timm {v['timm']}, Python {v['python']})"


class _VersionAction(argparse.Action):
    """``--version``: :func:`version_line`, computed only when asked for (reading the packages' metadata costs about
    30 ms, which every other command would pay at start-up if the line were built with the parser)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        print(version_line())
        parser.exit()


_Subparsers = argparse._SubParsersAction  # what add_subparsers returns


def build_parser() -> argparse.ArgumentParser:
    """The ``adaanchor`` parser: one subcommand each, its handler in ``args.func``."""
    p = argparse.ArgumentParser(prog="adaanchor", description="Adaptive anchors for robust keypoint localization.")
    p.add_argument("--version", action=_VersionAction,
                   help="the package (and its commit, from a git checkout), torch, timm and Python versions")
    sub = p.add_subparsers(dest="command", required=True)
    for add in (_add_demo, _add_train, _add_eval, _add_synth, _add_score, _add_export, _add_viz, _add_predict,
                _add_data):  # in the order of the help's command list
        add(sub)
    return p


def _add_demo(sub: _Subparsers) -> None:
    """``adaanchor demo``: the methods compared on a built-in benchmark."""
    d = sub.add_parser("demo", help="the occlusion benchmark: regression, heatmap, fixanchor, adaanchor and localanchor, same budget")
    d.add_argument("--out", help="output folder (default runs/demo; --task bottomup: runs/demo_bottomup, "
                   "centre: runs/demo_centre)")
    length = d.add_mutually_exclusive_group()
    length.add_argument("--budget-minutes", type=float, help="derive the step count from a time budget "
                        "(minutes, > 0) for the five methods' training (default: a fixed 400 steps each, about "
                        "3 minutes on 2 CPU cores, 4 when the images are first generated)")
    length.add_argument("--steps", type=int, help="training steps per method, >= 1 (default 400; --task bottomup or centre: 1200)")
    d.add_argument("--seed", type=seed_arg, default=0, help="training seed of every method, 0 to 2^32-1 (default 0)")
    # "centre" as the config's task=centre spells it; "center" kept as the earlier spelling.
    d.add_argument("--task", choices=("single", "bottomup", "centre", "center"), default="single",
                   help="single: the occlusion benchmark (default); bottomup: associative embedding with heatmap, "
                   "fixanchor and adaanchor on the crowd-figures benchmark (output default runs/demo_bottomup); "
                   "centre (or center): single-stage DEKR-style pose with the person centre located by each of them "
                   "(output default runs/demo_centre)")
    d.add_argument("overrides", nargs="*", default=[], help="config overrides key=value applied to every method (--task single only: the multi-person demos take none)")
    d.set_defaults(func=cmd_demo)


def _add_train(sub: _Subparsers) -> None:
    """``adaanchor train``."""
    t = sub.add_parser("train", help="train from a config file (none: configs/custom.yaml, for your own data)")
    t.add_argument("config", nargs="?", help="a YAML config file or a packaged name (demo, custom, bottomup_crowd, "
                   "coco/adaanchor_res50_256x192, ...); leave out to train on your own data with the packaged "
                   "custom.yaml, e.g. adaanchor train data.format=dlc data.root=PROJECT (exit 3: stopped at "
                   "train.time_limit_s)")
    t.add_argument("overrides", nargs="*", default=[], help="key=value, e.g. strategy.name=heatmap train.epochs=5")
    t.set_defaults(func=cmd_train)


def _add_eval(sub: _Subparsers) -> None:
    """``adaanchor eval``."""
    e = sub.add_parser("eval", help="evaluate a run directory or config (ckpt=PATH to pick a checkpoint)")
    e.add_argument("target", help="run directory (its checkpoints/best.pt, else last.pt), a checkpoint in one, or a config file")
    e.add_argument("overrides", nargs="*", default=[], help="ckpt=PATH and key=value config overrides, e.g. "
                   "eval.batch_size=64 data.val=other.json")
    e.add_argument("--json", help="write the metrics here")
    e.add_argument("--predictions", metavar="PATH", help="write every prediction here as COCO keypoint results JSON "
                   "(original-image pixels, with ann_id; accepted by adaanchor score)")
    e.add_argument("--plot", metavar="PATH", help="top-down runs: draw the error of each keypoint type and the error "
                   "by confidence (visible and invisible keypoints) into this image (PNG, PDF, SVG)")
    e.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                   help="fp32 (default), or bf16: the backbone in bfloat16 and the heads in float32, as predict's")
    e.add_argument("--device", type=device_arg, default="auto", help=DEVICE_HELP)
    e.set_defaults(func=cmd_eval)


def _add_synth(sub: _Subparsers) -> None:
    """``adaanchor synth``."""
    s = sub.add_parser("synth", help="write the built-in occlusion benchmark as COCO JSON plus images")
    s.add_argument("out_dir", help="folder to write train.json, val.json, manifest.json and images/ into")
    s.add_argument("overrides", nargs="*", default=[], help="generator options, e.g. n_train=1000 occluders=[0,4]")
    s.set_defaults(func=cmd_synth)


def _add_score(sub: _Subparsers) -> None:
    """``adaanchor score``."""
    sc = sub.add_parser("score", help="score a COCO-style results file against ground truth")
    sc.add_argument("gt", help="ground-truth annotation file")
    sc.add_argument("results", help="COCO-style keypoint results JSON (what predict and eval --predictions write)")
    sc.add_argument("--metric", choices=("coco", "crowdpose", "pckh", "nme"), required=True,
                    help="coco: OKS AP; crowdpose: AP with easy/medium/hard; pckh: MPII's PCKh; nme: normalised mean "
                    "error (faces)")
    sc.add_argument("--gt-format", "--fmt", dest="fmt", metavar="FORMAT",
                    help="ground-truth format, a data.format name (coco, mpii, mpii_mat, wflw, crowdpose, csv, ...; "
                    "default: inferred from the metric and file); --fmt is its older name")
    sc.add_argument("--spec", help="keypoint spec name or YAML (default: the format's own)")
    sc.add_argument("--headboxes", help="MPII: head boxes file (mpii_gt_val.mat-style) for the official PCKh")
    sc.add_argument("--json", help="write the metrics here")
    sc.set_defaults(func=cmd_score)


def _add_export(sub: _Subparsers) -> None:
    """``adaanchor export``."""
    x = sub.add_parser("export", help="export model + decoding to ONNX and check it in onnxruntime (ckpt=PATH to pick a checkpoint)")
    x.add_argument("target", help="run directory (its checkpoints/best.pt, else last.pt), a checkpoint in one, or a config file")
    x.add_argument("out", nargs="?", help="the .onnx file to write (default RUN/export/<checkpoint>.onnx, the file "
                   "predict --backend onnx reads; a first argument with '=' that does not end in .onnx is an override)")
    x.add_argument("overrides", nargs="*", default=[], help="ckpt=PATH and key=value config overrides")
    x.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the dynamo exporter's; below 18: the "
                   "TorchScript exporter; the anchor strategies' refinement needs 16 or later)")
    x.add_argument("--no-check", dest="check", action="store_false", help="skip the onnxruntime comparison and latency (a model with NaN outputs is still refused)")
    x.set_defaults(func=cmd_export)


def _add_viz(sub: _Subparsers) -> None:
    """``adaanchor viz``."""
    v = sub.add_parser("viz", help="predictions, anchors and confidence map on images or video frames, one PNG each")
    v.add_argument("target", help="run directory (its checkpoints/best.pt, else last.pt), a checkpoint in one, or a config file" + " (exit 3: some inputs skipped)")
    v.add_argument("items", nargs="+", metavar="IMAGE", help="image files, videos, folders or glob patterns, then optional "
                   "ckpt=PATH and key=value overrides")
    v.add_argument("--out", required=True, help="output folder")
    v.add_argument("--keypoints", nargs="+", metavar="NAME", help="keypoint types for the anchors and the confidence map (default: all)")
    v.add_argument("--every", type=int_at_least(1), default=1, metavar="N", help="videos: draw every N-th frame (default 1)")
    v.add_argument("--max-frames", type=int_at_least(0), default=100, metavar="N", help="videos: at most N frames each (default 100; 0: all; with --boxes: N frames with a detection)")
    v.add_argument("--boxes", metavar="FILE", help="COCO detections JSON: draw each box's instance, cropped as a "
                   "box-trained run (data.crop=box) was trained, one PNG per box (videos: image_id = frame index)")
    v.add_argument("--gt", metavar="FILE", help="COCO-style JSON whose images give the image ids of the image inputs "
                   "(with --boxes; default: integer file stems)")
    v.add_argument("--box-category", type=box_category, default="auto", metavar="C",
                   help=BOX_CATEGORY_HELP)
    v.add_argument("--min-det-score", type=finite, default=0.0, metavar="S",
                   help="with --boxes: draw the detections scored at least S (default 0: all)")
    v.add_argument("--orientation", choices=("displayed", "stored"), default="displayed",
                   help="displayed: turn images by their EXIF orientation and videos by their rotation, as a viewer "
                   "shows them (default); stored: the pixels as the file stores them")
    v.add_argument("--device", type=device_arg, default="auto", help=DEVICE_HELP)
    v.set_defaults(func=cmd_viz)


def _add_predict(sub: _Subparsers) -> None:
    """``adaanchor predict``."""
    pr = sub.add_parser("predict", help="keypoints on images, folders, globs or videos: COCO JSON, DeepLabCut CSV, "
                        ".slp, .nwb, overlays (exit 0: all read, 3: some inputs skipped, 2: error, 143: stopped by "
                        "SIGTERM, the files complete up to that frame)")
    pr.add_argument("run", help="run directory, a checkpoint in one, or a config file")
    pr.add_argument("sources", nargs="+", metavar="SOURCE", help="image files, folders, glob patterns ('*.png') or videos, "
                    "then optional ckpt=PATH and key=value overrides")
    pr.add_argument("--out", default="predictions", help="output folder (default predictions)")
    pr.add_argument("--boxes", help="COCO detections JSON: predict top-down in these boxes (videos: image_id = frame index)")
    pr.add_argument("--gt", help="COCO-style JSON whose images give the image ids of the image inputs")
    pr.add_argument("--box-category", type=box_category, default="auto", metavar="C", help=BOX_CATEGORY_HELP)
    pr.add_argument("--category", type=int_at_least(0), default=None, metavar="ID",
                    help="the category_id of the COCO results (default: the detections' one category, else --gt's "
                    "category with keypoints, else 1)")
    pr.add_argument("--format", action="append", type=format_arg, metavar="FMT", help="coco (= json), csv (= dlc), slp (= sleap) or nwb; repeat or comma-separate "
                    "(default coco,csv)")
    pr.add_argument("--save-video", action="store_true", help="write a labelled video V_labeled.mp4 for each video V")
    pr.add_argument("--no-overlays", dest="overlays", action="store_false", help="no overlay PNGs for image inputs")
    pr.add_argument("--min-score", type=finite, default=0.0, metavar="S",
                    help="overlays and labelled videos draw the instances scored at least S, in [0, 1] (the mean "
                    "keypoint confidence times the box score; a multi-person run's pose score; default 0: all); the "
                    "prediction files keep every instance")
    pr.add_argument("--batch-size", type=int_at_least(1), default=16, metavar="N",
                    help="images (top-down: instances) per forward pass (default 16)")
    pr.add_argument("--device", type=device_arg, default="auto", help=DEVICE_HELP)
    pr.add_argument("--backend", choices=("torch", "onnx"), default=None,
                    help="torch (default) or onnx: the exported graph in onnxruntime")
    pr.add_argument("--onnx", help="the exported file for the onnx backend (implies --backend onnx; default "
                    "RUN/export/<ckpt>.onnx; a file not there yet is exported there first)")
    pr.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                    help="fp32 (default), or bf16: the backbone in bfloat16 and the heads in float32 (a ResNet-50 in "
                    "0.3-0.45 of the time on a CPU with AMX; CPUs without bfloat16 units refuse it; torch backend)")
    pr.add_argument("--orientation", choices=("displayed", "stored"), default="displayed",
                    help="displayed: turn images by their EXIF orientation and videos by their rotation, as a viewer "
                    "shows them (default); stored: the pixels as the file stores them")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")
    pr.set_defaults(func=cmd_predict)


def _add_data(sub: _Subparsers) -> None:
    """``adaanchor data`` and its own subcommands (``stats``)."""
    da = sub.add_parser("data", help="dataset tools")
    dsub = da.add_subparsers(dest="data_command", metavar="{stats}", required=True)
    st = dsub.add_parser("stats", help="counts by visibility and every problem found (exit 0: training reads the data "
                         "as it is; 1: it would stop at a listed problem, data.skip_invalid=true skips them; 2: error, "
                         "or nothing usable)")
    st.add_argument("config", nargs="?", help="a YAML config file or a packaged name (none: the packaged custom.yaml, "
                    "as for train)")
    st.add_argument("overrides", nargs="*", default=[], help="key=value, e.g. data.format=dlc data.root=PROJECT")
    st.set_defaults(func=cmd_data_stats)
