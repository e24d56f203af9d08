"""``train.amp=bf16|fp16`` on a CPU: the run trains in float32 (autocast applies on CUDA only) and says so in one
line, where it said nothing."""

from __future__ import annotations

import pytest
import torch

from adaanchor.config import build_config
from adaanchor.engine.session import amp_mode, amp_note
from adaanchor.engine.train import train


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_half_precision_on_cpu_is_noted(tiny_overrides, capsys, amp):
    cpu = torch.device("cpu")
    assert amp_mode(cpu, amp) is None
    out = train(build_config(None, [*tiny_overrides, "train.eval_every=0", "train.max_steps=1", f"train.amp={amp}",
                                    "train.device=cpu"]))
    assert out["steps"] == 1
    err = capsys.readouterr().err
    assert f"note: train.amp={amp} applies on CUDA GPUs only: training on cpu in float32" in err.splitlines()


def test_no_note_for_auto_or_off_or_cuda():
    assert amp_note(torch.device("cpu"), "auto") == [] and amp_note(torch.device("cpu"), "off") == []
    assert amp_note(torch.device("cuda"), "bf16") == []
