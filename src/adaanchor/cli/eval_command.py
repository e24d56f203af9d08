"""``adaanchor eval``: a run's checkpoint scored on its evaluation split, and the text it prints
(:func:`format_eval`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import AdaAnchorError
from .commands import _split_ckpt, _write_json


def cmd_eval(a: argparse.Namespace) -> int:
    from ..data.build import build_dataset
    from ..engine.evaluate import coco_results, evaluate_dataset
    from ..engine.run import is_multi_person, load_for_eval, resolve_run
    from ..engine.split_record import recorded_val, run_dir_of
    from ..metrics.coco import write_results
    from ..models.precision import check_precision, with_precision
    from ..predict.backends import resolve_device
    from .outputs import check_distinct_outputs, check_eval_outputs

    check_eval_outputs(a.predictions, a.plot)  # before the evaluation: a photo was overwritten, a bad --plot failed after
    ckpt, overrides = _split_ckpt(a.overrides)
    # need_weights: random weights' scores, exit 0, were no evaluation; predict and export refuse them too
    cfg, ckpt_path = resolve_run(a.target, ckpt, overrides, need_weights=True)
    check_distinct_outputs({"--json": a.json, "--predictions": a.predictions, "--plot": a.plot},
                           eval_inputs(cfg, a.target, ckpt_path, run_dir_of(a.target)))
    device = resolve_device(a.device)
    if a.plot and is_multi_person(cfg):  # before the model loads
        raise AdaAnchorError(f"--plot draws a top-down run's errors by keypoint type; {a.target} is a multi-person run "
                             f"(task={cfg.task}): its AP and recall are in eval's output and --json")
    check_precision(a.precision, device)
    model, strategy, info = load_for_eval(cfg, ckpt_path, device)
    # Which weights: best.pt by default, which early in a multi-person training may be the first evaluation's.
    flip = bool(cfg.eval.get("flip_test"))  # said and recorded: the two settings' scores differ
    rules = {k: str(cfg.eval.get(k, "mean")) for k in ("flip_offsets", "flip_conf")}
    said = ", ".join(f"{k}={v}" for k, v in rules.items() if v != "mean")
    print(f"checkpoint: {info['checkpoint']}" + (f" (step {info['step']})" if info.get("step", -1) >= 0 else "")
          + ("; with the flip test" if flip else "") + (f" ({said})" if flip and said else ""))
    _note_training_now(a.target)
    model = with_precision(model, a.precision)
    # A run's split.json: the val images it was scored on, whatever the split drawn from the data now (a frame added)
    with recorded_val(run_dir_of(a.target)):
        if is_multi_person(cfg):  # AP family, recall and the gamma sweep (docs/multi-person.md)
            from ..engine.multi import eval_multi_command

            m = eval_multi_command(cfg, model, strategy, info, a.predictions, device)
            _write_json({**m, "flip_test": flip, **(rules if flip else {})}, a.json)
            return 0
        ds = build_dataset(cfg.data, "val", train=False)
    m, preds = evaluate_dataset(model, strategy, cfg, ds, device, progress=True)
    m["checkpoint"] = info["checkpoint"]
    print(format_eval(cfg.strategy.name, m))
    if a.predictions:
        res = coco_results(preds)
        write_results(res, a.predictions)  # a DataError naming the file when it cannot be written
        left = len(preds["image_id"]) - len(res)
        print(f"wrote {a.predictions} ({len(res)} predictions, COCO results"
              + (f"; {left} non-finite left out)" if left else ")"))
    if a.plot:
        from ..eval_plot import plot_eval

        step = f", step {info['step']}" if info.get("step", -1) >= 0 else ""
        title = f"{a.target}: {cfg.strategy.name}, {Path(str(info['checkpoint'])).name}{step}, {len(ds)} val instances"
        print(f"wrote {plot_eval(m, preds, a.plot, title + ('; flip test' if flip else ''))}")
    _write_json({**m, "flip_test": flip}, a.json)
    return 0


def eval_inputs(cfg: Any, target: str, ckpt: Any, run_dir: Any) -> dict[str, Any]:
    """The files an evaluation reads, by what they are: the checkpoint, the run's records, the data's annotation
    files (as named in the config: a generated benchmark's own ``train.json`` / ``val.json`` too)."""
    from pathlib import Path

    from ..data.paths import GENERATED_FORMATS, resolve_data_path

    files: dict[str, Any] = {"the checkpoint": ckpt, "the config": None if run_dir else target}
    if run_dir is not None:
        files.update({f"the run's {name}": Path(run_dir, name)
                      for name in ("config.yaml", "spec.yaml", "split.json", "config_history.yaml")})
    data = cfg.data
    root = Path(str(data.root)).expanduser() if data.get("root") is not None else Path(".")
    for key in ("train", "val", "detections", "csv"):
        value = data.get(key)
        if isinstance(value, str) and value:
            # as the readers take them: data.csv from the working folder, the others under data.root
            path = Path(value).expanduser() if key == "csv" else resolve_data_path(root, value)
            files[f"data.{key} ({value})"] = path
    if str(data.format) in GENERATED_FORMATS:
        files.update({f"the benchmark's {name}": root / name for name in ("train.json", "val.json", "manifest.json")})
    return files


def format_eval(method: str, m: dict[str, Any]) -> str:
    """The text of ``adaanchor eval``: the paper's table (input pixels), the errors in original-image
    pixels, the invisible error inside / outside the image, the per-keypoint table, NME and the misses."""
    from ..metrics.keypoint import error_by_visibility_table, per_keypoint_table

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
        if m.get("nme_out") is not None:
            lines.append(f"NME by the input's edge: inside it visible {pct(m['nme_vis_in'])}, occluded "
                         f"{pct(m['nme_inv_in'])}; outside the input (the image's or the crop's edge) {pct(m['nme_out'])}")
    nf = m.get("nonfinite") or {}
    if nf.get("instances"):
        lines += ["", f"non-finite predictions: {nf['instances']} instance(s), {nf['vis']} visible and {nf['inv']} "
                  "invisible keypoints, counted as misses"]
    return "\n".join(lines)


def _note_training_now(target: str) -> None:
    """A run that a training is still writing: its checkpoint is a mid-run one and best.pt may change (eval scored it
    saying only the step)."""
    from ..engine.rundir import training_now
    from ..engine.split_record import run_dir_of

    run_dir = run_dir_of(target)
    who = training_now(run_dir) if run_dir is not None else None
    if who:
        print(f"note: {run_dir} is still training ({who}): this scores the checkpoint it holds now, and its best.pt "
              "may still change", file=sys.stderr)

