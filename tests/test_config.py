"""Configuration: defaults, YAML files, key=value overrides, and the user errors they raise."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf

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
        # pairs of the generated benchmarks (tuple defaults): OmegaConf's traceback before
        ("data.synth.occluders=abc", "data.synth.occluders", "list"),
        ("data.synth.occluders={a: 1}", "data.synth.occluders", "list"),
        ("data.crowd.people=abc", "data.crowd.people", "list"),
    ],
)
def test_wrong_types_are_errors(override, key, typ):
    with pytest.raises(AdaAnchorError) as e:
        build_config(None, [override])
    assert f"'{key}' must be {typ}" in str(e.value)


def test_scalar_for_a_section_is_a_user_error():
    with pytest.raises(AdaAnchorError, match="strategy"):
        build_config(None, ["strategy=3"])


@pytest.mark.parametrize("base,says", [
    (["train.max_steps=2"], r"got list: overrides go second, build_config\(None, \[\.\.\.\]\) or build_config\('demo', "),
    (3, r"got int$"),
])
def test_a_base_that_is_no_config_is_a_type_error(base, says):
    """``build_config(["train.max_steps=2"])``, overrides given first, raised ``AttributeError: 'list' object has no
    attribute 'items'`` from inside the override parser."""
    with pytest.raises(TypeError, match=r"^build_config: base must be a config file, a packaged config's name or a "
                                        r"mapping, " + says):
        build_config(base)


@pytest.mark.parametrize("cfg,got", [("demo", "str"), ({"train": {"max_steps": 1}}, "dict"), (None, "NoneType"),
                                     ("data", r"a config section \(DictConfig without task, strategy, model, eval, data\)")])
def test_train_refuses_what_is_not_a_config(cfg, got, tmp_path, monkeypatch):
    """``train("demo")`` and ``train(dict)`` raised OmegaConf's ``ValueError: Input cfg is not an OmegaConf config
    object``, ``train(cfg.data)`` ``AttributeError: 'str' object has no attribute 'device'``."""
    from adaanchor.engine.train import train

    monkeypatch.chdir(tmp_path)
    if cfg == "data":
        cfg = build_config("demo").data
    with pytest.raises(TypeError, match=rf"^train: expected the config of build_config\(CONFIG, overrides\), got {got}: "
                                        r"train\(build_config\('demo', \['train.max_steps=100'\]\)\)$"):
        train(cfg)
    assert not any(tmp_path.iterdir())


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


# ---- one definition: the config's keys come from the components' default tables ---------------------------


def test_strategy_and_model_sections_are_derived_from_the_registries():
    from adaanchor.models.backbones import BACKBONES
    from adaanchor.strategies import STRATEGIES

    d = defaults()
    expected = {"name"} | {k for cls in STRATEGIES.values() for k in cls.DEFAULTS}
    assert set(d["strategy"]) == expected
    for cls in STRATEGIES.values():
        for key, value in cls.DEFAULTS.items():
            assert d["strategy"][key] == value, key
    assert set(d["model"]) == {"backbone", "weights"} | {k for cls in BACKBONES.values() for k in cls.DEFAULTS}


def test_a_registered_strategy_brings_its_keys(monkeypatch):
    from adaanchor.strategies import STRATEGIES, HeatmapStrategy

    class Wider(HeatmapStrategy):
        name = "wider"
        DEFAULTS = {"heatmap_sigma": 2.0, "wider_factor": 3}

        @classmethod
        def from_config(cls, section, num_keypoints, stride, input_size):
            st = super().from_config(section, num_keypoints, stride, input_size)
            st.factor = cls.options(section)["wider_factor"]
            return st

    monkeypatch.setitem(STRATEGIES, "wider", Wider)
    cfg = build_config(None, ["strategy.name=wider", "strategy.wider_factor=5"])
    st = build_strategy(cfg.strategy, 5, 4, (64, 48))
    assert isinstance(st, Wider) and st.factor == 5 and st.sigma == 2.0


def test_two_defaults_for_one_strategy_key_is_refused(monkeypatch):
    from adaanchor.strategies import STRATEGIES, RegressionStrategy, strategy_defaults

    class Clash(RegressionStrategy):
        DEFAULTS = {"topk": 3}  # AnchorStrategy says 20

    monkeypatch.setitem(STRATEGIES, "clash", Clash)
    with pytest.raises(RuntimeError, match="strategy.topk has two defaults"):
        strategy_defaults()


def test_every_range_names_an_existing_key_and_every_default_is_in_range():
    from adaanchor.config import all_ranges
    from adaanchor.config_checks import select as _select

    d = defaults()
    for key, checker in all_ranges().items():
        parent, _, last = key.rpartition(".")
        section = _select(d, parent) if parent else d
        assert isinstance(section, dict) and last in section, f"range for a key that does not exist: {key}"
        if _select(d, key) is not None:
            checker.check(key, _select(d, key))  # the defaults pass their own ranges


# ---- ranges ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "override,text",
    [
        ("train.lr=0", "'train.lr': the value must be > 0"),
        ("train.lr=-0.1", "'train.lr': the value must be > 0"),
        ("train.lr=.inf", "'train.lr': the value must be a finite number > 0"),
        ("train.lr=.nan", "'train.lr': the value must be a finite number > 0"),
        ("train.lr_factor=-1", "'train.lr_factor': the value must be in (0, 1]"),
        ("train.lr_factor=0", "'train.lr_factor': the value must be in (0, 1]"),
        ("train.lr_factor=1.5", "'train.lr_factor': the value must be in (0, 1]"),
        ("train.weight_decay=-1e-4", "'train.weight_decay': the value must be >= 0"),
        ("train.grad_clip=-1", "'train.grad_clip': the value must be > 0 (or null)"),
        ("train.grad_clip=0", "'train.grad_clip': the value must be > 0 (or null)"),
        ("train.workers=-1", "'train.workers': the value must be in [0, 1024]"),
        ("train.batch_size=0", "'train.batch_size': the value must be in [1, 65536]"),
        ("train.batch_size=1000000", "'train.batch_size': the value must be in [1, 65536]"),
        ("eval.batch_size=0", "'eval.batch_size': the value must be in [1, 65536]"),
        ("seed=-1", "'seed': the value must be in [0, 4294967295]"),
        ("seed=4294967296", "'seed': the value must be in [0, 4294967295]"),
        ("train.max_steps=0", "'train.max_steps': the value must be a whole number >= 1 (or null)"),
        ("train.epochs=0", "'train.epochs': the value must be >= 1"),
        ("train.lr_steps=[3,-1]", "'train.lr_steps': every element of the value must be whole numbers >= 0"),
        ("eval.max_images=0", "'eval.max_images': the value must be a whole number >= 1 (or null)"),
        ("eval.pck=[0.05,0]", "'eval.pck': every element of the value must be in (0, 1]"),
        ("eval.pck=[1.5]", "'eval.pck': every element of the value must be in (0, 1]"),
        ("strategy.heatmap_sigma=0", "'strategy.heatmap_sigma': the value must be > 0"),
        ("strategy.sigma=-2", "'strategy.sigma': the value must be > 0"),
        ("strategy.focal_gamma=-1", "'strategy.focal_gamma': the value must be >= 0"),
        ("strategy.topk=0", "'strategy.topk': the value must be >= 1"),
        ("strategy.candidate_radius=0", "'strategy.candidate_radius': the value must be > 0 (or null)"),
        ("strategy.conf_prior=1", "'strategy.conf_prior': the value must be in (0, 1)"),
        ("strategy.warmup_steps=-5", "'strategy.warmup_steps': the value must be >= 0"),
        ("data.aug.flip=1.5", "'data.aug.flip': the value must be in [0, 1]"),
        ("data.aug.flip=-0.1", "'data.aug.flip': the value must be in [0, 1]"),
        ("data.aug.scale=-0.25", "'data.aug.scale': the value must be in [0, 1)"),
        ("data.aug.rotation=400", "'data.aug.rotation': the value must be in [0, 180]"),
        ("data.aug.half_body=2", "'data.aug.half_body': the value must be in [0, 1]"),
        ("data.occlusion.coverage=0", "'data.occlusion.coverage': the value must be in (0, 1)"),
        ("data.occlusion.coverage=1", "'data.occlusion.coverage': the value must be in (0, 1)"),
        ("data.split.val_fraction=1", "'data.split.val_fraction': the value must be in (0, 1)"),
        ("model.tiny_width=1", "'model.tiny_width': the value must be >= 2"),
        ("model.deconv_layers=6", "'model.deconv_layers': the value must be in [0, 5]"),
    ],
)
def test_numeric_options_are_range_checked(override, text):
    with pytest.raises(AdaAnchorError) as e:
        build_config(None, [override])
    msg = str(e.value)
    assert text in msg and "got" in msg and "\n" not in msg


@pytest.mark.parametrize("override", ["train.time_limit_s=1h", "train.time_limit_s=true", "train.time_limit_s=nan",
                                      "train.max_steps=yes", "train.grad_clip=inf", "eval.max_images=all",
                                      "train.max_steps=2.5", "eval.max_images=2.5"])
def test_options_whose_default_is_null_refuse_what_is_not_a_number(override):
    # No default type to check them against: '1h' stopped the training with a traceback, 'nan' never stopped
    # it, and true was read as 1 (a one-second limit, one step).
    key = override.split("=")[0]
    with pytest.raises(AdaAnchorError, match=f"config key '{key}': the value must be a (whole )?number .*, got"):
        build_config(None, [override])


def test_a_count_whose_default_is_null_takes_a_whole_number_written_as_a_float():
    assert build_config(None, ["train.max_steps=1e4"]).train.max_steps == 1e4


@pytest.mark.parametrize("override", ["train.grad_clip=null", "train.max_steps=null", "eval.max_images=null",
                                      "strategy.candidate_radius=null", "train.grad_clip=1.0", "train.lr_factor=1",
                                      "data.aug.flip=0", "data.aug.flip=1", "seed=4294967295", "train.workers=0"])
def test_values_at_the_edges_of_their_range_are_accepted(override):
    build_config(None, [override])


def test_input_size_must_be_a_multiple_of_the_backbone_input_multiple():
    with pytest.raises(AdaAnchorError, match=r"backbone hrnet_w18 needs .* divisible by 32"):
        build_config(None, ["model.backbone=hrnet_w18", "data.input_size=[72,96]"])
    assert list(build_config(None, ["model.backbone=hrnet_w18", "data.input_size=[64,96]"]).data.input_size) == [64, 96]
    for bad in ("[0,96]", "[64]"):
        with pytest.raises(AdaAnchorError, match="data.input_size must be two positive integers"):
            build_config(None, [f"data.input_size={bad}"])
    # An element that is no integer: the type check of every list's elements (the default's are integers) says which.
    with pytest.raises(AdaAnchorError, match=r"^config key 'data.input_size': element 0 must be an integer, got 64.5$"):
        build_config(None, ["data.input_size=[64.5,96]"])


def test_out_dir_must_not_be_empty():
    for value in ("''", "'  '"):
        with pytest.raises(AdaAnchorError, match="'out_dir' must be a non-empty path"):
            build_config(None, [f"out_dir={value}"])


def test_choices_are_checked_at_config_time():
    with pytest.raises(AdaAnchorError, match=r"unknown backbone 'resnet19'.*Did you mean 'resnet18'"):
        build_config(None, ["model.backbone=resnet19"])
    with pytest.raises(AdaAnchorError, match="unknown train.amp 'fp8'"):
        build_config(None, ["train.amp=fp8"])
    with pytest.raises(AdaAnchorError, match=r"unknown data.format 'cocoo'. Did you mean 'coco'"):
        build_config(None, ["data.format=cocoo"])
    with pytest.raises(AdaAnchorError, match="synth option 'n_train'"):
        build_config(None, ["data.synth.n_train=-1"])


# ---- YAML faults -------------------------------------------------------------------------------------------


def test_yaml_alias_bomb_is_refused_quickly(tmp_path):
    import time

    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 10):  # 9 ** 10 values once expanded
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [{', '.join([f'*{prev}'] * 9)}]")
    p = tmp_path / "bomb.yaml"
    p.write_text("\n".join(lines) + "\n")
    t = time.perf_counter()
    with pytest.raises(AdaAnchorError, match="alias") as e:
        build_config(p)
    assert time.perf_counter() - t < 5 and str(p) in str(e.value)


def test_recursive_yaml_alias_is_refused(tmp_path):
    p = tmp_path / "loop.yaml"
    p.write_text("train: &t {lr_steps: *t}\n")
    with pytest.raises(AdaAnchorError, match="recursive"):
        read_yaml(p)
    with pytest.raises(AdaAnchorError, match="recursive"):
        parse_overrides(["train.lr_steps=&x [*x]"])


def test_yaml_aliases_of_modest_size_still_work(tmp_path):
    p = tmp_path / "anchors.yaml"
    p.write_text("eval: {pck: &p [0.05, 0.2]}\ndata: {occlusion: {count: [1, 2]}}\n")
    assert list(build_config(p).eval.pck) == [0.05, 0.2]


def test_oversized_config_file_is_refused_before_parsing(tmp_path):
    from adaanchor.config import MAX_CONFIG_BYTES

    p = tmp_path / "big.yaml"
    p.write_text("# " + "x" * MAX_CONFIG_BYTES + "\n")
    with pytest.raises(AdaAnchorError, match="bytes, more than"):
        read_yaml(p)


def test_duplicate_yaml_key_is_an_error_naming_key_and_line(tmp_path):
    p = tmp_path / "dup.yaml"
    p.write_text("train:\n  lr: 0.01\n  epochs: 3\n  lr: 0.1\n")
    with pytest.raises(AdaAnchorError) as e:
        build_config(p)
    msg = str(e.value)
    assert "duplicate key 'lr' on line 4 (first on line 2)" in msg and str(p) in msg and "\n" not in msg
    top = tmp_path / "dup_top.yaml"
    top.write_text("seed: 1\nseed: 2\n")
    with pytest.raises(AdaAnchorError, match="duplicate key 'seed' on line 2"):
        read_yaml(top)
    merge = tmp_path / "merge.yaml"  # a merge key is not a duplicate
    merge.write_text("base: &b {lr: 0.1}\ntrain:\n  <<: *b\n  epochs: 2\n")
    assert read_yaml(merge)["train"] == {"lr": 0.1, "epochs": 2}


@pytest.mark.parametrize("text,value", [("1e-3", 1e-3), ("5E-4", 5e-4), ("+2e2", 200.0), ("-1.5e-3", -1.5e-3),
                                        ("1.0e-3", 1e-3), ("1_000.5", 1000.5)])
def test_exponent_floats_are_floats_in_files_and_overrides(tmp_path, text, value):
    p = tmp_path / "lr.yaml"
    p.write_text(f"strategy:\n  sigma: {text}\n")
    assert read_yaml(p)["strategy"]["sigma"] == value
    assert parse_overrides([f"strategy.sigma={text}"]) == {"strategy": {"sigma": value}}
    if value > 0:
        assert build_config(p).strategy.sigma == value


def test_override_conflicting_with_a_section_value():
    with pytest.raises(AdaAnchorError, match="another override sets to a value"):
        parse_overrides(["train=3", "train.lr=1"])
    assert parse_overrides(["train.lr=1", "train.lr=2"]) == {"train": {"lr": 2}}  # the later one wins


def test_method_doc_lists_every_strategy_option_with_its_default_and_range():
    import yaml

    from adaanchor.strategies import STRATEGIES

    doc = (Path(__file__).resolve().parents[1] / "docs" / "method.md").read_text()
    rows = {key: (default, valid) for key, default, valid in
            re.findall(r"^\| `strategy\.(\w+)` \| `([^`]*)` \| ([^|]+) \|", doc, flags=re.MULTILINE)}
    expected = {k for cls in STRATEGIES.values() for k in cls.DEFAULTS}
    assert set(rows) == expected | {"name"}
    for cls in STRATEGIES.values():
        for key, value in cls.DEFAULTS.items():
            default, valid = rows[key]
            assert yaml.safe_load(default) == value, key
            if key in cls.RANGES:
                assert valid.strip().startswith(cls.RANGES[key].describe()), key


def test_training_doc_lists_every_range():
    from adaanchor.config import all_ranges

    doc = (Path(__file__).resolve().parents[1] / "docs" / "training.md").read_text().split("## Valid ranges")[1]
    rows = dict(re.findall(r"^\| `([\w.]+)` \| ([^|]+) \|", doc, flags=re.MULTILINE))
    for key, checker in all_ranges().items():
        assert key in rows, f"docs/training.md 'Valid ranges' does not list {key}"
        assert checker.describe() in rows[key], (key, rows[key])


def test_packaged_configs_are_found_by_name_where_no_file_is(tmp_path, monkeypatch):
    """An installed package's configs are not in the working directory: ``demo`` / ``demo.yaml`` and the paper
    configs' ``coco/adaanchor_res50_256x192`` (or their old repository path ``configs/coco/...yaml``) name the
    packaged one, a file of that name in the working directory wins, and any other path is never redirected."""
    from adaanchor.configs import PACKAGED_CONFIGS, config_file, packaged_names

    monkeypatch.chdir(tmp_path)
    names = packaged_names()
    assert names[:3] == ["bottomup_crowd", "custom", "demo"]
    assert {"coco/adaanchor_res50_256x192", "mpii/heatmap_res50_256x256", "wflw/adaanchor_hrnet_w18_256",
            "crowdpose/centre_adaanchor_hrnet_w32_512", "faces/occluded_ytfaces68", "faces/truncated_ytfaces68"} <= set(names[3:])
    assert all(config_file(n).is_file() and config_file(n).is_relative_to(PACKAGED_CONFIGS) for n in names)
    paper = PACKAGED_CONFIGS / "coco" / "adaanchor_res50_256x192.yaml"
    for given in ("coco/adaanchor_res50_256x192", "coco/adaanchor_res50_256x192.yaml",
                  "configs/coco/adaanchor_res50_256x192.yaml", Path("configs/coco/adaanchor_res50_256x192.yml")):
        assert config_file(given) == paper, given
    assert build_config("coco/adaanchor_res50_256x192").model.backbone == "resnet50"
    for not_packaged in ("coco/../demo", "./demo", "configs/demo/x/y.yaml", "/coco/adaanchor_res50_256x192",
                         "coco/adaanchor_res50_256x192.json", "configs"):
        assert config_file(not_packaged) == Path(not_packaged), not_packaged
    assert config_file("demo") == config_file("demo.yaml") == PACKAGED_CONFIGS / "demo.yaml"
    assert read_yaml("demo") == read_yaml(PACKAGED_CONFIGS / "demo.yaml")
    assert build_config("bottomup_crowd").task == build_config(PACKAGED_CONFIGS / "bottomup_crowd.yaml").task
    from adaanchor.engine.run import resolve_run

    cfg, ckpt = resolve_run("demo", overrides=["seed=3"])  # eval / export / predict take a config too
    assert ckpt is None and cfg.seed == 3 and cfg.data.format == build_config(PACKAGED_CONFIGS / "demo.yaml").data.format
    # need_weights (predict, export, viz, eval): neither a checkpoint nor model.weights is refused, not random weights
    with pytest.raises(AdaAnchorError, match=r"^demo: no checkpoint"):
        resolve_run("demo", need_weights=True)
    assert resolve_run("demo", overrides=["model.weights=w.pt"], need_weights=True)[1] is None
    assert config_file("sub/demo.yaml") == Path("sub/demo.yaml")  # a path: not the packaged one
    assert config_file("demo.json") == Path("demo.json")
    (tmp_path / "demo.yaml").write_text("seed: 7\n")
    assert config_file("demo.yaml") == Path("demo.yaml") and build_config("demo.yaml").seed == 7
    with pytest.raises(AdaAnchorError, match=r"^sub/demo.yaml: config file not found. Did you mean 'demo'\? Packaged configs"):
        read_yaml("sub/demo.yaml")
    # A folder of a packaged config's name (``adaanchor demo --out demo`` writes one) does not hide the config ...
    (tmp_path / "custom").mkdir()
    assert config_file("custom") == PACKAGED_CONFIGS / "custom.yaml"
    assert build_config("custom").data.format == build_config(PACKAGED_CONFIGS / "custom.yaml").data.format
    # ... and a folder given as a path is named as one.
    with pytest.raises(AdaAnchorError, match=r"^custom: a folder, not a config file \(a YAML file or a packaged"):
        read_yaml("./custom")


def test_crowd_options_are_named_with_their_own_defaults():
    with pytest.raises(AdaAnchorError, match=r"^crowd option 'n_train': invalid value -1: expected a whole number >= 0 \(default 2000\)$"):
        build_config(None, ["data.crowd.n_train=-1"])
    with pytest.raises(AdaAnchorError, match=r"^synth option 'n_train': invalid value -1: expected a whole number >= 0 \(default 6000\)$"):
        build_config(None, ["data.synth.n_train=-1"])


def test_epochs_given_while_max_steps_sets_the_run_length_are_named(capsys):
    """The `custom` config counts its run in steps: train.epochs on the command line would be ignored silently."""
    build_config("custom", ["data.root=/nowhere", "train.epochs=50"])
    assert ("note: train.epochs=50 has no effect while train.max_steps=3000 is set (it counts the run in steps; "
            "train.max_steps=null counts epochs)") in capsys.readouterr().err
    build_config("custom", ["data.root=/nowhere", "train.epochs=50", "train.max_steps=null"])
    build_config("demo", ["train.epochs=50"])  # no max_steps: the epochs count
    cfg = build_config("custom", ["data.root=/nowhere"])
    build_config(OmegaConf.to_container(cfg), ["train.lr=0.01"])  # a resolved config sets both: not a user's choice
    assert "note" not in capsys.readouterr().err
    with pytest.raises(AdaAnchorError, match=r"train\.epochs"):  # refused first, with no note about it before
        build_config("custom", ["data.root=/nowhere", "train.epochs=0"])
    assert "note" not in capsys.readouterr().err


def test_a_yaml_boolean_word_for_a_string_option_is_read_as_the_word(tmp_path):
    """YAML reads `off` as False: `train.amp=off`, a documented value, was 'must be str, got False'."""
    assert build_config(None, ["train.amp=off"]).train.amp == "off"
    f = tmp_path / "c.yaml"
    f.write_text("train:\n  amp: off\n")
    assert build_config(f, []).train.amp == "off"
    with pytest.raises(AdaAnchorError, match=r"unknown train.amp 'true'. Valid: auto, bf16, fp16, off"):
        build_config(None, ["train.amp=true"])  # was "unknown train.amp 'on'", a word never typed


@pytest.mark.parametrize("value", ["[5,1]", "[5,5]", "[2.5]", "[-1]"])
def test_lr_steps_are_whole_milestones_in_increasing_order(value):
    # [5, 5] dropped the rate by lr_factor twice at 5 and [5, 1] read as [1, 5], without a word; 2.5 was cut to 2.
    with pytest.raises(AdaAnchorError, match=r"'train.lr_steps': (every element of )?the value must be whole numbers "
                                             r">= 0, in increasing order.*, got \["):
        build_config(None, [f"train.lr_steps={value}"])
    assert build_config(None, ["train.lr_steps=[1,5]"]).train.lr_steps == [1, 5]


def test_a_registry_name_is_checked_before_the_keys_of_its_section():
    # A run of a strategy registered by a user's script, opened in a process without it: the error named an option
    # of that strategy ("unknown config key 'strategy.sharp_gain'"), not the strategy.
    with pytest.raises(AdaAnchorError, match=r"^unknown strategy 'sharp'. Valid: adaanchor, "):
        build_config({"strategy": {"name": "sharp", "sharp_gain": 2.0}})
    with pytest.raises(AdaAnchorError, match=r"^unknown backbone 'mynet'. Valid: "):
        build_config(None, ["model.backbone=mynet", "model.my_width=3"])


@pytest.mark.parametrize("count,says", [
    ("[0,2]", r"'data\.occlusion\.count': every element of the value must be >= 1, got \[0, 2\]"),
    ("[3,1]", r"^data\.occlusion\.count must be \[min, max\] with min <= max, got \[3, 1\]$"),
    ("[1,2,3]", r"^data\.occlusion\.count must be \[min, max\]"),
])
def test_occluder_counts_are_refused_by_the_config_as_the_occluder_refuses_them(count, says):
    """The range said >= 0 and any length; the Occluder plans at least one per instance, [min, max]."""
    with pytest.raises(AdaAnchorError, match=says):
        build_config("demo", [f"data.occlusion.count={count}"])
    assert build_config("demo", ["data.occlusion.count=[2,2]"]).data.occlusion.count == [2, 2]


@pytest.mark.parametrize("override,says", [
    ("resume=true", "config key 'resume': the value must be a checkpoint path or auto (or null), got True (bool)"),
    ("resume=1.5", "got 1.5 (float); a path that reads as a number needs quotes: resume='1.5'"),
    ("resume=''", "config key 'resume': the value must be a checkpoint path or auto (or null), got ''"),
    ("model.weights=1", "config key 'model.weights': the value must be timm:NAME or a weights file path (or null)"),
    ("data.detections=[a]", "config key 'data.detections': the value must be a file path (relative to data.root)"),
    ("data.csv=true", "config key 'data.csv': the value must be a file path (or null), got True (bool)"),
    ("data.split.by=bogus", "unknown data.split.by 'bogus'"),
])
def test_keys_whose_default_is_null_still_have_a_type(override, says):
    """``resume=true`` was a TypeError traceback in the checkpoint search, ``data.detections=[a]`` looked for a file
    named ``['a']``, and ``data.split.by=bogus`` was accepted where the data had its own val file."""
    with pytest.raises(AdaAnchorError) as e:
        build_config("demo", [override])
    assert says in str(e.value)


def test_a_path_object_is_a_file_path(tmp_path):
    cfg = build_config("demo", {"model.weights": tmp_path / "w.pt", "resume": "auto", "data.split.by": "random"})
    assert str(cfg.model.weights) == str(tmp_path / "w.pt")


@pytest.mark.parametrize("text,value", [("1:30", "1:30"), ("190:20:30.15", "190:20:30.15"), ("12", 12), ("1e-3", 0.001)])
def test_yaml_reads_base_60_as_text_as_yaml_1_2_does(text, value):
    """YAML 1.1 read ``1:30`` as the number 90: ``train.epochs=1:30`` trained 90 epochs without a word."""
    from adaanchor.safe_yaml import load_yaml_text

    assert load_yaml_text(f"k: {text}") == {"k": value}


def test_a_base_60_override_is_a_type_error():
    with pytest.raises(AdaAnchorError, match=r"config key 'train.epochs' must be int, got '1:30' \(str\)"):
        build_config("demo", ["train.epochs=1:30"])


def test_a_date_is_text_as_yaml_1_2_reads_it():
    """YAML 1.1's timestamps reached OmegaConf: "Value 'date' is not a supported primitive type"."""
    from adaanchor.safe_yaml import load_yaml_text

    assert load_yaml_text("k: 2024-01-01") == {"k": "2024-01-01"}
    with pytest.raises(AdaAnchorError, match=r"config key 'train.lr' must be float, got '2024-01-01' \(str\)"):
        build_config("demo", ["train.lr=2024-01-01"])


def test_a_built_config_can_be_built_on():
    """``build_config(build_config("demo"))`` said "train.lr_steps must be list, got [] (ListConfig)"."""
    base = build_config("demo")
    assert build_config(base, ["train.lr=0.1"]) == build_config("demo", ["train.lr=0.1"])
    assert build_config(None, base) == base


@pytest.mark.parametrize("typed", ["yes", "on", "true", "no", "off"])
def test_a_yaml_boolean_word_for_a_text_key_keeps_the_word_typed(typed):
    """``out_dir=yes`` trained into a folder named "on" (or "true"): YAML reads the word as a bool."""
    assert build_config("demo", [f"out_dir={typed}"]).out_dir == typed
    with pytest.raises(AdaAnchorError, match=rf"unknown train.amp '{typed}'") if typed not in ("off",) else \
            contextlib.nullcontext():
        build_config("demo", [f"train.amp={typed}"])


def test_parts_of_a_built_config_can_be_given_back():
    b = build_config("demo")
    assert build_config("demo", {"train": b.train}).train.lr_steps == b.train.lr_steps
    assert build_config({"train": b.train}, {"train.lr_steps": OmegaConf.create([4])}).train.lr_steps == [4]
