"""A run folder damaged by hand: its config.yaml cut at a line's end (the defaults stood in for the lost keys: eval
generated and scored another benchmark without a word), cut mid-line ("not the config of a run ... emptied or
replaced?" where train said "not valid YAML"), and a cut last.pt (the best.pt beside it unsaid)."""

from __future__ import annotations

import shutil

import pytest

from adaanchor.engine.run import resolve_run
from adaanchor.errors import AdaAnchorError


@pytest.fixture
def run(pred_runs, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(pred_runs["adaanchor"], out)
    return out


def _cut_after(run, key: str) -> int:
    """config.yaml cut after the line of ``key``: the lines after it (the rest of the file) are gone."""
    lines = (run / "config.yaml").read_text().splitlines(keepends=True)
    at = next(i for i, ln in enumerate(lines) if ln.strip().startswith(f"{key}:"))
    (run / "config.yaml").write_text("".join(lines[: at + 1]))
    return at + 1


def test_a_config_cut_at_a_lines_end_is_refused_naming_the_lost_keys(run):
    resolve_run(run)  # whole, it reads
    _cut_after(run, "format")  # data.format kept; data.root, data.synth ... and the sections after it lost
    with pytest.raises(AdaAnchorError, match=rf"{run / 'config.yaml'}: lacks \d+ key\(s\) that last.pt was trained "
                                             r"with \(.*\): cut short or edited\?"):
        resolve_run(run)


def test_a_run_trained_before_a_key_existed_still_reads(run):
    """A key that the checkpoint's own config lacks too was not there when the run trained: not damage."""
    import torch
    import yaml

    cfg = yaml.safe_load((run / "config.yaml").read_text())
    del cfg["eval"]["flip_test"]
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    ckpt = run / "checkpoints" / "last.pt"
    state = torch.load(ckpt, weights_only=True)
    del state["config"]["eval"]["flip_test"]
    torch.save(state, ckpt)
    resolve_run(run)


def test_a_config_cut_mid_line_is_named_as_not_valid_yaml(run):
    text = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(text[: text.index("  focal_gamma:") + 8])  # "  focal_ga": a key with no colon
    with pytest.raises(AdaAnchorError, match=r"config.yaml: not valid YAML"):
        resolve_run(run)


def test_a_cut_checkpoint_names_the_others_beside_it(run):
    from adaanchor.safe_torch import safe_load

    shutil.copy(run / "checkpoints" / "last.pt", run / "checkpoints" / "best.pt")
    data = (run / "checkpoints" / "last.pt").read_bytes()
    (run / "checkpoints" / "last.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(AdaAnchorError, match=r"last.pt: not a readable checkpoint \(truncated, .*\); the run's other "
                                             r"checkpoint\(s\): best.pt \(resume=PATH, or ckpt=PATH\)"):
        safe_load(run / "checkpoints" / "last.pt")
