"""``adaanchor demo --task bottomup|centre --out runs/demo``: the folder given is the one written, also when it is
the single-person demo's default name (it was taken for "not given" and the demo wrote runs/demo_bottomup)."""

from __future__ import annotations

import inspect

import pytest

import adaanchor.demo as demo
import adaanchor.demo_bottomup as demo_bottomup
import adaanchor.demo_centre as demo_centre
from adaanchor.cli import main


@pytest.mark.parametrize("task,module,name,default", [
    ("bottomup", demo_bottomup, "run_bottomup_demo", "runs/demo_bottomup"),
    ("centre", demo_centre, "run_centre_demo", "runs/demo_centre"),
])
def test_the_out_folder_given_is_the_one_used(monkeypatch, task, module, name, default):
    seen = []
    default_out = inspect.signature(getattr(module, name)).parameters["out_dir"].default  # the function's own
    monkeypatch.setattr(module, name, lambda out_dir=default_out, **kw: seen.append(str(out_dir)))
    assert main(["demo", "--task", task, "--out", "runs/demo"]) == 0
    assert main(["demo", "--task", task, "--out", "elsewhere"]) == 0
    assert main(["demo", "--task", task]) == 0
    assert seen == ["runs/demo", "elsewhere", default]


def test_the_single_person_demo_keeps_its_default(monkeypatch):
    seen = []
    default_out = inspect.signature(demo.run_demo).parameters["out_dir"].default
    monkeypatch.setattr(demo, "run_demo", lambda out_dir=default_out, **kw: seen.append(str(out_dir)))
    assert main(["demo"]) == 0 and main(["demo", "--out", "x"]) == 0
    assert seen == ["runs/demo", "x"]
