"""Configuration: defaults, YAML files, key=value overrides, and the user errors they raise."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaanchor.config import DEFAULTS, build_config, defaults, parse_overrides, read_yaml, save_config
from adaanchor.errors import AdaAnchorError
from adaanchor.strategies import STRATEGY_NAMES, build_strategy


def test_defaults_build_and_are_copies():
    cfg = build_config()
    assert cfg.strategy.name == "adaanchor" and cfg.strategy.topk == 20 and cfg.strategy.sigma == 4.0
    assert cfg.strategy.fusion == "mul" and cfg.strategy.candidate_radius is None
    assert "input_size" in cfg.data  # the data section is filled in
    d = defaults()
    d["strategy"]["topk"] = 99
    d["data"]["root"] = "elsewhere"
    assert DEFAULTS["strategy"]["topk"] == 20
    assert defaults()["data"]["root"] != "elsewhere"


def test_parse_overrides():
    got = parse_overrides(["train.lr=0.01", "strategy.name=heatmap", "a.b.c=[1, 2]", "x=null", "y=true", "z=3"])
    assert got == {"train": {"lr": 0.01}, "strategy": {"name": "heatmap"}, "a": {"b": {"c": [1, 2]}},
                   "x": None, "y": True, "z": 3}
    assert parse_overrides([]) == {}


def test_overrides_are_typed_and_applied():
    cfg = build_config(None, [
        "strategy.topk=3", "train.lr=1", "strategy.candidate_radius=2.5", "train.lr_steps=[3,5]",
        "strategy.refine=false", "model.weights=null", "train.max_steps=7", "strategy.fusion=add",
    ])
    assert cfg.strategy.topk == 3 and cfg.strategy.candidate_radius == 2.5 and cfg.train.max_steps == 7
    assert cfg.train.lr == 1 and list(cfg.train.lr_steps) == [3, 5]
    assert cfg.strategy.refine is False and cfg.model.weights is None and cfg.strategy.fusion == "add"
    assert cfg.train.batch_size == DEFAULTS["train"]["batch_size"]  # untouched keys keep their defaults
    # a mapping of overrides works the same
    cfg2 = build_config(None, {"strategy": {"topk": 3}})
    assert cfg2.strategy.topk == 3 and cfg2.strategy.sigma == 4.0


@pytest.mark.parametrize(
    "override,named,suggested",
    [
        ("strategy.topkk=3", "strategy.topkk", "strategy.topk"),
        ("trian.lr=0.1", "trian", "train"),
        ("strategy.sigmaa=2", "strategy.sigmaa", "strategy.sigma"),
        ("data.input_sise=[64,64]", "data.input_sise", "data.input_size"),
        ("model.backbon=resnet18", "model.backbon", "model.backbone"),
        ("data.aug.flipp=0.5", "data.aug.flipp", "data.aug.flip"),
    ],
)
def test_unknown_key_is_named_with_closest_match(override, named, suggested):
    with pytest.raises(AdaAnchorError) as e:
        build_config(None, [override])
    msg = str(e.value)
    assert f"'{named}'" in msg
    assert f"Did you mean '{suggested}'" in msg
    assert "\n" not in msg


def test_unknown_key_lists_valid_keys_of_its_section():
    with pytest.raises(AdaAnchorError) as e:
        build_config(None, ["strategy.qqq=1"])
    msg = str(e.value)
    assert "'strategy.qqq'" in msg
    for key in ("strategy.topk", "strategy.sigma", "strategy.fusion", "strategy.warmup_steps"):
        assert key in msg


def test_unknown_key_in_a_yaml_file(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("strategy:\n  name: fixanchor\n  topkk: 3\n")
    with pytest.raises(AdaAnchorError, match=r"'strategy.topkk'.*Did you mean 'strategy.topk'"):
        build_config(p)


def test_unknown_strategy_lists_valid_names():
    with pytest.raises(AdaAnchorError) as e:
        build_config(None, ["strategy.name=adanchor"])
    msg = str(e.value)
    assert "'adanchor'" in msg and "Did you mean 'adaanchor'" in msg
    for name in STRATEGY_NAMES:
        assert name in msg
    with pytest.raises(AdaAnchorError, match="mul"):
        build_config(None, ["strategy.fusion=sum"])


@pytest.mark.parametrize(
    "override,key,typ",
    [
        ("train.lr=abc", "train.lr", "float"),
        ("strategy.topk=2.5", "strategy.topk", "int"),
        ("strategy.topk=true", "strategy.topk", "int"),
        ("strategy.refine=3", "strategy.refine", "bool"),
        ("train.lr_steps=5", "train.lr_steps", "list"),
        ("strategy.name=3", "strategy.name", "str"),
        ("seed=1.5", "seed", "int"),
        ("strategy.topk.x=1", "strategy.topk", "int"),
    ],
)
def test_wrong_types_are_errors(override, key, typ):
    with pytest.raises(AdaAnchorError) as e:
        build_config(None, [override])
    assert f"'{key}' must be {typ}" in str(e.value)


def test_scalar_for_a_section_is_a_user_error():
    with pytest.raises(AdaAnchorError, match="strategy"):
        build_config(None, ["strategy=3"])


def test_malformed_override():
    with pytest.raises(AdaAnchorError, match="key=value"):
        parse_overrides(["train.lr"])
    with pytest.raises(AdaAnchorError, match="cannot parse"):
        parse_overrides(["a=[1"])


def test_malformed_override_message_is_one_line():
    with pytest.raises(AdaAnchorError) as e:
        parse_overrides(["a=[1"])
    assert "\n" not in str(e.value)


def test_yaml_files(tmp_path):
    with pytest.raises(AdaAnchorError, match="not found"):
        read_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("strategy: [unclosed\n")
    with pytest.raises(AdaAnchorError, match="not valid YAML") as e:
        read_yaml(bad)
    assert "\n" not in str(e.value)
    lst = tmp_path / "list.yaml"
    lst.write_text("- a\n- b\n")
    with pytest.raises(AdaAnchorError, match="mapping"):
        read_yaml(lst)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert read_yaml(empty) == {}
    # safe loading: no Python object can be built from a config file
    evil = tmp_path / "evil.yaml"
    evil.write_text("seed: !!python/object/apply:os.getcwd []\n")
    with pytest.raises(AdaAnchorError):
        read_yaml(evil)


def test_file_then_overrides_then_save_roundtrip(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("strategy:\n  name: heatmap\n  heatmap_sigma: 1.5\ntrain:\n  lr: 0.002\n")
    cfg = build_config(p, ["train.lr=0.005"])
    assert cfg.strategy.name == "heatmap" and cfg.strategy.heatmap_sigma == 1.5
    assert cfg.train.lr == 0.005  # overrides win over the file
    out = tmp_path / "saved.yaml"
    save_config(cfg, out)
    assert build_config(out) == cfg
    assert build_config({"strategy": {"name": "heatmap", "heatmap_sigma": 1.5}, "train": {"lr": 0.005}}) == cfg


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_every_strategy_builds_from_its_config(name):
    cfg = build_config(None, [f"strategy.name={name}", "strategy.topk=7", "strategy.refine=false"])
    st = build_strategy(cfg.strategy, 5, 4, (64, 48))
    assert st.name == name
    if name in ("adaanchor", "fixanchor"):
        assert st.topk == 7 and "local" not in st.heads
    with pytest.raises(AdaAnchorError, match="Valid"):
        build_strategy({**cfg.strategy, "name": "nope"}, 5, 4, (64, 48))


def test_shipped_configs_are_valid():
    import adaanchor

    files = sorted((Path(adaanchor.__file__).parent / "configs").glob("*.yaml"))
    for f in files:
        cfg = build_config(f)
        assert cfg.strategy.name in STRATEGY_NAMES, f
