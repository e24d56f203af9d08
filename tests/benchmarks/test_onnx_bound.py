"""benchmarks/onnx_bound.py: the ONNX row's floor on this machine, from the graph's work, the matrix-product rate and
both backends' times."""

from __future__ import annotations

import json

import pytest
import torch

from root_helpers import load_benchmark


def _bound():
    return load_benchmark("onnx_bound")


def test_bound_arithmetic():
    b = _bound().bound(10 * 10**9, {"torch": 200.0, "onnxruntime": 190.0}, {"torch": 80.0, "onnxruntime": 50.0}, 0.5)
    assert b["gflop"] == 10 and b["peak_gflops"] == 200  # the faster library's rate is the machine's
    assert b["torch_gflops"] == pytest.approx(125) and b["onnxruntime_gflops"] == pytest.approx(200)
    assert b["torch_share"] == pytest.approx(0.625) and b["onnxruntime_share"] == pytest.approx(1.0)
    assert b["ratio"] == pytest.approx(0.625)
    assert b["onnxruntime_floor_ms"] == pytest.approx(50) and b["lowest_ratio"] == pytest.approx(0.625)
    # 0.5 needs PyTorch at 100 ms: 10 GFLOP in 0.1 s is 100 GFLOP/s, half the rate
    assert b["torch_needed_ms"] == pytest.approx(100) and b["torch_needed_share"] == pytest.approx(0.5)


def _hand_count(model: torch.nn.Module, images: torch.Tensor) -> int:
    """2 x the multiply-adds of every convolution a forward calls as a module, plus the stacked 1x1 heads'
    product (computed as one batched product, not through the heads' modules)."""
    total = 0

    def conv(m, inp, out):
        nonlocal total
        if isinstance(m, torch.nn.ConvTranspose2d):  # every input pixel meets every kernel tap
            total += 2 * inp[0].numel() * m.out_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
        else:  # every output pixel reads in_channels / groups x kh x kw inputs
            total += 2 * out.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]

    hooks = [m.register_forward_hook(conv) for m in model.backbone.modules()
             if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d)]
    with torch.inference_mode():
        dense = model.features(images)
    for h in hooks:
        h.remove()
    rows = sum(m.out_channels for m in model.heads.values())
    return total + 2 * rows * dense.shape[1] * dense.shape[0] * dense.shape[2] * dense.shape[3]


def test_graph_flops_match_a_hand_count_of_the_heatmap_model():
    """The heatmap's decoding has no products: its forward + decode is the backbone's convolutions and the head."""
    mod = _bound()
    setup = {**mod.TINY, "batch": 2}
    model, strategy, _ = mod._system(setup, "heatmap")
    model.eval()
    images = mod._batch(setup, 2, strategy.num_keypoints)[0]
    counted = mod.graph_flops(setup, "heatmap", 2)
    assert counted["total"] == _hand_count(model, images) == sum(counted["per_op"].values())
    assert "aten.convolution" in counted["per_op"]


def test_run_writes_both_files_and_refuses_a_bad_name(tmp_path, monkeypatch):
    mod = _bound()
    monkeypatch.setattr(mod, "MATMUL_SIZES", (64,))  # the rate's value is not under test here, only its place
    assert mod.main(["--setup", "tiny", "--reps", "1", "--out", str(tmp_path), "--name", "b"]) == 0
    res = json.loads((tmp_path / "b.json").read_text())
    assert set(res["matmul_gflops"]) == {"torch", "onnxruntime"} and all(v > 0 for v in res["matmul_gflops"].values())
    assert res["bound"]["gflop"] == pytest.approx(res["flops"]["total"] / 1e9) and res["timing"]["reps"] == 1
    assert res["bound"]["lowest_ratio"] > 0 and set(res["timing"]["ms"]) == {"torch", "onnxruntime"}
    md = (tmp_path / "b.md").read_text()
    assert "onnxruntime / torch eager: **" in md and "GFLOP/s" in md
    with pytest.raises(SystemExit) as e:
        mod.main(["--name", "a/b", "--out", str(tmp_path)])
    assert e.value.code == 2
