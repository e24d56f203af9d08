"""The commands of the ``adaanchor`` command line, one function each (``cmd_<name>``, given the parsed arguments):
each imports what it runs only when it runs, so that the command line starts fast."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..atomic import write_text_atomic
from ..configs import PACKAGED_CONFIGS
from ..errors import AdaAnchorError, write_failure


def _write_json(obj: Any, path: str | None) -> None:
    if not path:
        return
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        # Ending in a newline, as a text file does: `--json /dev/stdout` ran the next line onto the closing brace.
        write_text_atomic(p, json.dumps(obj, indent=2, default=_jsonable) + "\n")
    except OSError as e:
        raise AdaAnchorError(f"{p}: cannot write ({write_failure(e)})") from None
    print(f"wrote {p}")


def _jsonable(x: Any) -> Any:
    if hasattr(x, "tolist"):
        return x.tolist()
    return str(x)


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
CUSTOM_CONFIG = PACKAGED_CONFIGS / "custom.yaml"


def _config_or_custom(config: str | None, overrides: Sequence[str]) -> tuple[str, list[str]]:
    """``train``/``data stats`` without a config file: a first positional ``key=value`` is an override, and
    the packaged ``configs/custom.yaml`` is the config."""
    custom = config is not None and (config in ("custom", "custom.yaml") or Path(config).resolve() == CUSTOM_CONFIG)
    if config is not None and not custom and ("=" not in config or Path(config).is_file()):
        return config, list(overrides)
    items = list(overrides) if custom else [config, *overrides] if config is not None else list(overrides)
    # The config for your own data has no data of its own: without data.root it read the demo's generated
    # benchmark folder as a DeepLabCut project ("no DeepLabCut annotation table").
    if not any(str(it).startswith("data.root=") for it in items):
        start = "the config for your own data needs" if custom else "no config file: give one, or"
        raise AdaAnchorError(f"{start} data.root=PATH for your own data (with data.format=dlc, slp, nwb, yolo or "
                             "coco), e.g. adaanchor train data.format=dlc data.root=PROJECT")
    return str(CUSTOM_CONFIG), items


def _moved_run_dir(config: str, overrides: list[str]) -> list[str] | dict[str, Any]:
    """A run directory's own ``config.yaml`` (beside its ``config_history.yaml``) trains in that directory: its
    ``out_dir`` names where the run was first made, and a run directory moved or copied elsewhere then resumed
    from scratch at the old place (``resume=auto: no checkpoint in OLD``). An ``out_dir=`` given wins. The
    directory is set in the parsed overrides, not as ``out_dir=PATH`` text: YAML reads ``runs/mouse #2`` as
    ``runs/mouse`` (a comment) and ``runs/a: b`` as a mapping."""
    path = Path(config)
    if path.name != "config.yaml" or not (path.parent / "config_history.yaml").is_file():
        return overrides
    from ..config import parse_overrides, read_yaml, say_once

    parsed = parse_overrides(overrides)
    recorded = read_yaml(path).get("out_dir")
    here = path.parent.resolve()
    if "out_dir" in parsed or recorded is None or Path(str(recorded)).expanduser().resolve() == here:
        return overrides
    say_once(f"note: {path} is the config of the run directory {path.parent} (made as {recorded}): training there")
    return {**parsed, "out_dir": str(here)}


def cmd_demo(a: argparse.Namespace) -> int:
    if a.task in ("bottomup", "centre", "center"):
        if a.overrides or a.budget_minutes is not None:
            raise AdaAnchorError(f"demo --task {a.task} takes --out, --seed and --steps only")
        given = {k: v for k, v in (("out_dir", a.out), ("steps", a.steps)) if v is not None}
        if a.task == "bottomup":
            from ..demo_bottomup import run_bottomup_demo as run_multi
        else:
            from ..demo_centre import run_centre_demo as run_multi
        run_multi(seed=a.seed, **given)  # what is not given: the demo function's default
        return 0
    from ..demo import run_demo

    run_demo(budget_minutes=a.budget_minutes, seed=a.seed, overrides=a.overrides, steps=a.steps,
             **({"out_dir": a.out} if a.out is not None else {}))
    return 0


def cmd_train(a: argparse.Namespace) -> int:
    from ..config import build_config
    from ..config_files import packaged_keys
    from ..engine.train import train
    from ..strategies.inert import PACKAGED_KEYS

    try:
        config, overrides = _config_or_custom(a.config, a.overrides)
        cfg = build_config(config, _moved_run_dir(config, overrides))
    except AdaAnchorError as e:
        # Every rank of torchrun reads the same arguments and files, so each raises this error: said once.
        e.same_on_every_rank = True  # type: ignore[attr-defined]
        raise
    token = PACKAGED_KEYS.set(packaged_keys(config, overrides))  # no warning of what the user did not set
    try:
        summary = train(cfg)
    finally:
        PACKAGED_KEYS.reset(token)
    # Stopped at the time limit: 3, on every rank alike (torchrun itself exits with 1 then: train.status tells).
    status = 3 if summary.get("timed_out") else 0
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 reports
        return status
    m = summary["metrics"]
    start, steps = summary.get("start_step", 0), summary["steps"]
    # A resumed run trained the steps after its checkpoint, not all of them, in this run's time.
    done = (f"{steps} step{'s' * (steps != 1)}" if not start else f"steps {start + 1}-{steps} (resumed at step {start})" if start < steps
            else f"no step (the checkpoint is at step {start})")
    print(f"trained {done} in {summary['train_seconds']:.0f} s -> {summary['run_dir']}")
    at = summary.get("metrics_step")
    if m and at is not None and at != steps:  # a stop between evaluations: the table is not of the last weights
        print(f"the evaluation at step {at}, the last before the run stopped at step {steps}:")
    if m and "pck" not in m:  # a multi-person task: AP and recall
        from ..engine.multi import format_multi_eval

        print(format_multi_eval(cfg.strategy.name, m))
    elif m:
        from ..metrics.keypoint import error_by_visibility_table

        print(error_by_visibility_table({cfg.strategy.name: {**m, "AP": m.get("ap")}}))
        _warn_diverged(m, cfg)
    return status  # stopped at the time limit: resume=auto continues


def _warn_diverged(m: dict[str, Any], cfg: Any) -> None:
    """A mean error beyond the input's diagonal: no working model predicts that far (a diverged training ended
    with errors of 1e15 px, a table and exit 0, and nothing said)."""
    w, h = (float(v) for v in cfg.data.input_size)
    err, diag = m.get("vis_error"), (w * w + h * h) ** 0.5
    if err is not None and err == err and err > diag:
        print(f"warning: the visible keypoints' mean error ({err:.4g} px) is beyond the input's diagonal "
              f"({diag:.0f} px): the training diverged? (a lower train.lr, or train.grad_clip)", file=sys.stderr)


def _refuse_option_as_folder(out_dir: str, options: Mapping[str, Any], usage: str) -> None:
    """``out_dir`` that reads as one of ``options`` (``seed=7``) and is not an existing folder: the folder was left
    out, and writing to ``./seed=7`` with the option's default would go unnoticed."""
    key = out_dir.split("=", 1)[0] if "=" in out_dir else None
    if key in options and not Path(out_dir).is_dir():
        raise AdaAnchorError(f"'{out_dir}' is an option, not an output folder: {usage}")


