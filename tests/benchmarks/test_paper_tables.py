"""Every paper-table command runs end to end with a tiny budget and writes its markdown, JSON and plot."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("paper_tables", REPO / "benchmarks" / "paper_tables.py")
paper_tables = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(paper_tables)
table_runs = paper_tables.sys.modules["table_runs"]


@pytest.mark.slow
@pytest.mark.parametrize("table", ["table1", "fig6", "sigma", "table2", "locality", "assigner"])
def test_table_command_runs(table, tiny_bench, tmp_path):
    from root_helpers import TINY_SYNTH

    over = [f"data.root={tiny_bench}", *(f"data.synth.{k}={v}" for k, v in TINY_SYNTH.items()), "model.tiny_width=8",
            "model.deconv_channels=8", "train.batch_size=4", "eval.batch_size=12"]
    argv = [table, "--split", "test", "--seeds", "0", "1", "--steps", "1", "--out", str(tmp_path), *over]
    assert paper_tables.main(argv) == 0
    stem = "assigner_runs" if table == "assigner" else table
    doc = json.loads((tmp_path / f"{stem}.json").read_text())
    spec = paper_tables.TABLES[table]
    assert set(doc["summary"]) == set(spec["variants"]) and doc["split"] == "test"
    for label, runs in doc["runs"].items():
        expected = 1 + ("repeat" not in spec or label in spec["repeat"])
        if label in spec.get("headline", ()):
            expected = spec["headline_seeds"]
        assert len(runs) == expected
        assert [r["seed"] for r in runs] == list(range(expected))
    assert doc["commit"] and doc["wall_seconds"] > 0
    assert (tmp_path / f"{stem}.md").read_text().count("\n|") >= len(spec["variants"])
    assert (tmp_path / f"{stem}.png").stat().st_size > 0
    if table == "assigner":
        res = json.loads((tmp_path / "assigner.json").read_text())
        assert {"heatmap", "fixanchor", "adaanchor"} <= set(res["methods"])
        assert set(res["protocol"]) >= {"steps", "seeds", "dev_split", "commit"}
        row = res["methods"]["fixanchor"]["per_seed"][0]
        assert set(row) == {"seed", "vis_error", "inv_error_in", "inv_error_out", "inv_score", "score_auc", "ap"}
        # Paired differences against FixAnchor for every repeated method, on the seeds both have.
        assert doc["paired"]["AdaAnchor (paper)"]["vis_error"]["seeds"] == [0, 1]
        assert doc["paired_heatmap"]["FixAnchor"]["ap"]["n"] == 2 and "against the heatmap" in (tmp_path / f"{stem}.md").read_text()


def test_identical_runs_are_shared_between_tables(tiny_bench, tmp_path):
    """FixAnchor of Table 1 and of the assigner table (same split, seed, budget) is one run: the second table
    links it instead of training it again; a different seed or option is not the same run."""
    from root_helpers import TINY_SYNTH

    over = [f"data.root={tiny_bench}", *(f"data.synth.{k}={v}" for k, v in TINY_SYNTH.items()), "model.tiny_width=8",
            "train.batch_size=4", "eval.batch_size=12"]
    common = ["--split", "test", "--seeds", "0", "--steps", "2", "--out", str(tmp_path), *over]
    assert paper_tables.main(["assigner", "--only", "FixAnchor", "Heatmap-anchor", *common]) == 0
    source = tmp_path / "runs" / "assigner" / "FixAnchor_test_s0"
    before = (source / "checkpoints" / "last.pt").stat().st_mtime_ns
    assert paper_tables.main(["table1", "--only", "FixAnchor", "Ours (mul)", *common]) == 0
    linked = tmp_path / "runs" / "table1" / "FixAnchor_test_s0"
    assert linked.is_symlink() and linked.resolve() == source.resolve()
    assert (source / "checkpoints" / "last.pt").stat().st_mtime_ns == before  # evaluated, not retrained
    assert not (tmp_path / "runs" / "table1" / "Ours_(mul)_test_s0").is_symlink()  # nothing identical to link
    base = paper_tables.build_config(paper_tables.DEMO_CONFIG, over)
    other = paper_tables.build_config(paper_tables.DEMO_CONFIG, [*over, "seed=1"])
    assert table_runs._run_identity(other) != table_runs._run_identity(base)
    # A key an older run's config lacks counts as today's default, nothing else.
    older = paper_tables.OmegaConf.to_container(base)
    del older["data"]["split"]["dev_fraction"]
    assert table_runs._run_identity(paper_tables.OmegaConf.create(older), paper_tables.OmegaConf.to_container(base)) \
        == table_runs._run_identity(base)


def test_a_run_folder_of_other_settings_is_refused(tiny_bench, tmp_path, capsys):
    """A run folder is named by table, variant, split and seed: a run finished at 2 steps was reported as the
    1-step row (and a 1-step run would have been continued to 2 steps on another schedule). Same settings: reused."""
    from root_helpers import TINY_SYNTH

    over = [f"data.root={tiny_bench}", *(f"data.synth.{k}={v}" for k, v in TINY_SYNTH.items()), "model.tiny_width=8",
            "train.batch_size=4", "eval.batch_size=12"]
    common = ["table1", "--only", "FixAnchor", "--split", "test", "--seeds", "0", "--out", str(tmp_path), *over]
    assert paper_tables.main([*common, "--steps", "2"]) == 0
    last = tmp_path / "runs" / "table1" / "FixAnchor_test_s0" / "checkpoints" / "last.pt"
    before = last.stat().st_mtime_ns
    capsys.readouterr()
    assert paper_tables.main([*common, "--steps", "1"]) == 2  # exit 1 with no "error:" before
    err = capsys.readouterr().err.strip()
    assert re.fullmatch(r"error: .*FixAnchor_test_s0 holds a run of other settings \(.*train.max_steps 2, not 1.*", err)
    assert paper_tables.main([*common, "--steps", "2", "model.tiny_width=16"]) == 2
    assert "model.tiny_width 8, not 16" in capsys.readouterr().err
    assert paper_tables.main([*common, "--steps", "2"]) == 0
    assert last.stat().st_mtime_ns == before and json.loads((tmp_path / "table1.json").read_text())["steps"] == 2


@pytest.mark.slow
def test_dev_split_is_its_own_benchmark_with_a_convergence_check(tmp_path):
    from root_helpers import TINY_SYNTH

    over = [f"data.root={tmp_path / 'dev'}", *(f"data.synth.{k}={v}" for k, v in TINY_SYNTH.items() if k != "seed"),
            "model.tiny_width=8", "train.batch_size=4", "eval.batch_size=12"]
    assert paper_tables.main(["sigma", "--seeds", "0", "--steps", "2", "--out", str(tmp_path), *over]) == 0
    doc = json.loads((tmp_path / "sigma_dev.json").read_text())
    assert doc["split"] == "dev" and doc["config"]["data"]["synth"]["seed"] == paper_tables.DEV_SYNTH_SEED
    manifest = json.loads((tmp_path / "dev" / "manifest.json").read_text())
    assert manifest["config"]["seed"] == paper_tables.DEV_SYNTH_SEED
    conv = doc["runs"]["FixAnchor"][0]["convergence"]
    assert set(conv) == {"rel_change_last20", "rel_change_last10", "converged", "trend_last20"}
    assert not (tmp_path / "sigma.json").exists()  # dev results never overwrite the evaluation-split files


def test_faces_dev_split_is_held_out_training_identities():
    over = paper_tables.split_overrides("dev", synthetic=False)
    cfg = paper_tables.build_config(paper_tables.TABLES["table4"]["base"], over)
    assert cfg.data.split.by == "identity" and 0 < cfg.data.split.dev_fraction < 1 and cfg.train.eval_every == 1


@pytest.mark.slow
def test_faces_table_runs_on_a_landmark_csv(tmp_path):
    from root_helpers import write_face_csv

    write_face_csv(tmp_path / "faces", {f"P_{i}": 2 for i in range(10)}, name="training_frames_keypoints.csv",
                   images="training")
    over = [f"data.root={tmp_path / 'faces'}", "data.input_size=[32,32]", "model.tiny_width=8", "train.batch_size=4"]
    assert paper_tables.main(["table4", "--split", "test", "--seeds", "0", "--steps", "1", "--out", str(tmp_path / "out"), *over]) == 0
    doc = json.loads((tmp_path / "out" / "table4.json").read_text())
    assert doc["summary"]["Ours"]["nme"][0] > 0 and "NME occl." in (tmp_path / "out" / "table4.md").read_text()
    assert paper_tables.main(["table4", "--split", "dev", "--seeds", "0", "--steps", "1", "--only", "Ours",
                              "--out", str(tmp_path / "out"), *over]) == 0
    dev = json.loads((tmp_path / "out" / "table4_dev.json").read_text())
    assert dev["split"] == "dev" and dev["config"]["data"]["split"]["dev_fraction"] > 0


@pytest.mark.slow
def test_truncated_faces_table_scores_the_cut_off_landmarks(tmp_path):
    from root_helpers import write_face_csv

    write_face_csv(tmp_path / "faces", {f"P_{i}": 2 for i in range(10)}, name="training_frames_keypoints.csv",
                   images="training")
    over = [f"data.root={tmp_path / 'faces'}", "data.input_size=[32,32]", "model.tiny_width=8", "train.batch_size=4",
            "data.truncation.val=1.0"]  # every evaluation crop shifted: some landmarks fall outside on any face set
    assert paper_tables.main(["truncation", "--split", "test", "--seeds", "0", "--steps", "1", "--only", "FixAnchor",
                              "--out", str(tmp_path / "out"), *over]) == 0
    doc = json.loads((tmp_path / "out" / "truncation.json").read_text())
    row = doc["runs"]["FixAnchor"][0]
    assert row["nme_out"] > 0 and row["nme_vis_in"] > 0
    assert doc["config"]["data"]["truncation"]["train"] == 0.5  # the packaged benchmark's own setting
    md = (tmp_path / "out" / "truncation.md").read_text()
    assert "| NME in input | NME cut off |" in md


@pytest.mark.parametrize("table", ["table1", "table5"])
@pytest.mark.parametrize("args,text", [(["--steps", "0"], "argument --steps: must be an integer >= 1, got 0"),
                                       (["--steps", "-2"], "argument --steps: must be an integer >= 1, got -2"),
                                       (["--seeds", "-1"], "argument --seeds: must be an integer >= 0, got -1"),
                                       (["--seeds", "0", "1", "0"], "argument --seeds: 0 is given twice")])
def test_bad_counts_and_seeds_are_usage_errors(table, args, text, tmp_path, capsys):
    """--steps 0 trained the protocol's default budget, a negative count or seed failed with a traceback in the
    training, a repeated seed counted one run twice in the mean and the paired differences."""
    with pytest.raises(SystemExit) as e:
        paper_tables.main([table, *args, "--out", str(tmp_path)])
    assert e.value.code == 2 and text in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_a_bad_override_is_one_line(tmp_path, capsys):
    assert paper_tables.main(["table1", "--steps", "1", "--out", str(tmp_path), "strategy.topk=0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: config key 'strategy.topk'") and "\n" not in err


def test_collect_with_no_finished_run_leaves_the_table_alone(tiny_bench, tmp_path, capsys):
    """--collect with nothing finished replaced the table's files with an empty table."""
    from root_helpers import TINY_SYNTH

    over = [f"data.root={tiny_bench}", *(f"data.synth.{k}={v}" for k, v in TINY_SYNTH.items())]
    (tmp_path / "table1.md").write_text("earlier table\n")
    assert paper_tables.main(["table1", "--collect", "--split", "test", "--seeds", "0", "--steps", "2",
                              "--out", str(tmp_path), *over]) == 2
    assert re.fullmatch(r"error: \[table1\] no finished run of 2 steps .* nothing written",
                        capsys.readouterr().err.strip())
    assert (tmp_path / "table1.md").read_text() == "earlier table\n"
    assert not (tmp_path / "table1.json").exists() and not (tmp_path / "table1.png").exists()


