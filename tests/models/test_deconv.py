"""FoldConvTranspose2d: the matrix-product path equals nn.ConvTranspose2d (values and gradients), in both memory
layouts, is taken only where it should be, and exports as a ConvTranspose node."""

from __future__ import annotations

import collections

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as hst
from torch import nn

from adaanchor.models import deconv
from adaanchor.models.backbones import ResNetBackbone, deconv_stack
from adaanchor.models.deconv import FoldConvTranspose2d


def _pair(layer: FoldConvTranspose2d, seed: int) -> nn.ConvTranspose2d:
    """A library layer with ``layer``'s parameters."""
    ref = nn.ConvTranspose2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding,
                             layer.output_padding, bias=layer.bias is not None)
    ref.load_state_dict(layer.state_dict())
    return ref


@settings(max_examples=25, deadline=None)
@given(cin=hst.sampled_from([8, 16, 24]), cout=hst.integers(1, 2), k=hst.integers(1, 4), s=hst.integers(1, 3),
       pad=hst.integers(0, 2), op=hst.integers(0, 2), bias=hst.booleans(), h=hst.integers(1, 6), w=hst.integers(1, 6),
       nhwc_x=hst.booleans(), nhwc_w=hst.booleans(), seed=hst.integers(0, 2**16))
def test_matmul_path_equals_conv_transpose(cin, cout, k, s, pad, op, bias, h, w, nhwc_x, nhwc_w, seed):
    op = min(op, s - 1)  # PyTorch's rule: output padding smaller than the stride
    if (h - 1) * s - 2 * pad + k + op <= 0 or (w - 1) * s - 2 * pad + k + op <= 0:
        return  # no output
    torch.manual_seed(seed)
    layer = FoldConvTranspose2d(cin, cout, k, s, pad, op, bias=bias)
    ref = _pair(layer, seed)
    if nhwc_w:
        layer = layer.to(memory_format=torch.channels_last)
    x = torch.randn(2, cin, h, w)
    if nhwc_x:
        x = x.contiguous(memory_format=torch.channels_last)
    assert layer.uses_matmul(x)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = layer(xa), ref(xb)
    assert ya.shape == yb.shape
    torch.testing.assert_close(ya, yb, rtol=1e-5, atol=1e-5)
    # The output keeps the input's layout (the layers after it run in it).
    assert ya.is_contiguous(memory_format=torch.channels_last if not x.is_contiguous() else torch.contiguous_format)
    g = torch.randn_like(yb)
    ya.backward(g)
    yb.backward(g)
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(layer.weight.grad, ref.weight.grad, rtol=1e-4, atol=1e-4)
    if bias:
        torch.testing.assert_close(layer.bias.grad, ref.bias.grad, rtol=1e-4, atol=1e-4)


def test_which_layers_take_the_matmul_path():
    x = torch.randn(1, 16, 3, 3)
    assert FoldConvTranspose2d(16, 16 // deconv.MATMUL_MIN_RATIO, 4, 2, 1).uses_matmul(x)
    assert not FoldConvTranspose2d(16, 16 // deconv.MATMUL_MIN_RATIO + 1, 4, 2, 1).uses_matmul(x)
    assert not FoldConvTranspose2d(16, 2, 4, 2, 1, groups=2).uses_matmul(x)
    assert not FoldConvTranspose2d(16, 2, 4, 2, 1, dilation=2).uses_matmul(x)
    # SimpleBaseline: ResNet-50's 2048 -> 256 layer takes it, the 256 -> 256 ones and ResNet-18's 512 -> 256 do not.
    neck, _ = deconv_stack(2048, 256, 3)
    layers = [m for m in neck if isinstance(m, FoldConvTranspose2d)]
    assert [m.uses_matmul(torch.zeros(1, m.in_channels, 2, 2)) for m in layers] == [True, False, False]
    assert not deconv_stack(512, 256, 1)[0][0].uses_matmul(torch.zeros(1, 512, 2, 2))


def test_output_size_argument_uses_the_library_kernel():
    layer = FoldConvTranspose2d(8, 2, 3, 2, 1)
    x = torch.randn(1, 8, 4, 4)
    ref = _pair(layer, 0)
    torch.testing.assert_close(layer(x, output_size=[8, 8]), ref(x, output_size=[8, 8]))


def test_state_dict_is_the_library_layers():
    layer = FoldConvTranspose2d(16, 4, 4, 2, 1, bias=False)
    ref = nn.ConvTranspose2d(16, 4, 4, 2, 1, bias=False)
    assert layer.state_dict().keys() == ref.state_dict().keys()
    layer.load_state_dict(ref.state_dict())  # checkpoints of either load into the other
    x = torch.randn(1, 16, 3, 2)
    torch.testing.assert_close(layer(x), F.conv_transpose2d(x, ref.weight, None, 2, 1), rtol=1e-5, atol=1e-5)


def test_export_keeps_a_conv_transpose_node(tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    layer = FoldConvTranspose2d(16, 4, 4, 2, 1).eval()
    x = torch.randn(2, 16, 5, 3)
    path = tmp_path / "deconv.onnx"
    torch.onnx.export(layer, (x,), str(path), dynamo=True)
    assert collections.Counter(n.op_type for n in onnx.load(str(path)).graph.node) == {"ConvTranspose": 1}
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    torch.testing.assert_close(torch.from_numpy(out), layer(x).detach(), rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_resnet50_neck_takes_the_matmul_path_and_matches_the_kernel(monkeypatch):
    """A ResNet-50 backbone (channels-last, as by default) gives the same maps through either path."""
    torch.manual_seed(0)
    bb = ResNetBackbone("resnet50").eval()
    first = bb.neck[0]
    assert isinstance(first, FoldConvTranspose2d) and first.in_channels == 2048
    x = torch.randn(1, 3, 128, 96)
    with torch.no_grad():
        assert first.uses_matmul(torch.zeros(1, 2048, 4, 3))
        fold = bb(x)[0]
        monkeypatch.setattr(deconv, "MATMUL_MIN_RATIO", 10**9)
        assert not first.uses_matmul(torch.zeros(1, 2048, 4, 3))
        kernel = bb(x)[0]
    torch.testing.assert_close(fold, kernel, rtol=1e-4, atol=1e-4)
