"""Values the config refuses when it is built, where they were accepted and failed later (or never): a list's
elements of the wrong type, a section set to null, an empty list the code needs an element of, and a
``data.images`` that is neither a folder nor ``{train: DIR, val: DIR}``."""

from __future__ import annotations

import re

import pytest
import yaml

from adaanchor.cli import main
from adaanchor.config import build_config, defaults
from adaanchor.config_checks import SECTION_OFF
from adaanchor.data.paths import images_dir
from adaanchor.errors import AdaAnchorError
from adaanchor.ranges import at_least, between, each


def _refused(overrides: list[str] | dict, message: str) -> None:
    """``build_config("demo", overrides)`` raises exactly ``message`` (the whole line)."""
    with pytest.raises(AdaAnchorError) as e:
        build_config("demo", overrides)
    assert str(e.value) == message


# ---- the elements of a list ----------------------------------------------------------------------------------


@pytest.mark.parametrize("override,message", [
    # Trained to the end, then "ValueError: pck_thresholds: expected positive finite numbers" (exit 1).
    ("eval.pck=[abc]", "config key 'eval.pck': element 0 must be a number, got 'abc'"),
    ("eval.pck=[true]", "config key 'eval.pck': element 0 must be a number, got True"),
    ("eval.pck=[0.1, null]", "config key 'eval.pck': element 1 must be a number, got None"),
    ("eval.pck=[[0.1]]", "config key 'eval.pck': element 0 must be a number, got [0.1]"),
    # A traceback from int() at the first step; strings were kept as strings.
    ("train.lr_steps=[abc]", "config key 'train.lr_steps': element 0 must be a whole number, got 'abc'"),
    ('train.lr_steps=["1","2"]', "config key 'train.lr_steps': element 0 must be a whole number, got '1'"),
    ('train.lr_steps=[3, "5"]', "config key 'train.lr_steps': element 1 must be a whole number, got '5'"),
    # TypeError: '>' not supported between instances of 'str' and 'int'.
    ("data.multi_aug.scale=[x,1]", "config key 'data.multi_aug.scale': element 0 must be a number, got 'x'"),
    # The Occluder's message without the config key; 1.5 was accepted here.
    ("data.occlusion.count=[a,b]", "config key 'data.occlusion.count': element 0 must be an integer, got 'a'"),
    ("data.occlusion.count=[1.5,3]", "config key 'data.occlusion.count': element 0 must be an integer, got 1.5"),
    ("data.occlusion.kinds=[polygon, 1]", "config key 'data.occlusion.kinds': element 1 must be a string, got 1"),
    # The crowd generator cut 2.5 people to 2.
    ("data.crowd.people=[2.5,3]", "config key 'data.crowd.people': element 0 must be an integer, got 2.5"),
    ("data.synth.scale=[a,1]", "config key 'data.synth.scale': element 0 must be a number, got 'a'"),
    # Null defaults: their element type is declared with their range (ranges.each).
    ("strategy.oks_sigmas=[a]", "config key 'strategy.oks_sigmas': element 0 must be a number, got 'a'"),
    ("strategy.oks_sigmas=0.5",
     "config key 'strategy.oks_sigmas': the value must be a list of one or more numbers, each > 0 (or null), got 0.5"),
    ("bottomup.order=[a]", "config key 'bottomup.order': element 0 must be a whole number, got 'a'"),
])
def test_a_list_element_of_the_wrong_type_is_refused_naming_the_key(override, message):
    _refused([override], message)


@pytest.mark.parametrize("override,message", [
    ("data.occlusion.kinds=[bogus]",
     "config key 'data.occlusion.kinds': element 0 is 'bogus', not one of polygon, ellipse, rectangle, blob, patch"),
    ("data.occlusion.kinds=[patch, elipse]", "config key 'data.occlusion.kinds': element 1 is 'elipse' (did you mean "
     "'ellipse'?), not one of polygon, ellipse, rectangle, blob, patch"),
    ("data.occlusion.kinds=[]", "config key 'data.occlusion.kinds': the value must be a list of one or more of "
     "polygon, ellipse, rectangle, blob, patch, got []"),
], ids=["bogus", "misspelt", "empty"])
def test_an_occluder_kind_is_refused_when_the_config_is_built(override, message):
    """Refused only when the data was built and the occluder made (the Occluder's message, naming no key)."""
    _refused([override, "data.occlusion.train=true"], message)
    _refused([override], message)  # occlusion off: the value is still no valid one