def test_a_table_names_the_runs_trained_by_other_code(tmp_path):
    """Reused run folders: each row records the commits of its config_history.yaml, and the markdown names the
    rows trained by another commit than the table's (they were silently mixed in before)."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "config_history.yaml").write_text(
        "- {started: a, versions: {adaanchor: 0.1.0, commit: 1111111aaaa}}\n"
        "- {started: b, versions: {adaanchor: 0.1.0, commit: 2222222bbbb (modified)}}\n"
        "- {started: c, versions: {adaanchor: 0.1.0}}\n- {started: d, versions: {adaanchor: 0.1.0, commit: 1111111aaaa}}\n")
    assert table_runs.training_commits(run) == ["1111111aaaa", "2222222bbbb (modified)", "unknown"]
    assert table_runs.training_commits(tmp_path / "none") == []
    report = paper_tables.sys.modules["table_report"]
    doc = {"commit": "2222222", "runs": {"AdaAnchor": [{"seed": 0, "trained_by": ["2222222bbbb"]},
                                                      {"seed": 1, "trained_by": ["1111111aaaa", "2222222bbbb"]}],
                                        "Heatmap": [{"seed": 0}]}}
    assert report._trained_by(doc) == ["", "Trained by other commits than this one (reused runs): 1 of 2: "
                                           "AdaAnchor s1 (1111111aa, 2222222bb)."]
    doc["runs"]["AdaAnchor"].pop()
    assert report._trained_by(doc) == []


def test_settings_after_only_reach_the_runs(monkeypatch, tmp_path):
    """``--only``'s nargs="+" swallowed the key=value settings after the labels (the docs' commands
    ``--only FixAnchor "Ours (mul)" LocalAnchor strategy.local_about=clamped``): they never reached the runs and the
    labels check refused them. A label holding "=" (fig6's k=5) stays a label."""
    calls = []
    monkeypatch.setattr(paper_tables, "run_table", lambda *a: calls.append(a))
    argv = ["table1", "--split", "dev", "--seeds", "0", "--out", str(tmp_path), "--only", "FixAnchor", "Ours (mul)",
            "LocalAnchor", "strategy.local_about=clamped"]
    assert paper_tables.main(argv) == 0
    name, seeds, _, _, overrides, split, only, collect = calls[-1]
    assert (name, seeds, split, collect) == ("table1", [0], "dev", False)
    assert only == ["FixAnchor", "Ours (mul)", "LocalAnchor"] and overrides == ["strategy.local_about=clamped"]
    argv = ["assigner", "--split", "test", "--out", str(tmp_path), "data.root=x", "--only", "Heatmap-anchor",
            "FixAnchor", "LocalAnchor", "data.input_size=[96,128]", "data.root=data-cache/synth-96x128"]
    assert paper_tables.main(argv) == 0
    assert calls[-1][6] == ["Heatmap-anchor", "FixAnchor", "LocalAnchor"]
    assert calls[-1][4] == ["data.root=x", "data.input_size=[96,128]", "data.root=data-cache/synth-96x128"]
    assert paper_tables.main(["fig6", "--out", str(tmp_path), "--only", "FixAnchor", "k=5", "strategy.sigma=2"]) == 0
    assert calls[-1][6] == ["FixAnchor", "k=5"] and calls[-1][4] == ["strategy.sigma=2"]


def test_only_with_settings_and_no_label_is_a_usage_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(paper_tables, "run_table", lambda *a: pytest.fail("ran"))
    with pytest.raises(SystemExit) as e:
        paper_tables.main(["table1", "--out", str(tmp_path), "--only", "strategy.local_about=clamped"])
    assert e.value.code == 2 and "at least one variant label" in capsys.readouterr().err


def test_help_names_the_multi_person_tables(monkeypatch, capsys):
    """--help listed only the single-person tables, though table5, table6 and fig5 run (by multi_tables.py)."""
    with pytest.raises(SystemExit):
        paper_tables.main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "table5" in out and "fig5" in out and "handed to benchmarks/multi_tables.py" in out
    seen = []
    monkeypatch.setitem(paper_tables.sys.modules, "multi_tables",
                        type(paper_tables)("multi_tables"))
    paper_tables.sys.modules["multi_tables"].main = lambda argv: seen.append(argv) or 0
    assert paper_tables.main(["--split", "dev", "table6", "--seeds", "0"]) == 0
    assert seen == [["table6", "--split", "dev", "--seeds", "0"]]
