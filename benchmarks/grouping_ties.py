"""What the grouping's tie-break changes: AP of trained bottom-up models grouped with it and without it.

    python benchmarks/grouping_ties.py RUN [--out benchmarks/results] [--name grouping_ties] [--threads 1]

RUN is the folder of an ``adaanchor demo --task bottomup`` run (its run directories ``heatmap``, ``fixanchor`` and
``adaanchor``, or the ``<method>.pt`` weights the demo wrote before it wrote run directories, on the demo's
crowd-figures benchmark under ``data-cache/crowd``). Each model's held-out
outputs are grouped twice: with the squared tag distance that breaks ties of ``|tag - pose tag|``
(``adaanchor.strategies.grouping``, weight 1e-3) and with that weight set to 0, the grouping before the
tie-break, where float noise decided ties. Everything else (outputs, gamma, metrics) is the same. Writes
``NAME.json`` and ``NAME.md`` with AP, recall and the gamma sweep, learned and oracle tags, per method.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

import adaanchor.strategies.grouping as grouping
from adaanchor.demo_bottomup import METHODS, _bottomup_build, crowd_setup
from adaanchor.engine.bottomup import evaluate_bottomup
from adaanchor.engine.checkpoint import load_checkpoint
from adaanchor.models.backbones import build_backbone

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import REPO, machine, write_results  # noqa: E402

TIES = {"tie-break": 1e-3, "none (before)": 0.0}


def weights_file(run: Path, name: str) -> Path:
    """Method ``name``'s weights in a demo folder: its run directory's checkpoint, else the older ``<name>.pt``."""
    ckpt = run / name / "checkpoints" / "last.pt"
    return ckpt if ckpt.is_file() else run / f"{name}.pt"


def _evaluate(run: Path, name: str, setup: Any) -> dict[str, dict[str, Any]]:
    """``{tie label: metrics}`` of one method's weights, learned and oracle tags."""
    strategy, model = _bottomup_build(name, build_backbone("tiny", tiny_width=24), setup)
    model.load_state_dict(load_checkpoint(weights_file(run, name))["model"])
    model.eval()
    kept = grouping._TIE
    out = {}
    try:
        for label, weight in TIES.items():
            grouping._TIE = weight
            m = evaluate_bottomup(model, strategy, setup.val, setup.paths["val"], oracle_tags=True)
            out[label] = {"ap": m["ap"], "ap50": m["ap50"], "ap75": m["ap75"], "recall": m["recall"],
                          "ap_by_gamma": m["ap_by_gamma"], "oracle_ap": m["oracle_tags"]["ap"],
                          "oracle_recall": m["oracle_tags"]["recall"]}
    finally:
        grouping._TIE = kept
    return out


def to_markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    gammas = list(next(iter(next(iter(result["methods"].values())).values()))["ap_by_gamma"])
    lines = ["# The grouping's tie-break: AP with and without it, same outputs", "",
             f"Run {result['run']}; commit {m['commit']}, torch {m['torch']}, {m['threads']} threads; "
             f"wall {result['wall_s']:.0f} s. AP in percent, gamma = 0.1 unless named.", "",
             "| Method | grouping | AP | AP50 | AP75 | Recall | " + " | ".join(f"AP@g={g}" for g in gammas) +
             " | AP, oracle tags |", "|---" * (7 + len(gammas)) + "|"]
    for name, rows in result["methods"].items():
        for label, r in rows.items():
            cells = [f"{100 * r[k]:.2f}" for k in ("ap", "ap50", "ap75")] + [f"{r['recall']:.4f}"]
            cells += [f"{100 * v:.2f}" for v in r["ap_by_gamma"].values()] + [f"{100 * r['oracle_ap']:.2f}"]
            lines.append(f"| {name} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="an `adaanchor demo --task bottomup` output folder")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--name", default="grouping_ties")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    missing = [f"{a.run / n / 'checkpoints' / 'last.pt'} (or {a.run / n}.pt)" for n in METHODS
               if not weights_file(a.run, n).is_file()]
    if missing:
        p.error(f"not a bottom-up demo run: missing {', '.join(missing)}")
    torch.set_num_threads(a.threads)
    t0 = time.time()
    setup = crowd_setup("data-cache/crowd", None, progress=False)
    result = {"run": str(a.run), "methods": {n: _evaluate(a.run, n, setup) for n in METHODS},
              "machine": machine(a.threads)}
    result["wall_s"] = time.time() - t0
    write_results(a.out, a.name, result, to_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
