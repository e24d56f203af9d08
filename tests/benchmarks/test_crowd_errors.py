"""benchmarks/crowd_errors.py: each labelled keypoint's distance to the nearest detection of its type, by band."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import crowd_errors as ce  # noqa: E402

from adaanchor.errors import AdaAnchorError  # noqa: E402


class _Decoder:
    """decode_multi's interface: detections ``xy (1, K, M, 2)`` in input pixels with scores and validity."""

    def __init__(self, xy, score, valid):
        self.dec = SimpleNamespace(xy=torch.tensor([xy]), score=torch.tensor([score]), valid=torch.tensor([valid]))

    def decode_multi(self, outputs, gamma):
        return self.dec, None


def test_errors_are_put_in_bands_and_misses_count():
    # 32x32 at stride 4: outer cell centres at 1.5 and 29.5. Type 0 on the map, type 1 three cells off it (a
    # detection below gamma does not count), type 2 half a cell off with no detection at all.
    strat = _Decoder(xy=[[[11.0, 10.0], [0.0, 0.0]], [[2.0, 10.0], [-9.5, 10.0]], [[0.0, 0.0], [0.0, 0.0]]],
                     score=[[0.9, 0.0], [0.9, 0.05], [0.0, 0.0]], valid=[[True, False], [True, True], [False, False]])
    truth = {7: (np.array([[[10.0, 10.0], [-10.5, 10.0], [31.5, 10.0]]]), np.array([[2, 1, 2]]))}
    cached = [({}, {"image_id": 7, "affine": np.eye(3)[:2]})]
    rows = ce.keypoint_errors(strat, cached, truth, {7: (32, 32)}, 4, 0.1, 2.0)
    # (10, 10) lies 2.125 cells inside the left and top edges: near the edge
    assert rows[0] == (1, 1.0) and rows[1] == (3, 12.5) and rows[2][0] == 2 and math.isinf(rows[2][1])
    s = ce.summary(rows)
    assert s["inside, near the edge"] == {"n": 1, "missed": 0, "median_px": 1.0, "mean_px": 1.0, "within_4px": 1.0}
    assert s["inside, away from the edge"]["n"] == 0
    assert s["beyond the radius"]["median_px"] == 12.5 and s["beyond the radius"]["within_4px"] == 0.0
    assert s["beyond, up to the radius"] == {"n": 1, "missed": 1, "median_px": None, "mean_px": None, "within_4px": 0.0}
    signed = ce.edge_cells(np.array([[15.5, 15.5], [1.5, 20.0], [-10.5, 10.0]]), 32, 32, 4)
    assert signed.tolist() == pytest.approx([-3.5, 0.0, 3.0])
    assert ce.band_of(signed, 2.0).tolist() == [0, 1, 3]
    doc = {"table": "table5", "split": "test", "gamma": 0.1, "seeds": [0], "radius": 2.0,
           "results": {"A": {"fixanchor": {"0": s}}}}
    assert "| A | fixanchor | inside, near the edge | 1 | 0.0 | 1.00 | 1.00 | 1.000 |" in ce.to_markdown(doc)


def test_a_folder_without_the_run_is_named(tmp_path):
    import multi_tables as mt

    data = mt.bench_data("crowd", tmp_path / "cache", 4, 2, "test")
    with pytest.raises(AdaAnchorError, match=r"fixanchor_s0/model.pt: no trained run"):
        ce.run_errors(tmp_path / "none", "table5", "fixanchor", 0, data, 0.1, 8)


def _run(out: Path, method: str, seed: int, bench: dict, width: int = 8) -> None:
    import multi_tables as mt

    run = mt.run_dir_for(out, "crowd", "ae", method, seed, "test")
    run.mkdir(parents=True)
    settings = {"method": method, "seed": seed, "tiny_width": width, "bench": bench, "task_cfg": {}}
    (run / "run.json").write_text(__import__("json").dumps({"settings": settings}))


