"""Which merged map moves a multi-person run's AP under the flip test: the flip test with some heads taken from the
plain pass alone and the others merged (``eval.flip_offsets=mean``, ``eval.flip_conf=mean``, whatever the run's
config says), paired run by run. A diagnostic; ``plain conf`` of an anchor run is ``eval.flip_conf=plain``.

    python benchmarks/flip_parts.py RUN_DIR [RUN_DIR ...] --name NAME [--out DIR] [--threads 1]

Settings per run: ``plain`` (no flip test), ``merged`` (every head merged, the flip test as it is) and, for each group
of :data:`PARTS`, ``plain <group>``: the flip test with that group's heads from the plain pass (where the run has
them). ``conf``: the confidences (so the anchor cells, or heatmap peaks, are the plain pass's); ``offsets``: the
anchor offsets; ``local``: the local offsets; ``poseoff``: a centre run's pose offsets. A setting equal to
``merged`` says that head's merge does not matter; one equal to ``plain`` says the whole change comes from it. The
lead metric is :func:`flip_offsets.lead_key`'s (centre AP, bottom-up AP with oracle tags). Writes
``flip_parts_<name>.{md,json}``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from flip_offsets import lead_key, script_main
from inference_options import oracle_metrics
from omegaconf import OmegaConf

from adaanchor.engine.multi import evaluate_multi
from adaanchor.engine.run import build_split, is_multi_person, load_for_eval, resolve_run
from adaanchor.errors import AdaAnchorError
from adaanchor.strategies.flip_test import set_flip_rules

#: group -> the heads taken from the plain pass
PARTS = {"conf": ("conf", "heatmap"), "offsets": ("offset",), "local": ("local",), "poseoff": ("poseoff",)}


def keep_plain(strategy: Any, heads: tuple[str, ...]) -> None:
    """Make ``strategy.flip_merge`` return the plain pass's maps for ``heads`` (the others merged as usual); an
    empty ``heads`` restores the strategy's own merge."""
    strategy.__dict__.pop("flip_merge", None)
    if not heads:
        return
    merge = strategy.flip_merge

    def partial(plain: Mapping[str, torch.Tensor], mirrored: Mapping[str, torch.Tensor], flip_index: Any):
        return {k: (plain[k] if k in heads else v) for k, v in merge(plain, mirrored, flip_index).items()}

    strategy.flip_merge = partial


def evaluate_parts(run_dir: Path) -> dict[str, Any]:
    """``{"task", "settings": [...], setting: {ap, ap50, ap75, recall[, oracle_ap, oracle_ap50]}}``."""
    cfg, ckpt = resolve_run(run_dir, need_weights=True)
    if not is_multi_person(cfg):
        raise AdaAnchorError(f"{run_dir}: a {cfg.task} run; the maps are merged in multi-person runs (task=bottomup or "
                             "centre)")
    model, strategy, _ = load_for_eval(cfg, ckpt, "cpu")
    set_flip_rules(strategy)  # the merge as the docstring says (both rules mean), whatever the run's config holds
    data = build_split(cfg, "val", int(strategy.stride), train=False, verbose=False)
    settings = {"plain": None, "merged": ()}
    for group, heads in PARTS.items():
        have = tuple(h for h in heads if h in strategy.heads)
        if have:
            settings[f"plain {group}"] = have
    out: dict[str, Any] = {"task": str(cfg.task), "settings": list(settings)}
    for name, heads in settings.items():
        flip = heads is not None
        keep_plain(strategy, heads or ())
        c = OmegaConf.merge(cfg, {"eval": {"flip_test": flip}})
        m, _ = evaluate_multi(model, strategy, c, data, "cpu")
        row = {k: m.get(k) for k in ("ap", "ap50", "ap75", "recall")}
        if str(cfg.task) == "bottomup":
            row.update(oracle_metrics(model, strategy, c, data, flip))
        out[name] = row
    keep_plain(strategy, ())
    return out


def to_markdown(doc: dict[str, Any]) -> str:
    lines = [f"# flip_parts: {doc['name']} (the lead metric ×100: bottom-up AP with oracle tags, centre AP; "
             "mean over runs, and setting − merged with its standard error)", ""]
    for label, rows in doc["methods"].items():
        names = [s for s in rows[0]["settings"] if all(s in r["settings"] for r in rows)]  # settings every run has
        lines += [f"## {label} ({len(rows)} runs)", "", "| Setting | mean | − merged |", "|---|---|---|"]
        for s in names:
            v = np.array([100 * r[s][lead_key(r["task"])] for r in rows])
            d = v - np.array([100 * r["merged"][lead_key(r["task"])] for r in rows])
            se = f" ± {d.std(ddof=1) / np.sqrt(len(d)):.2f}" if len(d) > 1 else ""
            lines.append(f"| {s} | {v.mean():.2f} | {d.mean():+.2f}{se} |")
        lines.append("")
    lines += [f"Commit {doc['commit']}; {doc['machine']}; wall {doc['wall_seconds']:.0f} s."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    return script_main(argv, __doc__, "flip_parts", "finished bottom-up or centre runs", evaluate_parts, to_markdown)


if __name__ == "__main__":
    sys.exit(main())
