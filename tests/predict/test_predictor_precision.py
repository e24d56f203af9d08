"""``precision="bf16"``: the backbone in bfloat16, the heads in float32 (models/precision.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from adaanchor.cli import main
from adaanchor.config import build_config
from adaanchor.engine.run import build_system
from adaanchor.errors import AdaAnchorError
from adaanchor.models import precision
from adaanchor.models.precision import Bf16Backbone, bf16_native, check_precision
from adaanchor.predict import Predictor

CPU = torch.device("cpu")
NATIVE = bf16_native(CPU)
needs_bf16 = pytest.mark.skipif(not NATIVE, reason="this CPU has no bfloat16 units")


def test_a_bad_precision_or_a_cpu_without_bf16_units_is_refused(monkeypatch):
    with pytest.raises(AdaAnchorError, match="precision must be one of fp32, bf16, got 'fp16'"):
        check_precision("fp16", CPU)
    assert check_precision("fp32", CPU) == "fp32"
    monkeypatch.setattr(precision, "bf16_native", lambda device: False)
    with pytest.raises(AdaAnchorError, match=r"precision bf16: this CPU has no bfloat16 units .* use fp32"):
        check_precision("bf16", CPU)


def test_the_wrapper_runs_a_bf16_copy_of_the_backbone_and_float32_heads():
    torch.manual_seed(0)
    cfg = build_config(None, ["model.tiny_width=16", "strategy.name=fixanchor"])
    net, strategy = build_system(cfg)
    net.eval()
    x = torch.rand(2, 3, 96, 72)
    wrapped = Bf16Backbone(net)
    assert all(p.dtype == torch.float32 for p in net.parameters())  # the model itself is unchanged
    assert all(p.dtype == torch.bfloat16 for p in wrapped.body.parameters())
    with torch.inference_mode():
        full, half = net(x), wrapped(x)
        assert all(half[k].dtype == torch.float32 for k in half)
        for k in full:  # bfloat16 keeps 8 bits of mantissa: close, not equal
            torch.testing.assert_close(half[k], full[k], atol=0.05 * float(full[k].abs().max()) + 1e-3, rtol=0.05)
        a, b = strategy.predict(net, x), strategy.predict(wrapped, x)
    assert float((a.xy - b.xy).abs().max()) < 2.0


def test_the_onnx_backend_refuses_bf16(pred_runs):
    with pytest.raises(AdaAnchorError, match="precision='bf16' is for the torch backend"):
        Predictor.from_run(pred_runs["adaanchor"], backend="onnx", precision="bf16")


@needs_bf16
def test_the_predictor_and_predict_in_bf16(pred_runs, val_images, tmp_path):
    img = np.asarray(Image.open(val_images[0]).convert("RGB"))
    fp32 = Predictor.from_run(pred_runs["adaanchor"], device="cpu")
    bf16 = Predictor.from_run(pred_runs["adaanchor"], device="cpu", precision="bf16")
    assert bf16.info["precision"] == "bf16" and fp32.info["precision"] == "fp32"
    d = np.linalg.norm(bf16.predict(img).keypoints - fp32.predict(img).keypoints, axis=-1)
    # A 2-step model's confidence map is nearly flat: bfloat16 rounding may move a few argmax cells (trained
    # models: docs/predict.md, the same errors to 0.03 px); most keypoints stay where they were.
    assert np.median(d) < 1.0 and (d < 3.0).mean() >= 0.75
    assert main(["predict", str(pred_runs["adaanchor"]), str(val_images[0]), "--out", str(tmp_path / "o"),
                 "--precision", "bf16", "--quiet", "--device", "cpu"]) == 0


def test_eval_refuses_bf16_without_bfloat16_units(pred_runs, monkeypatch, capsys):
    monkeypatch.setattr(precision, "bf16_native", lambda device: False)
    assert main(["eval", str(pred_runs["adaanchor"]), "--precision", "bf16", "--device", "cpu"]) == 2
    assert "precision bf16: this CPU has no bfloat16 units" in capsys.readouterr().err


@needs_bf16
def test_eval_in_bf16(pred_runs, tmp_path):
    import json

    assert main(["eval", str(pred_runs["adaanchor"]), "--precision", "bf16", "--json", str(tmp_path / "m.json")]) == 0
    assert np.isfinite(json.loads((tmp_path / "m.json").read_text())["vis_error"])