def cmd_synth(a: argparse.Namespace) -> int:
    from ..bench.synth import SYNTH_DEFAULTS, visibility_counts, write_benchmark
    from ..config import parse_overrides

    _refuse_option_as_folder(a.out_dir, SYNTH_DEFAULTS, "adaanchor synth OUT_DIR [key=value ...]")
    opts = parse_overrides(a.overrides)
    paths = write_benchmark(a.out_dir, opts)
    for split in ("train", "val"):
        print(f"{split}: {paths[split]}  {visibility_counts(paths[split])}")
    return 0


def cmd_score(a: argparse.Namespace) -> int:
    from ..metrics.score import format_scores, score
    from .outputs import check_distinct_outputs

    check_distinct_outputs({"--json": a.json}, {"the ground truth": a.gt, "the results file": a.results,
                                                "the head boxes file": a.headboxes, "the spec": a.spec})
    res = score(a.gt, a.results, a.metric, fmt=a.fmt, spec=a.spec, headboxes=a.headboxes)
    print(format_scores(res))
    _write_json(res, a.json)
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    from ..export import export_command, format_export_report

    out, rest = a.out, list(a.overrides)
    if out is not None and "=" in out and not out.lower().endswith(".onnx"):  # `export RUN key=value`: no OUT
        out, rest = None, [out, *rest]
    ckpt, overrides = _split_ckpt(rest)
    print(format_export_report(export_command(a.target, out, overrides, ckpt, a.opset, a.check)))
    return 0


def cmd_viz(a: argparse.Namespace) -> int:
    from ..anchors_viz import split_image_args, visualize_command

    images, ckpt, overrides = split_image_args(a.items)
    skipped: list[str] = []
    notes: list[str] = []
    try:
        for p in visualize_command(a.target, images, a.out, overrides, ckpt, a.keypoints, every=a.every,
                                   max_frames=a.max_frames or None, skipped=skipped, orientation=a.orientation,
                                   notes=notes, boxes=a.boxes, gt=a.gt, min_det_score=a.min_det_score,
                                   box_category=a.box_category, device=a.device):
            print(f"wrote {p}")
    finally:  # also before an error: "nothing drawn" without the note that says why (scored below, ids unused)
        for n in notes:
            print(n, file=sys.stderr)
    if skipped:  # the others were drawn: exit 3, as predict
        print(f"skipped {len(skipped)} input(s):")
        print("\n".join(f"  {s}" for s in skipped))
        return 3
    return 0


def cmd_predict(a: argparse.Namespace) -> int:
    from ..anchors_viz import split_image_args
    from ..predict.command import format_summary, predict_command

    sources, ckpt, overrides = split_image_args(a.sources)
    if a.onnx and a.backend == "torch":  # the file was ignored, even a damaged one
        raise AdaAnchorError(f"--onnx {a.onnx} is the exported file of --backend onnx, not of --backend torch")
    backend = a.backend or ("onnx" if a.onnx else "torch")
    res = predict_command(a.run, sources, out=a.out, boxes=a.boxes, gt=a.gt, box_category=a.box_category,
                          category=a.category,
                          formats=a.format,
                          save_video=a.save_video, overlays=a.overlays, batch_size=a.batch_size, device=a.device,
                          backend=backend, ckpt=ckpt, overrides=overrides, progress=not a.quiet, onnx_path=a.onnx,
                          min_score=a.min_score, orientation=a.orientation, precision=a.precision)
    print(format_summary(res, Path(a.out)))
    return int(res["exit_code"])

