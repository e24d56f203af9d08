"""An output path that is one of the command's inputs, or another output, is refused before any work: ``eval
--predictions`` over its ground truth, ``--json`` over the checkpoint or the run's config, ``score --json`` over the
results it scored were overwritten, exit 0, and the next command failed on the damaged file."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from adaanchor.cli import main
from adaanchor.config import build_config
from root_helpers import one_step_demo_run


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return one_step_demo_run(tmp_path_factory.mktemp("clobber"))


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.mark.parametrize("option,target,says", [
    ("--predictions", "bench/val.json", "is data.val (val.json), which this command reads"),
    ("--json", "run/checkpoints/last.pt", "is the checkpoint, which this command reads"),
    ("--json", "run/config.yaml", "is the run's config.yaml, which this command reads"),
    ("--plot", "run/spec.png", "is the run's spec.yaml, which this command reads"),  # a link to it
])
def test_eval_refuses_to_write_over_what_it_reads(run, capsys, option, target, says):
    path = run.parent / target
    if path.name == "spec.png" and not path.exists():
        path.symlink_to(run / "spec.yaml")
    before = _digest(path)
    assert main(["eval", str(run), "eval.max_images=2", option, str(path)]) == 2
    err = capsys.readouterr().err
    assert says in err and "give another file name" in err, err
    assert _digest(path) == before


def test_eval_refuses_two_outputs_of_one_file_and_an_empty_name(run, tmp_path, capsys):
    p = tmp_path / "p.json"
    assert main(["eval", str(run), "eval.max_images=2", "--predictions", str(p), "--json", str(p)]) == 2
    assert f"--json and --predictions name one file, {p}" in capsys.readouterr().err and not p.exists()
    assert main(["eval", str(run), "eval.max_images=2", "--json", ""]) == 2
    assert "--json: an empty file name" in capsys.readouterr().err


def test_score_refuses_to_write_its_metrics_over_its_inputs(run, tmp_path, capsys):
    res = tmp_path / "res.json"
    assert main(["eval", str(run), "eval.max_images=2", "--predictions", str(res)]) == 0
    gt = run.parent / "bench" / "val.json"
    capsys.readouterr()
    for target, what in ((res, "the results file"), (gt, "the ground truth")):
        before = _digest(target)
        assert main(["score", str(gt), str(res), "--metric", "coco", "--json", str(target)]) == 2
        assert f"is {what}, which this command reads" in capsys.readouterr().err
        assert _digest(target) == before
    out = tmp_path / "m.json"
    assert main(["score", str(gt), str(res), "--metric", "coco", "--json", str(out)]) == 0
    assert "AP" in json.loads(out.read_text())


def test_the_evaluations_data_files_are_found_where_the_readers_look(tmp_path, monkeypatch):
    """data.csv is read from the working folder (it was looked for under data.root: `eval RUN data.csv=lm.csv --json
    lm.csv` overwrote it), and ~ is expanded before a path is taken as relative."""
    from adaanchor.cli.eval_command import eval_inputs
    from adaanchor.cli.outputs import check_distinct_outputs
    from adaanchor.errors import AdaAnchorError

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "lm.csv").write_text("x")
    (tmp_path / "home" / "d.json").write_text("[]")
    cfg = build_config(None, ["data.format=coco", f"data.root={tmp_path / 'data'}", "data.csv=lm.csv",
                              "data.detections=~/d.json"])
    files = eval_inputs(cfg, "run", None, None)
    for out, what in (("lm.csv", "data.csv (lm.csv)"), (str(tmp_path / "home" / "d.json"), "data.detections (~/d.json)")):
        with pytest.raises(AdaAnchorError, match=rf"--json {out} is {re.escape(what)}"):
            check_distinct_outputs({"--json": out}, files)
