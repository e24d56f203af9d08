"""A transposed convolution that runs as a matrix product and a ``fold`` where that is faster on a CPU.

SimpleBaseline's first deconvolution reads a deep, small map (ResNet-50: 2048 channels at 8x6 for a 256x192
input) through a large weight (2048 x 256 x 4 x 4). PyTorch's CPU kernel (oneDNN) took 16.5 ms for it at batch 1
on this project's 2-core machine, 50 GFLOP/s, where the same products as one matrix product followed by
``fold`` (col2im) took 3.3 ms; at batch 8 the training step's forward and backward of that layer took 94 ms
instead of 146 ms. With fewer input channels the ``fold`` dominates and the kernel wins (256 -> 256 channels at
16x12: 10 ms against 17.5 ms at batch 8), so the product is used when the layer has at least
:data:`MATMUL_MIN_RATIO` times more input than output channels (measured: 2048 and 1024 -> 256 win, 512 -> 256
loses). Numbers of ``benchmarks/speed.py``'s ResNet-50 rows are in ``benchmarks/results/speed.md``.

The module is an ``nn.ConvTranspose2d`` (same parameters, same state dict keys, so checkpoints load either way);
it computes the same sums in another order, equal to float rounding (tested). CUDA tensors, grouped or dilated
layers and ONNX export use the library kernel (an exported graph keeps a ``ConvTranspose`` node).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: in_channels / out_channels from which a CPU layer runs as matrix product + fold.
MATMUL_MIN_RATIO: float = 4


def channels_last(t: Tensor) -> bool:
    """Whether a 4-D tensor is laid out channels-last (NHWC) and not also plain contiguous (a size-1 case)."""
    return t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous()


def _exporting() -> bool:
    """Whether the call is traced for an export (TorchScript ONNX or ``torch.export``/dynamo)."""
    return bool(torch.onnx.is_in_onnx_export() or torch.compiler.is_exporting() or torch.jit.is_tracing())


class FoldConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` computed, on CPU tensors of a layer with many more input than output channels, as
    ``fold(W^T @ x)``: ``x (N, C_in, H, W)`` -> columns ``(N, C_out * kh * kw, H * W)`` -> summed into the output
    ``(N, C_out, H_out, W_out)`` by ``F.fold``, the bias added after."""

    def uses_matmul(self, x: Tensor) -> bool:
        """Whether ``x`` goes through the matrix product (else through ``nn.ConvTranspose2d.forward``)."""
        return (x.device.type == "cpu" and x.dim() == 4 and self.groups == 1 and self.dilation == (1, 1)
                and self.padding_mode == "zeros" and self.in_channels >= MATMUL_MIN_RATIO * self.out_channels
                and not _exporting())

    def forward(self, x: Tensor, output_size: list[int] | None = None) -> Tensor:  # type: ignore[override]
        if output_size is not None or not self.uses_matmul(x):
            return super().forward(x, output_size)
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        oph, opw = self.output_padding
        out_h, out_w = (h - 1) * sh - 2 * ph + kh + oph, (w - 1) * sw - 2 * pw + kw + opw
        wmat, by_position = self._weight_matrix()
        cols = torch.matmul(wmat, x.reshape(n, c, h * w))  # (N, C_out * kh * kw, H * W)
        if by_position:  # rows in (ky, kx, channel) order: put them in fold's (channel, ky, kx) order
            cols = cols.view(n, kh * kw, -1, h * w).transpose(1, 2).reshape(n, -1, h * w)
        y = F.fold(cols, (out_h, out_w), (kh, kw), padding=(ph, pw), stride=(sh, sw))
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        # The layers after it run in the layout the input came in (channels-last backbones).
        if channels_last(x):
            y = y.contiguous(memory_format=torch.channels_last)
        return y

    def _weight_matrix(self) -> tuple[Tensor, bool]:
        """The weight ``(C_in, C_out, kh, kw)`` as a ``(C_out * kh * kw, C_in)`` matrix, row ``j`` being what an input
        cell adds to output channel and window position ``j``, and whether the rows are in ``(ky, kx, channel)``
        order rather than fold's ``(channel, ky, kx)``. A channels-last weight (a backbone converted with
        ``.to(memory_format=torch.channels_last)``) is read in its own memory order ``(C_in, kh, kw, C_out)``:
        reshaping it to fold's order would copy the whole weight each call (33 MB for ResNet-50's first layer)."""
        c = self.in_channels
        if channels_last(self.weight):
            return self.weight.permute(0, 2, 3, 1).reshape(c, -1).t(), True
        return self.weight.reshape(c, -1).t(), False


__all__ = ["FoldConvTranspose2d", "MATMUL_MIN_RATIO", "channels_last"]
