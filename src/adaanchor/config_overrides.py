"""``key=value`` overrides (the command line's and :func:`adaanchor.config.build_config`'s) as nested sections."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from .errors import AdaAnchorError
from .safe_yaml import YamlFault, load_yaml_text

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def is_override(arg: str) -> bool:
    """Whether a command-line item is a ``key=value`` override: a dotted key of identifiers before the first
    ``=`` (not an option, not a path or URL with ``=`` in it such as ``runs/a=b.png`` or ``http://h/v?t=1``)."""
    key, eq, _ = arg.partition("=")
    return bool(eq) and bool(_KEY.match(key))


def override_list(items: str | Sequence[str]) -> list[str]:
    """``key=value`` overrides as a list: one string is one override (as ``visualize_command`` takes it; it was
    read letter by letter, "override 't' must look like key=value"); another kind is refused naming it."""
    if isinstance(items, str):
        return [items]
    if isinstance(items, (bytes, Mapping)) or not isinstance(items, Iterable):
        raise AdaAnchorError(f"overrides: expected key=value strings (a list, or one string), got {items!r}")
    out = list(items)
    for it in out:
        if not isinstance(it, str):
            raise AdaAnchorError(f"override {it!r}: expected a key=value string (e.g. 'train.lr=0.001')")
    return out


class Overrides(dict):
    """:func:`parse_overrides`' nested dict, with ``words``: the text typed for each key whose value YAML read as a
    bool (``out_dir=yes``: the folder ``yes`` where the key takes text, :func:`~adaanchor.config_checks.bool_words`)."""

    words: dict[str, str]


def parse_overrides(items: str | Sequence[str]) -> Overrides:
    """``["train.lr=0.01", "strategy.name=heatmap"]`` to a nested dict. Values are YAML scalars or flow
    collections read exactly as in a config file (:func:`load_yaml_text`: ``1e-3`` is a float); a later
    override of the same key wins."""
    out = Overrides()
    out.words = {}
    for it in override_list(items):
        if "=" not in it:
            raise AdaAnchorError(f"override '{it}' must look like key=value (e.g. train.lr=0.001)")
        key, text = it.split("=", 1)
        key = key.strip()
        if not _KEY.match(key):
            raise AdaAnchorError(f"cannot parse overrides {override_list(items)}: '{key}' is not a dotted key like train.lr")
        try:
            value = load_yaml_text(text) if text.strip() else None
        except (YamlFault, yaml.YAMLError) as e:
            msg = str(e).replace("\n", " ")
            raise AdaAnchorError(f"cannot parse overrides {override_list(items)}: {key}: {msg}") from None
        *parents, last = key.split(".")
        node = out
        for i, part in enumerate(parents):
            if not isinstance(node.get(part, {}), dict):
                raise AdaAnchorError(f"override '{it}' sets a key inside '{'.'.join(parents[:i + 1])}', "
                                     f"which another override sets to a value")
            node = node.setdefault(part, {})
        node[last] = value
        if isinstance(value, bool):
            out.words[key] = text.strip()
    return out


def _plain(value: Any) -> Any:
    """OmegaConf containers inside a mapping as plain dicts and lists (a built config's ``cfg.train`` given back:
    its empty ``ListConfig`` was refused as "must be list, got [] (ListConfig)")."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def nested_keys(mapping: Mapping) -> dict[str, Any]:
    """A mapping with dotted keys (``{"train.lr": 0.01}``, as a ``key=value`` override names them) as nested
    sections (``{"train": {"lr": 0.01}}``); other keys as they are."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        value = _plain(value)
        if isinstance(key, str) and "." in key and _KEY.match(key):
            *parents, last = key.split(".")
            node = out
            for part in parents:
                if not isinstance(node.get(part, {}), dict):
                    raise AdaAnchorError(f"config key '{key}' sets a key inside '{part}', which is given a value")
                node = node.setdefault(part, {})
            node[last] = value
        elif isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key].update(nested_keys(value))
        else:
            out[key] = nested_keys(value) if isinstance(value, Mapping) else value
    return out
