"""A diverged run (NaN weights) is named as such by ``predict``, ``export`` and ``viz``. A multi-person run's NaN maps
gave ``0 instance(s)`` with exit code 0; ``export`` of it said ``-> OK`` (a NaN difference counted as 0), and of a
top-down one blamed onnxruntime for PyTorch's own NaN outputs; ``viz`` drew nothing under a ``mean score nan``
title without a word."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import adaanchor
from adaanchor.cli import main

pytest.importorskip("onnxruntime")

BOTTOMUP = Path(adaanchor.__file__).parent / "configs" / "bottomup_crowd.yaml"


def _diverged(run: Path, to: Path) -> Path:
    """A copy of ``run`` whose checkpoints' floating-point weights are all NaN, as a diverged training leaves them."""
    shutil.copytree(run, to)
    for ckpt in (to / "checkpoints").glob("*.pt"):
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        for v in state["model"].values():
            if v.is_floating_point():
                v.fill_(float("nan"))
        torch.save(state, ckpt)
    return to


@pytest.fixture(scope="module")
def runs(pred_runs, tmp_path_factory) -> dict[str, Path]:
    """``bu``: a 1-step bottom-up run on a tiny crowd benchmark; ``nan_bu`` and ``nan_td`` (the top-down adaanchor
    run): their NaN copies."""
    from adaanchor.bench.crowd import write_crowd_benchmark

    root = tmp_path_factory.mktemp("diverged")
    crowd = root / "crowd"
    write_crowd_benchmark(crowd, {"n_train": 8, "n_val": 4, "width": 64, "height": 48, "people": (2, 3)},
                          progress=False, workers=1)
    assert main(["train", str(BOTTOMUP), "data.format=coco", f"data.root={crowd}", "data.input_size=[64,48]",
                 "model.tiny_width=8", "train.batch_size=4", "train.progress=false", f"out_dir={root / 'bu'}",
                 "train.max_steps=1", "train.eval_every=0"]) == 0
    return {"bu": root / "bu", "nan_bu": _diverged(root / "bu", root / "nan_bu"),
            "nan_td": _diverged(pred_runs["adaanchor"], root / "nan_td")}


def test_predict_names_a_multi_person_run_s_nan_maps_and_exits_3(runs, val_images, tmp_path, capsys):
    args = [str(val_images[0]), str(val_images[1]), "--quiet", "--device", "cpu", "--no-overlays"]
    assert main(["predict", str(runs["nan_bu"]), *args, "--out", str(tmp_path / "o")]) == 3
    out = capsys.readouterr().out
    assert "0 instance(s)" in out
    assert ("note: the model's outputs (its head maps) held NaN or infinite values on 2 of 2 frame(s) (diverged "
            "weights?)") in out
    assert main(["predict", str(runs["bu"]), *args, "--out", str(tmp_path / "o2")]) == 0  # finite maps: no note
    assert "NaN" not in capsys.readouterr().out


@pytest.mark.parametrize("run", ["nan_bu", "nan_td"])
def test_export_says_the_pytorch_outputs_are_not_finite(runs, tmp_path, capsys, run):
    assert main(["export", str(runs[run]), str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert "written, but the PyTorch model's own outputs are not finite on the check's images" in err
    assert "weights are NaN or infinite): diverged weights?" in err and "onnxruntime disagrees" not in err


def test_the_head_check_counts_nan_from_onnxruntime_as_a_disagreement(runs, tmp_path, monkeypatch):
    """``max(0.0, nan)`` is 0.0: NaN maps from onnxruntime passed the check."""
    import adaanchor.export.heads_check as hc
    from adaanchor.engine.run import image_multiple, load_for_eval, resolve_run
    from adaanchor.export import export_command

    res = export_command(str(runs["bu"]), str(tmp_path / "bu.onnx"), latency_runs=0)
    assert res["check_ok"] and "torch_nonfinite" not in res
    real = hc.session

    def nan_session(path, threads):
        sess = real(path, threads)

        class NaNs:
            def __getattr__(self, name):
                return getattr(sess, name)

            def run(self, names, feed):
                return [np.full_like(o, np.nan) for o in sess.run(names, feed)]

        return NaNs()

    monkeypatch.setattr(hc, "session", nan_session)
    cfg, ckpt = resolve_run(str(runs["bu"]), None, [], need_data=False, need_weights=True)
    model, strategy, _ = load_for_eval(cfg, ckpt)
    got = hc.check_heads_onnx(tmp_path / "bu.onnx", model, (64, 48), image_multiple(cfg, strategy.stride),
                              latency_runs=0)
    assert not got["check_ok"] and all(v == float("inf") for v in got["max_rel_diff_heads"].values())


@pytest.mark.parametrize("run", ["nan_bu", "nan_td"])
def test_viz_notes_the_nan_outputs(runs, val_images, tmp_path, capsys, run):
    assert main(["viz", str(runs[run]), str(val_images[0]), "--out", str(tmp_path / "v")]) == 0
    err = capsys.readouterr().err
    assert (f"note: the model's outputs held NaN or infinite values on 1 of 1 image(s) (e.g. {val_images[0].name}; "
            "diverged weights?)") in err


@pytest.mark.parametrize("run", ["nan_bu", "nan_td"])
def test_export_no_check_still_refuses_nan_outputs(runs, tmp_path, capsys, run):
    """``--no-check`` skips onnxruntime; a diverged run was exported without a word (exit 0)."""
    out = tmp_path / "m.onnx"
    assert main(["export", str(runs[run]), str(out), "--no-check"]) == 2
    err = capsys.readouterr().err
    assert (f"{out}: not written: the PyTorch model's own outputs are not finite on an image-like input (NaN or "
            "infinite values: ") in err
    assert "weights are NaN or infinite): diverged weights?" in err and not out.exists()
