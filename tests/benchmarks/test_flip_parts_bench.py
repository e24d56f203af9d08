"""benchmarks/flip_parts.py: the flip test with some heads taken from the plain pass (a diagnostic)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from flip_parts import keep_plain, main, to_markdown  # noqa: E402

from adaanchor.cli import main as cli  # noqa: E402
from adaanchor.data.spec import load_spec  # noqa: E402
from adaanchor.strategies.tags import build_bottomup  # noqa: E402

FLIP = np.asarray(load_spec("coco").flip_index)


def test_keep_plain_replaces_the_named_heads_and_restores_the_merge():
    st = build_bottomup({"name": "adaanchor"}, None, 17, 4, (32, 24))
    g = torch.Generator().manual_seed(0)
    plain = {k: torch.randn(1, c, 6, 8, generator=g) for k, c in st.heads.items()}
    mirrored = {k: torch.randn(1, c, 6, 8, generator=g) for k, c in st.heads.items()}
    merged = st.flip_merge(plain, mirrored, FLIP)
    keep_plain(st, ("conf",))
    part = st.flip_merge(plain, mirrored, FLIP)
    assert torch.equal(part["conf"], plain["conf"]) and not torch.equal(merged["conf"], plain["conf"])
    for k in ("offset", "local", "tags"):
        torch.testing.assert_close(part[k], merged[k])
    keep_plain(st, ())
    torch.testing.assert_close(st.flip_merge(plain, mirrored, FLIP)["conf"], merged["conf"])
    assert "flip_merge" not in st.__dict__


def test_the_table_pairs_each_setting_with_the_merged_one():
    def row(vals):
        return {"task": "centre", "settings": ["plain", "merged", "plain conf"],
                **{s: {"ap": v} for s, v in zip(["plain", "merged", "plain conf"], vals)}}

    md = to_markdown({"name": "x", "methods": {"centre adaanchor": [row([0.08, 0.07, 0.075]), row([0.06, 0.05, 0.06])]},
                      "commit": "c", "machine": "m", "wall_seconds": 1})
    assert "## centre adaanchor (2 runs)" in md and "| merged | 6.00 | +0.00 ± 0.00 |" in md
    assert "| plain conf | 6.75 | +0.75 ± 0.25 |" in md and "| plain | 7.00 | +1.00 ± 0.00 |" in md


def test_a_group_of_runs_shows_the_settings_every_run_has():
    rows = [{"task": "centre", "settings": ["plain", "merged", "plain local"],
             **{s: {"ap": 0.05} for s in ("plain", "merged", "plain local")}},
            {"task": "centre", "settings": ["plain", "merged"], **{s: {"ap": 0.06} for s in ("plain", "merged")}}]
    md = to_markdown({"name": "x", "methods": {"centre adaanchor": rows}, "commit": "c", "machine": "m",
                      "wall_seconds": 1})
    assert "| merged | 5.50 |" in md and "plain local" not in md


def test_a_top_down_run_is_refused(tiny_overrides, tmp_path, capsys):
    from adaanchor.demo import DEMO_CONFIG

    run = tmp_path / "FixAnchor_dev_s0"
    ov = [o for o in tiny_overrides if not o.startswith("out_dir=")] + [f"out_dir={run}"]
    assert cli(["train", str(DEMO_CONFIG), *ov, "strategy.name=fixanchor", "train.max_steps=1"]) == 0
    assert main([str(run), "--name", "t", "--out", str(tmp_path)]) == 2
    assert "a topdown run; the maps are merged in multi-person runs" in capsys.readouterr().err
