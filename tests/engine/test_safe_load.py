"""Safe loading: checkpoints and configs never run code, and bad files give one clear error."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from adaanchor.config import build_config
from adaanchor.engine.checkpoint import atomic_save, safe_load
from adaanchor.engine.run import build_system, load_for_eval
from adaanchor.engine.train import train
from adaanchor.errors import AdaAnchorError


class _RunsCode:
    """Unpickling this calls os.system: what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def evil_ckpt(tmp_path):
    marker = tmp_path / "MARKER"
    path = tmp_path / "evil.pt"
    torch.save({"model": {"w": torch.zeros(2)}, "payload": _RunsCode(marker)}, path)
    assert not marker.exists()
    return path, marker


def test_a_checkpoint_that_would_run_code_is_refused(evil_ckpt, tiny_overrides):
    path, marker = evil_ckpt
    with pytest.raises(AdaAnchorError, match="refused") as e:
        safe_load(path)
    msg = str(e.value)
    assert str(path) in msg and "\n" not in msg and "system" in msg  # names the offending global
    assert "weights_only=False" not in msg  # no advice to turn the protection off
    # Every path a user can hand a file to: evaluation, starting weights, resume.
    cfg = build_config(None, tiny_overrides)
    with pytest.raises(AdaAnchorError, match="refused"):
        load_for_eval(cfg, path)
    with pytest.raises(AdaAnchorError, match="refused"):
        build_system(build_config(None, [*tiny_overrides, f"model.weights={path}"]))
    with pytest.raises(AdaAnchorError, match="refused"):
        train(build_config(None, [*tiny_overrides, f"resume={path}", "train.max_steps=1"]))
    assert not marker.exists()


def test_a_config_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "MARKER"
    bad = tmp_path / "evil.yaml"
    bad.write_text(f"seed: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(AdaAnchorError) as e:
        build_config(bad)
    assert "python/object/apply:os.system" in str(e.value) and str(bad) in str(e.value)
    assert not marker.exists()


def test_missing_truncated_and_junk_files(tmp_path):
    with pytest.raises(AdaAnchorError, match="checkpoint not found"):
        safe_load(tmp_path / "nope.pt")
    with pytest.raises(AdaAnchorError, match="a folder, not a checkpoint file"):  # was "checkpoint not found"
        safe_load(tmp_path)
    with pytest.raises(AdaAnchorError, match=r"/dev/null: not a regular file \(a device or a pipe\)"):
        safe_load("/dev/null")
    good = tmp_path / "good.pt"
    atomic_save({"model": {f"w{i}": torch.randn(64, 64) for i in range(4)}, "step": 3}, good)
    assert safe_load(good)["step"] == 3
    data = good.read_bytes()
    for name, content in [("truncated.pt", data[: len(data) // 2]), ("head.pt", data[:100]),
                          ("junk.pt", b"hello world" * 40), ("empty.pt", b"")]:
        p = tmp_path / name
        p.write_bytes(content)
        with pytest.raises(AdaAnchorError, match="not a readable checkpoint") as e:
            safe_load(p)
        assert str(p) in str(e.value) and "\n" not in str(e.value)
        # torch's advice to load with weights_only=False: false for junk, and a way to run a stranger's code
        assert "weights_only" not in str(e.value), str(e.value)


def test_atomic_save_leaves_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "last.pt"
    atomic_save({"step": 1}, path)
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        atomic_save({"step": 2, "bad": lambda: 0}, path)  # cannot be pickled: fails mid-write
    assert safe_load(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp file left behind


def test_a_checkpoint_of_another_architecture_is_a_clear_error(tiny_overrides, tmp_path):
    cfg8 = build_config(None, [*tiny_overrides, "train.max_steps=1", "train.eval_every=0"])
    ckpt = f"{train(cfg8)['run_dir']}/checkpoints/last.pt"
    wider = [*tiny_overrides, "model.tiny_width=16"]
    with pytest.raises(AdaAnchorError, match=r"trained as another model than this config \(model.tiny_width 8 there, "
                                             r"16 here\)") as e:
        load_for_eval(build_config(None, wider), ckpt)  # the checkpoint's own config says so
    assert "\n" not in str(e.value)
    bare = tmp_path / "bare.pt"
    atomic_save({"model": safe_load(ckpt)["model"]}, bare)  # weights without a config: their shapes say so
    with pytest.raises(AdaAnchorError, match="does not match the model") as e:
        load_for_eval(build_config(None, wider), bare)
    assert "\n" not in str(e.value)
    with pytest.raises(AdaAnchorError, match="cannot resume") as e:
        train(build_config(None, [*wider, f"resume={ckpt}", f"out_dir={tmp_path / 'w16'}"]))
    assert "\n" not in str(e.value)
    other = [*tiny_overrides, "strategy.name=heatmap"]
    with pytest.raises(AdaAnchorError, match="strategy.name 'adaanchor' there, 'heatmap' here"):
        load_for_eval(build_config(None, other), ckpt)
    with pytest.raises(AdaAnchorError, match="does not match the model"):
        load_for_eval(build_config(None, other), bare)
    weights_only = tmp_path / "weights.pt"
    atomic_save({"model": safe_load(ckpt)["model"]}, weights_only)
    with pytest.raises(AdaAnchorError, match="not a training checkpoint.*model.weights"):
        train(build_config(None, [*tiny_overrides, f"resume={weights_only}", f"out_dir={tmp_path / 'r'}"]))


def test_a_checkpoint_is_readable_by_the_group_as_the_umask_says(tmp_path):
    """mkstemp creates 0600: checkpoints were unreadable to the others on a shared machine, unlike the logs."""
    import os

    from adaanchor.engine.checkpoint import atomic_save

    old = os.umask(0o022)
    try:
        atomic_save({"w": torch.zeros(2)}, tmp_path / "a.pt")
        os.umask(0o077)
        atomic_save({"w": torch.zeros(2)}, tmp_path / "b.pt")
    finally:
        os.umask(old)
    assert (tmp_path / "a.pt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.pt").stat().st_mode & 0o777 == 0o600


def test_ctrl_c_during_a_checkpoint_write_comes_after_it(tmp_path, monkeypatch):
    """A second Ctrl-C inside torch.save broke the write, reported as a failed disk write; it is now delivered
    once the file is complete."""
    import os
    import signal

    import adaanchor.engine.checkpoint as ck

    real = torch.save

    def interrupted_save(obj, f):
        os.kill(os.getpid(), signal.SIGINT)  # arrives in the middle of the write
        real(obj, f)

    monkeypatch.setattr(ck.torch, "save", interrupted_save)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, whatever runs the test
    try:
        with pytest.raises(KeyboardInterrupt):
            ck.atomic_save({"w": torch.arange(3.0)}, tmp_path / "c.pt")
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    monkeypatch.setattr(ck.torch, "save", real)
    assert torch.equal(ck.safe_load(tmp_path / "c.pt")["w"], torch.arange(3.0))
    assert not list(tmp_path.glob("*.tmp"))
