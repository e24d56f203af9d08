"""Mixed precision of a training run (``train.amp``): which half precision a device applies, the note when it applies
none, and the autocast context of a step."""

from __future__ import annotations

import contextlib

import torch

from ..errors import AdaAnchorError
from ..models.precision import bf16_native


def amp_mode(device: torch.device, amp: str) -> str | None:
    if amp not in ("auto", "bf16", "fp16", "off"):
        raise AdaAnchorError(f"train.amp must be auto, bf16, fp16 or off, got {amp!r}")
    if amp == "off":
        return None
    if device.type == "cpu":  # bf16 where the CPU has bfloat16 units, asked for (auto stays float32 on a CPU)
        return "bf16" if amp == "bf16" and bf16_native(device) else None
    if device.type != "cuda":
        return None
    if amp == "auto":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return amp


def amp_note(device: torch.device, amp: str) -> list[str]:
    """A note when ``train.amp`` asks for a half precision that :func:`amp_mode` does not apply: the run trains in
    float32, and says so rather than silently."""
    if device.type == "cuda" or amp not in ("bf16", "fp16") or amp_mode(device, amp) is not None:
        return []
    if device.type == "cpu" and amp == "bf16":
        return ["note: train.amp=bf16: this CPU has no bfloat16 units (AMX or AVX512-BF16), where it would be "
                "emulated: training in float32"]
    return [f"note: train.amp={amp} applies on CUDA GPUs (bf16 also on CPUs with bfloat16 units): training on "
            f"{device.type} in float32"]


def autocast(device: torch.device, mode: str | None) -> contextlib.AbstractContextManager:
    if mode is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.float16 if mode == "fp16" else torch.bfloat16)


__all__ = ["amp_mode", "amp_note", "autocast"]