def test_the_runs_are_scored_on_the_data_their_run_json_records(tmp_path, monkeypatch):
    """Runs trained by multi_tables.py --n-train 32 --n-val 16 were scored on the full benchmark (bench_data was
    called with None, None), exit 0."""
    import multi_tables as mt

    small = {**mt.BENCHES["crowd"]["options"], "n_train": 32, "n_val": 16}
    for seed in (0, 1):
        _run(tmp_path / "a", "fixanchor", seed, small)
    seen = {}

    def bench_data(bench, cache, n_train, n_val, *rest):
        seen.update(n_train=n_train, n_val=n_val)
        raise KeyboardInterrupt  # stop here: the data is all this test checks

    monkeypatch.setattr(mt, "bench_data", bench_data)
    assert ce.main(["--out", str(tmp_path / "a"), "--methods", "fixanchor", "--seeds", "0", "1",
                    "--results", str(tmp_path / "r")]) == 130
    assert seen == {"n_train": 32, "n_val": 16}


def test_runs_of_mixed_settings_are_refused_naming_them(tmp_path, capsys):
    import multi_tables as mt

    full = dict(mt.BENCHES["crowd"]["options"])
    _run(tmp_path / "a", "fixanchor", 0, full)
    _run(tmp_path / "a", "fixanchor", 1, {**full, "n_train": 32, "n_val": 16})
    assert ce.main(["--out", str(tmp_path / "a"), "--methods", "fixanchor", "--seeds", "0", "1",
                    "--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: the runs were trained on other data or models") and "\n" not in err
    assert "fixanchor_s0" in err and "fixanchor_s1" in err and "'n_train': 32" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("args, text", [(["--seeds", "-1"], "argument --seeds: must be an integer >= 0, got -1"),
                                        (["--gamma", "1.5"], "argument --gamma: must be a number in [0, 1], got '1.5'"),
                                        (["--gamma", "nan"], "argument --gamma: must be a number in [0, 1], got 'nan'"),
                                        (["--gamma", "-0.1"], "argument --gamma: must be a number in [0, 1]")])
def test_bad_seeds_and_gamma_are_usage_errors(args, text, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        ce.main(["--out", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert e.value.code == 2 and text in err and "Traceback" not in err


def test_each_folder_says_its_steps_and_the_commits_that_trained_it(tmp_path):
    """The table recorded neither: folders of 600 and 4000 steps, or of older code, read as one experiment."""
    import json

    import multi_tables as mt

    full = dict(mt.BENCHES["crowd"]["options"])
    for out, seed, steps, train in [("a", 0, 600, {"commit": "0123456789abcdef dirty"}), ("a", 1, 600, {}),
                                    ("b", 0, 4000, {"commit": "fedcba9876543210"}),
                                    ("b", 1, 4000, {"commit": "fedcba9876543210"})]:
        _run(tmp_path / out, "fixanchor", seed, full)
        path = mt.run_dir_for(tmp_path / out, "crowd", "ae", "fixanchor", seed, "test") / "run.json"
        record = json.loads(path.read_text())
        record["settings"]["steps"], record["train"] = steps, train
        path.write_text(json.dumps(record))
    training = {label: ce.folder_training(tmp_path / label, "table5", ["fixanchor"], [0, 1], "test")
                for label in ("a", "b")}
    assert training["a"] == {"out": str(tmp_path / "a"), "steps": [600], "commits": {"012345678": 1, "unknown": 1}}
    assert training["b"]["steps"] == [4000] and training["b"]["commits"] == {"fedcba987": 2}
    doc = {"table": "table5", "split": "test", "gamma": 0.1, "seeds": [0, 1], "radius": 2.0, "results": {},
           "training": training}
    md = ce.to_markdown(doc)
    assert f"- a (`{tmp_path / 'a'}`): 600 steps; trained by 012345678 (1 run); no training commit recorded (1 run)" in md
    assert f"- b (`{tmp_path / 'b'}`): 4000 steps; trained by fedcba987 (2 runs)" in md
