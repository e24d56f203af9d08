"""Reading a config file: a YAML file or a packaged config's name, safely parsed (:mod:`adaanchor.safe_yaml`),
with one clear error for a missing, oversized, non-UTF-8 or malformed file; and whether a file is a run's config."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .configs import PACKAGED_CONFIGS, config_file, packaged_names
from .errors import AdaAnchorError
from .safe_yaml import YamlFault, load_yaml_text

#: A config file larger than this is refused before parsing (configs are a few KiB).
MAX_CONFIG_BYTES = 1 << 20


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file safely (:func:`load_yaml_text`); a clear error for a missing, oversized or
    malformed file."""
    p = config_file(path)
    if p.is_dir():
        raise AdaAnchorError(f"{p}: a folder, not a config file (a YAML file or a packaged config's name: "
                             f"{', '.join(packaged_names())})")
    if not p.is_file():
        names = packaged_names()
        close = [] if p.is_absolute() else difflib.get_close_matches(p.with_suffix("").as_posix(), names, n=1,
                                                                     cutoff=0.6)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise AdaAnchorError(f"{p}: config file not found.{hint} Packaged configs, usable by name: {', '.join(names)}")
    size = p.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise AdaAnchorError(f"{p}: config file is {size} bytes, more than the {MAX_CONFIG_BYTES} a config may be")
    try:
        data = load_yaml_text(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise AdaAnchorError(f"{p}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except YamlFault as e:
        raise AdaAnchorError(f"{p}: {e}") from None
    except yaml.YAMLError as e:
        raise AdaAnchorError(f"{p}: not valid YAML: {e}".replace("\n", " ")) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise AdaAnchorError(f"{p}: a config must be a mapping of keys, got {type(data).__name__}")
    return data


#: Sections every run's config.yaml has (training writes the resolved config, every key).
RUN_SECTIONS = ("data", "model", "strategy", "train")


def missing_run_sections(path: str | Path) -> list[str]:
    """The :data:`RUN_SECTIONS` that the YAML file ``path`` lacks (all of them when it is not a readable mapping):
    a file with none of them is not a run's config (another tool's ``config.yaml``, or an emptied one)."""
    try:
        data = read_yaml(path)
    except AdaAnchorError:
        return list(RUN_SECTIONS)
    return [key for key in RUN_SECTIONS if key not in data]


def packaged_keys(config: str | Path | None, overrides: Sequence[str] = ()) -> frozenset[str]:
    """The dotted keys (``data.aug.scale``) that ``config``, when it is a packaged config, sets and no ``key=value``
    of ``overrides`` sets again: values the user did not choose (none for a file of the user's own)."""
    if config is None:
        return frozenset()
    path = config_file(config)
    if not path.is_file() or PACKAGED_CONFIGS not in path.resolve().parents:
        return frozenset()
    given = [str(o).split("=", 1)[0].strip() for o in overrides if "=" in str(o)]
    keys = leaf_keys(read_yaml(path))
    return frozenset(k for k in keys if not any(k == g or k.startswith(g + ".") or g.startswith(k + ".") for g in given))


def leaf_keys(node: Any, prefix: str = "") -> set[str]:
    """The dotted keys of a nested mapping's leaves (``data.synth.n_train``); an empty mapping is a leaf itself."""
    if isinstance(node, dict) and node:
        return {k for key, value in node.items() for k in leaf_keys(value, f"{prefix}{key}.")}
    return {prefix[:-1]} if prefix else set()


__all__ = ["MAX_CONFIG_BYTES", "RUN_SECTIONS", "leaf_keys", "missing_run_sections", "packaged_keys", "read_yaml"]
