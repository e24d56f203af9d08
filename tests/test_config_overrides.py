"""``build_config``, ``Predictor.from_run`` and ``export_command`` overrides from Python: a mapping may name keys
as the command line does (``{"train.lr": 0.5}``: was "unknown config key 'train.lr'", a valid key), and one string
is one override, as ``visualize_command`` takes it (it was read letter by letter: "override 't' must look like
key=value")."""

from __future__ import annotations

import pytest

from adaanchor.config import build_config, parse_overrides
from adaanchor.errors import AdaAnchorError


def test_a_mapping_with_dotted_keys_is_read_as_nested_sections():
    cfg = build_config("demo", {"train.lr": 0.5, "strategy": {"name": "heatmap"}, "model.tiny_width": 16})
    assert cfg.train.lr == 0.5 and cfg.strategy.name == "heatmap" and cfg.model.tiny_width == 16
    assert cfg.train.batch_size == 32  # the rest of the section is the file's
    assert build_config({"train.lr": 0.25}).train.lr == 0.25
    assert build_config("demo", {"train": {"lr": 0.5}}).train.lr == 0.5


def test_dotted_mapping_keys_keep_their_checks():
    with pytest.raises(AdaAnchorError, match=r"unknown config key 'train\.lrr'. Did you mean 'train\.lr'"):
        build_config("demo", {"train.lrr": 0.5})
    with pytest.raises(AdaAnchorError, match=r"'train\.lr': the value must be > 0"):
        build_config("demo", {"train.lr": -1})


def test_one_string_is_one_override():
    assert build_config("demo", "train.lr=0.5").train.lr == 0.5
    assert parse_overrides("strategy.name=heatmap") == {"strategy": {"name": "heatmap"}}


@pytest.mark.parametrize("given", [b"train.lr=0.5", 3])
def test_bytes_or_a_number_are_refused_naming_what_to_pass(given):
    with pytest.raises(AdaAnchorError, match=r"overrides: expected key=value strings \(a list, or one string\)"):
        build_config("demo", given)


def test_an_override_that_is_not_a_string_is_named():
    with pytest.raises(AdaAnchorError, match=r"override 5: expected a key=value string"):
        parse_overrides(["train.lr=0.1", 5])

