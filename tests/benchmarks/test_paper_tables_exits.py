"""paper_tables.py: refusals are ``error: ...`` with exit 2, a stop by Ctrl-C or SIGTERM is one line naming what is
saved (exit 130 / 143), the data cache does not depend on the working directory, and a run folder of other settings
is refused before any data is generated."""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
SPEC = importlib.util.spec_from_file_location("paper_tables_exits", REPO / "benchmarks" / "paper_tables.py")
paper_tables = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(paper_tables)


def test_an_unknown_only_label_is_an_error_line_and_exit_2(tmp_path, capsys):
    """It exited 1 with no "error:" prefix, where argparse and config errors exit 2."""
    assert paper_tables.main(["table1", "--out", str(tmp_path), "--only", "NoSuch"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --only: no variant ['NoSuch'] in table1") and "\n" not in err


@pytest.mark.parametrize("stop, code, name", [(KeyboardInterrupt, 130, "Ctrl-C (SIGINT)"), ("sigterm", 143, "SIGTERM")])
def test_a_stop_is_one_line_saying_what_is_saved(stop, code, name, monkeypatch, tmp_path, capsys):
    """Ctrl-C during a table's evaluation printed a ~30-line KeyboardInterrupt traceback and no way to go on."""
    def stopped(*a):
        if stop == "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)
        raise stop()

    monkeypatch.setattr(paper_tables, "run_table", stopped)
    assert paper_tables.main(["table1", "--out", str(tmp_path)]) == code
    err = capsys.readouterr().err.strip()
    assert err == (f"error: stopped by {name}; finished runs are kept under {tmp_path / 'runs' / 'table1'}, a stopped "
                   "training at its last checkpoint (a stopped evaluation is redone): re-run the same command to resume")


def test_a_training_stopped_by_a_signal_ends_the_same_way(monkeypatch, tmp_path, capsys):
    from adaanchor.engine.saving import TrainingError

    def stopped(*a):
        err = TrainingError("stopped by SIGTERM after step 3; saved x: continue with resume=auto")
        err.signal_stop = True
        raise err

    monkeypatch.setattr(paper_tables, "run_table", stopped)
    assert paper_tables.main(["table1", "--out", str(tmp_path)]) == 143
    assert capsys.readouterr().err.startswith("error: stopped by SIGTERM; finished runs are kept under")


def test_a_relative_data_root_is_the_repositorys_not_the_working_directorys(tmp_path, monkeypatch):
    """The dev split's data.root=data-cache/synth-dev was read against the working directory: the same command from
    another folder generated the whole dev benchmark again and then refused its runs as other settings."""
    from protocol import anchored_root

    monkeypatch.chdir(tmp_path)
    dev = anchored_root(paper_tables.DEMO_CONFIG, ["data.root=data-cache/synth-dev", "data.synth.seed=1"], [])
    assert dev[-1] == f"data.root={REPO / 'data-cache' / 'synth-dev'}"
    assert anchored_root(paper_tables.DEMO_CONFIG, [], [])[-1] == f"data.root={REPO / 'data-cache' / 'synth'}"
    mine = ["data.root=here"]  # the caller's own data.root stays as given
    assert anchored_root(paper_tables.DEMO_CONFIG, mine, mine) == mine


def test_other_settings_are_refused_before_any_data_is_generated(monkeypatch, tmp_path, capsys):
    """The stale-settings check came after generating the benchmark (minutes for the 6,500-image dev split)."""
    run = tmp_path / "runs" / "table1" / "FixAnchor_dev_s0"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("train:\n  max_steps: 7\n")
    monkeypatch.setattr(paper_tables, "annotation_path", lambda *a: pytest.fail("generated the data first"))
    assert paper_tables.main(["table1", "--only", "FixAnchor", "--seeds", "0", "--steps", "2",
                              "--out", str(tmp_path)]) == 2
    assert "FixAnchor_dev_s0 holds a run of other settings" in capsys.readouterr().err


def test_each_run_says_what_it_does_and_its_pace(tmp_path):
    """A table trained with train.progress=false and printed nothing for a whole training and evaluation."""
    from table_runs import pace, run_start

    run = tmp_path / "FixAnchor_dev_s0"
    assert run_start("FixAnchor", 0, run, 3000) == "FixAnchor seed 0: training 3000 steps, then evaluating"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.pt").write_bytes(b"")
    (run / "train_log.csv").write_text("step,epoch\n100,1\n")
    assert run_start("FixAnchor", 0, run, 3000) == (f"FixAnchor seed 0: resuming from {run / 'checkpoints' / 'last.pt'}"
                                                    " to 3000 steps, then evaluating")
    (run / "train_log.csv").write_text("step,epoch\n3000,16\n")
    assert run_start("FixAnchor", 0, run, 3000) == "FixAnchor seed 0: finished, evaluating it again"
    assert pace({"train_seconds": 300.0, "steps": 3000}, fresh=True) == " (trained to step 3000 in 300 s, 10.0 steps/s)"
    assert pace({"train_seconds": 300.0, "steps": 3000}, fresh=False) == " (trained to step 3000 in 300 s)"
    assert pace({"train_seconds": 0.2, "steps": 3000}, fresh=True) == ""