def test_train_refuses_an_occluder_kind_before_reading_any_data(tmp_path, capsys):
    """The data root does not exist: the config's error comes first."""
    assert main(["train", "demo", f"data.root={tmp_path / 'none'}", "data.occlusion.train=true",
                 "data.occlusion.kinds=[bogus]", f"out_dir={tmp_path / 'run'}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "config key 'data.occlusion.kinds': element 0 is 'bogus'" in err
    assert not (tmp_path / "run").exists()


def test_a_string_number_in_a_yaml_list_is_refused_naming_the_key(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text('eval:\n  pck: ["0.1"]\n')
    with pytest.raises(AdaAnchorError, match=r"^.*c\.yaml: config key 'eval\.pck': element 0 must be a number, got '0\.1'$"):
        build_config(p)
    _refused({"eval": {"pck": ["0.1"]}}, "config key 'eval.pck': element 0 must be a number, got '0.1'")


@pytest.mark.parametrize("override,key,value", [
    ("eval.pck=[0.2, 1]", "eval.pck", [0.2, 1]),  # an integer is a number
    ("train.lr_steps=[2, 4]", "train.lr_steps", [2, 4]),
    ("train.lr_steps=[1e1]", "train.lr_steps", [10.0]),  # a whole number, as train.max_steps=1e4 is one
    ("data.multi_aug.scale=[1, 2]", "data.multi_aug.scale", [1, 2]),
    ("data.occlusion.count=[2, 4]", "data.occlusion.count", [2, 4]),
    ("strategy.oks_sigmas=[0.05, 0.1]", "strategy.oks_sigmas", [0.05, 0.1]),
    ("strategy.oks_sigmas=null", "strategy.oks_sigmas", None),
    ("bottomup.order=[2, 0, 1]", "bottomup.order", [2, 0, 1]),
])
def test_lists_of_the_right_type_still_build(override, key, value):
    cfg = build_config("demo", [override])
    got = cfg
    for part in key.split("."):
        got = got[part]
    assert (list(got) if got is not None else None) == value


def test_the_command_line_refuses_a_bad_element_in_one_line_before_the_run(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["train", "demo", "data.multi_aug.scale=[x,1]", f"out_dir={out}", "train.max_steps=3"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == "error: config key 'data.multi_aug.scale': element 0 must be a number, got 'x'"
    assert not out.exists()


def test_list_of_describes_and_checks_what_it_declares():
    pck = each(between(0, 1, lo_open=True), min_len=1)
    assert pck.describe() == "a list of one or more numbers, each in (0, 1]"
    steps = each(at_least(0, integer=True), increasing=True)
    assert steps.describe() == "a list of whole numbers, each >= 0, in increasing order"
    steps.check("k", [])
    steps.check("k", (1, 2.0))
    with pytest.raises(AdaAnchorError, match=r"^config key 'k': the value must be whole numbers >= 0, in increasing "
                                             r"order \(each once\), got \[2, 2\]$"):
        steps.check("k", [2, 2])
    with pytest.raises(AdaAnchorError, match=r"^config key 'k': the value must be a list of whole numbers, each >= 0, "
                                             r"in increasing order, got '1'$"):
        steps.check("k", "1")  # a string is no list of its characters


# ---- a section set to null -----------------------------------------------------------------------------------


@pytest.mark.parametrize("section", ["strategy", "model", "train", "eval", "data", "bottomup", "centre", "data.synth",
                                     "data.crowd"])
def test_a_null_section_is_refused_saying_what_to_write(section):
    # strategy=null was an AttributeError; model, eval, data and train named a key inside ('unknown backbone None').
    _refused([f"{section}=null"], f"config key '{section}' is a section and cannot be null: leave it out or write {{}} "
                                  f"for its defaults, or set the keys you mean ({section}.KEY=VALUE)")


@pytest.mark.parametrize("section", sorted(SECTION_OFF))
def test_a_null_section_read_as_its_defaults_is_refused_with_how_to_turn_it_off(section):
    # data.aug=null (meant as "no augmentation") trained with the defaults: flips.
    what, off = SECTION_OFF[section]
    _refused([f"{section}=null"], f"config key '{section}' is a section and cannot be null: leave it out or write {{}} "
                                  f"for its defaults; for {what}, write {off}")
    # What the message says to write builds, and turns it off.
    cfg = build_config("demo", [f"{section}={off}"])
    node = cfg
    for part in section.split("."):
        node = node[part]
    for key, value in yaml.safe_load(off).items():
        assert node[key] == value, (section, key)


def test_the_no_augmentation_section_turns_every_augmentation_off():
    aug = build_config("demo", [f"data.aug={SECTION_OFF['data.aug'][1]}"]).data.aug
    assert set(aug) == set(defaults()["data"]["aug"]) and not any(aug.values())


def test_every_section_refuses_null_and_takes_an_empty_mapping():
    """Every key whose default is a mapping, found in the defaults: a section added later is covered too."""
    def sections(tree: dict, prefix: str = "") -> list[str]:
        out = []
        for key, value in tree.items():
            if isinstance(value, dict):
                out += [prefix + key, *sections(value, prefix + key + ".")]
        return out

    names = sections(defaults())
    assert {"strategy", "data", "data.aug", "data.split"} <= set(names)
    for name in names:
        with pytest.raises(AdaAnchorError, match=rf"^config key '{re.escape(name)}' is a section and cannot be null: "):
            build_config(None, [f"{name}=null"])
        build_config(None, [f"{name}={{}}"])


def test_a_null_section_in_a_yaml_file_is_refused_naming_the_file(tmp_path, capsys):
    p = tmp_path / "c.yaml"
    p.write_text("strategy: null\n")
    message = (f"{p}: config key 'strategy' is a section and cannot be null: leave it out or write {{}} for its "
               "defaults, or set the keys you mean (strategy.KEY=VALUE)")
    with pytest.raises(AdaAnchorError) as e:
        build_config(p)
    assert str(e.value) == message
    assert main(["data", "stats", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == f"error: {message}" and "Traceback" not in err


@pytest.mark.parametrize("override", ["data.split.by=null", "data.images=null", "train.max_steps=null",
                                      "bottomup.order=null", "data.bit_depth=null"])
def test_null_stays_valid_where_the_default_is_null(override):
    key, _, _ = override.partition("=")
    node = build_config("custom", ["data.root=/nowhere", override])
    for part in key.split("."):
        node = node[part]
    assert node is None


# ---- an empty list -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("override,message", [
    # eval_log.csv got -inf, no best checkpoint was kept, the table said N/A.
    ("eval.pck=[]", "config key 'eval.pck': the value must be a list of one or more numbers, each in (0, 1], got []"),
    ("strategy.oks_sigmas=[]",
     "config key 'strategy.oks_sigmas': the value must be a list of one or more numbers, each > 0 (or null), got []"),
    ("bottomup.order=[]",
     "config key 'bottomup.order': the value must be a list of one or more whole numbers, each >= 0 (or null), got []"),
])
def test_an_empty_list_the_code_needs_an_element_of_is_refused(override, message):
    _refused([override], message)


def test_no_learning_rate_drop_is_still_an_empty_list():
    assert list(build_config("demo", ["train.lr_steps=[]"]).train.lr_steps) == []


# ---- data.images ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("override,message", [
    # Read as the folder "['a', 'b']".
    ("data.images=[a,b]", "config key 'data.images' must be a folder (a path) or {train: DIR, val: DIR}, got ['a', 'b']"),
    ("data.images=3", "config key 'data.images' must be a folder (a path) or {train: DIR, val: DIR}, got 3"),
    # An unknown split was ignored: its images were looked for in the annotation file's folder.
    ("data.images={train: imgs, valid: imgs}",
     "unknown config key 'data.images.valid'. Did you mean 'data.images.val'? Valid: data.images.train, data.images.val"),
    ("data.images={tran: imgs}",
     "unknown config key 'data.images.tran'. Did you mean 'data.images.train'? Valid: data.images.train, data.images.val"),
    ("data.images={train: [a]}", "config key 'data.images.train' must be a folder (a path) or null, got ['a']"),
])
def test_data_images_is_a_folder_or_a_folder_per_split(override, message):
    _refused([override], message)


@pytest.mark.parametrize("value", ["imgs", "{train: a, val: b}", "{val: b}", "{train: a, val: null}", "{}"])
def test_data_images_valid_forms_still_build(value, tmp_path):
    cfg = build_config("custom", [f"data.root={tmp_path}", f"data.images={value}"])
    given = yaml.safe_load(value)
    want = given.get("train") if isinstance(given, dict) else given
    assert images_dir(cfg.data, "train") == (tmp_path / want if want else None)


def test_the_data_layer_refuses_an_unknown_split_of_a_config_read_without_build_config(tmp_path):
    with pytest.raises(AdaAnchorError, match=r"^unknown config key 'data\.images\.tran'\. Did you mean "):
        images_dir({"root": str(tmp_path), "images": {"tran": "x"}}, "train")


def test_a_whole_number_written_as_a_float_is_stored_as_an_integer():
    """``train.max_steps=1e4`` was accepted (a whole number) and kept as 10000.0 in config.yaml and its history."""
    from adaanchor.config import build_config

    cfg = build_config("demo", ["train.max_steps=1e1", "train.lr_steps=[2e0, 5]", "eval.max_images=4e0"])
    assert (cfg.train.max_steps, list(cfg.train.lr_steps), cfg.eval.max_images) == (10, [2, 5], 4)
    assert all(type(v) is int for v in (cfg.train.max_steps, *cfg.train.lr_steps, cfg.eval.max_images))
    assert cfg.train.lr == 0.002 and type(cfg.train.lr) is float  # a rate stays a float


def test_an_unknown_training_device_is_refused_when_the_config_is_built():
    """``train.device=tpu`` was accepted by build_config and refused only when the training started."""
    from adaanchor.config import build_config

    with pytest.raises(AdaAnchorError, match=r"unknown train.device 'tpu'. Did you mean 'cpu'\? Valid: auto, cpu, cuda"):
        build_config("demo", ["train.device=tpu"])
