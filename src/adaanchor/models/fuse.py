"""BatchNorm folded into the convolution before it, for a model that only predicts (``adaanchor predict``, the
:class:`~adaanchor.predict.Predictor`): one pass over each feature map instead of two.

A ResNet-50's 53 convolution + BatchNorm pairs and its neck's 3 transposed-convolution pairs, folded, made a
forward + decode at batch 1 on this project's 2-core machine take 0.92-0.93 of its time (50 against 54-56 ms,
``benchmarks/speed.py --rows fold_resnet50_b1``). Results equal the unfolded model's to float rounding (tested).

Which BatchNorm follows which convolution is read off one forward pass of a probe input (the BatchNorm's input
is the very tensor the convolution returned), not from module names, so it works for any backbone. A
convolution whose output is also read elsewhere would be folded wrongly; the folded model is therefore checked
against the original on the probe and, if they differ, the original is kept.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .deconv import channels_last

#: The largest difference between the folded and the original model's outputs on the probe, relative to the
#: outputs' largest magnitude (float rounding is about 1e-6 of it).
FOLD_RTOL = 1e-4


def fold_batchnorm(model: nn.Module, probe: Tensor) -> tuple[nn.Module, int]:
    """A copy of ``model`` (in eval mode) with every BatchNorm that directly follows a convolution folded into it
    and replaced by an identity, and the number folded; ``model`` itself when nothing folds or the folded copy
    disagrees with it on ``probe`` (an input batch, e.g. ``(1, 3, H, W)``)."""
    model = model.eval()
    pairs = _conv_bn_pairs(model, probe)
    if not pairs:
        return model, 0
    folded = copy.deepcopy(model)
    mods = dict(folded.named_modules())
    for conv_name, bn_name in pairs:
        conv = mods[conv_name]
        fused = fuse_conv_bn_eval(conv, mods[bn_name], transpose=isinstance(conv, nn.ConvTranspose2d))
        if channels_last(conv.weight):
            fused = fused.to(memory_format=torch.channels_last)  # the layout the backbone was put in
        _replace(folded, conv_name, fused)
        _replace(folded, bn_name, nn.Identity())
    return (folded, len(pairs)) if _agree(model, folded, probe) else (model, 0)


def _conv_bn_pairs(model: nn.Module, probe: Tensor) -> list[tuple[str, str]]:
    """``(convolution, BatchNorm)`` module names where the BatchNorm's input was the convolution's output, each
    module run once in the forward pass (a shared module is left alone)."""
    # The outputs are kept alive for the pass: an id of a freed tensor could be reused by another tensor.
    produced: dict[int, tuple[str, Tensor]] = {}
    calls: dict[str, int] = {}
    pairs: list[tuple[str, str]] = []

    def conv_hook(name: str):
        def hook(_m: nn.Module, _i: tuple, out: Tensor) -> None:
            calls[name] = calls.get(name, 0) + 1
            produced[id(out)] = (name, out)
        return hook

    def bn_hook(name: str):
        def hook(_m: nn.Module, inp: tuple, _o: Tensor) -> None:
            calls[name] = calls.get(name, 0) + 1
            if id(inp[0]) in produced and produced[id(inp[0])][1] is inp[0]:
                pairs.append((produced[id(inp[0])][0], name))
        return hook

    hooks = []
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.groups == 1 and m.padding_mode == "zeros":
            hooks.append(m.register_forward_hook(conv_hook(name)))
        elif isinstance(m, nn.BatchNorm2d) and m.track_running_stats and m.running_var is not None:
            hooks.append(m.register_forward_hook(bn_hook(name)))
    try:
        with torch.inference_mode():
            model(probe)
    finally:
        for h in hooks:
            h.remove()
    return [(c, b) for c, b in pairs if calls[c] == 1 and calls[b] == 1]


def _replace(root: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, attr = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, attr, new)


def _agree(a: nn.Module, b: nn.Module, probe: Tensor) -> bool:
    """Whether ``a`` and ``b`` give the same outputs on ``probe`` to :data:`FOLD_RTOL` of their magnitude."""
    with torch.inference_mode():
        ya, yb = a(probe), b(probe)
    ta = list(ya.values()) if isinstance(ya, dict) else [ya]
    tb = list(yb.values()) if isinstance(yb, dict) else [yb]
    for x, y in zip(ta, tb, strict=True):
        if x.shape != y.shape:
            return False
        if x.numel() and float((x - y).abs().max()) > FOLD_RTOL * max(float(x.abs().max()), 1e-6):
            return False
    return True


__all__ = ["FOLD_RTOL", "fold_batchnorm"]
