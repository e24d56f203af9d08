"""Warnings of options nothing reads name what the user set, not what a packaged config set: ``adaanchor train
task=bottomup data.format=coco ...`` on the packaged custom.yaml warned that ``data.aug.scale`` has no effect."""

from __future__ import annotations

from types import SimpleNamespace

from omegaconf import OmegaConf

from adaanchor.config import build_config
from adaanchor.config_files import packaged_keys
from adaanchor.configs import PACKAGED_CONFIGS
from adaanchor.strategies.inert import PACKAGED_KEYS, inert_warnings

CUSTOM = str(PACKAGED_CONFIGS / "custom.yaml")
OVERRIDES = ["task=bottomup", "data.format=coco", "data.root=/nowhere"]


def _warnings(overrides: list[str], quiet: frozenset[str]) -> list[str]:
    cfg = OmegaConf.to_container(build_config(CUSTOM, overrides), resolve=True)
    token = PACKAGED_KEYS.set(quiet)
    try:
        return inert_warnings(cfg)
    finally:
        PACKAGED_KEYS.reset(token)


def test_the_packaged_configs_own_values_are_not_warned_of_the_users_are():
    keys = packaged_keys(CUSTOM, OVERRIDES)
    assert {"data.aug.scale", "data.aug.rotation", "model.backbone"} <= keys and "task" not in keys
    assert "data.format" not in keys  # overridden
    assert any("data.aug.scale has no effect" in w for w in _warnings(OVERRIDES, frozenset()))  # as it was
    assert not any("data.aug" in w for w in _warnings(OVERRIDES, keys))
    mine = [*OVERRIDES, "data.aug.scale=0.3"]
    said = _warnings(mine, packaged_keys(CUSTOM, mine))
    assert [w for w in said if "data.aug" in w] == [
        "warning: data.aug.scale has no effect: task=bottomup augments whole images with data.multi_aug"]


def test_a_users_own_file_and_a_whole_section_override_keep_every_warning(tmp_path):
    own = tmp_path / "mine.yaml"
    own.write_text("data:\n  aug: {scale: 0.3}\n")
    assert packaged_keys(own, OVERRIDES) == frozenset() and packaged_keys(None) == frozenset()
    assert "data.aug.scale" not in packaged_keys("custom", ["data.aug={flip: 0.5}"])  # the section given whole


def test_train_on_the_command_line_sets_them_around_the_training(monkeypatch):
    import adaanchor.engine.train as engine_train
    from adaanchor.cli import commands

    seen = {}

    def fake_train(cfg):
        seen["keys"] = PACKAGED_KEYS.get()
        return {"timed_out": False}

    monkeypatch.setattr(engine_train, "train", fake_train)
    monkeypatch.setenv("RANK", "1")  # another rank reports nothing: the test stops after the training
    assert commands.cmd_train(SimpleNamespace(config="task=bottomup", overrides=OVERRIDES[1:])) == 0
    assert "data.aug.scale" in seen["keys"] and PACKAGED_KEYS.get() == frozenset()
