"""``train.amp`` on a CPU: ``bf16`` trains under bfloat16 autocast where the CPU has bfloat16 units (AMX,
AVX512-BF16) and in float32, with a note, where it has none; ``fp16`` trains in float32 with a note (it said
nothing before); ``auto`` stays float32 on a CPU."""

from __future__ import annotations

import pytest
import torch

from adaanchor.config import build_config
from adaanchor.engine import amp
from adaanchor.engine.amp import amp_mode, amp_note
from adaanchor.engine.train import train

CPU = torch.device("cpu")


def _train(tiny_overrides, amp: str) -> dict:
    return train(build_config(None, [*tiny_overrides, "train.eval_every=0", "train.max_steps=1", f"train.amp={amp}",
                                     "train.device=cpu"]))


def test_fp16_on_cpu_is_noted(tiny_overrides, capsys):
    assert amp_mode(CPU, "fp16") is None
    assert _train(tiny_overrides, "fp16")["steps"] == 1
    assert ("note: train.amp=fp16 applies on CUDA GPUs (bf16 also on CPUs with bfloat16 units): training on cpu in "
            "float32") in capsys.readouterr().err.splitlines()


def test_bf16_on_a_cpu_without_bfloat16_units_is_noted(tiny_overrides, capsys, monkeypatch):
    monkeypatch.setattr(amp, "bf16_native", lambda device: False)
    assert amp_mode(CPU, "bf16") is None
    assert _train(tiny_overrides, "bf16")["steps"] == 1
    assert any("train.amp=bf16: this CPU has no bfloat16 units" in line for line in capsys.readouterr().err.splitlines())


def test_bf16_on_a_cpu_with_bfloat16_units_trains_under_autocast(tiny_overrides, capsys, monkeypatch):
    monkeypatch.setattr(amp, "bf16_native", lambda device: True)
    assert amp_mode(CPU, "bf16") == "bf16" and amp_note(CPU, "bf16") == []
    seen = []
    real = torch.autocast

    def spy(device_type, *args, **kwargs):
        seen.append((device_type, kwargs.get("dtype")))
        return real(device_type, *args, **kwargs)

    monkeypatch.setattr(torch, "autocast", spy)
    out = _train(tiny_overrides, "bf16")
    assert out["steps"] == 1 and ("cpu", torch.bfloat16) in seen
    assert "train.amp" not in capsys.readouterr().err


def test_no_note_for_auto_or_off_or_cuda():
    assert amp_mode(CPU, "auto") is None and amp_mode(CPU, "off") is None
    assert amp_note(CPU, "auto") == [] and amp_note(CPU, "off") == []
    assert amp_note(torch.device("cuda"), "bf16") == []


@pytest.mark.parametrize("amp", ["bf16", "fp16", "auto", "off"])
def test_other_devices_train_in_float32(amp):
    assert amp_mode(torch.device("mps"), amp) is None
