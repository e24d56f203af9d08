"""Safe YAML for configs and keypoint spec files: no Python objects, no duplicate keys, no alias bombs, and ``1e-3`` is a float.

``yaml.safe_load`` builds no Python objects, but it keeps the last of two equal keys, reads ``1e-3`` as a
string (YAML 1.1 wants ``1.0e-3``) and returns aliases as shared objects, which a billion-laughs document or
a recursive alias turns into an endless copy in the merge that follows. :func:`load_yaml_text` refuses all
three before any config (or spec) is built; :func:`dump_yaml` writes what it reads back unchanged.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

#: A YAML document whose aliases expand to more values than this is refused (an alias bomb).
MAX_YAML_VALUES = 100_000


class YamlFault(Exception):
    """A problem found while parsing (duplicate key, alias bomb, too deep); callers re-raise it as
    :class:`~adaanchor.errors.AdaAnchorError` naming the file or the override."""


class _ConfigLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys and reads ``1e-3`` as a float and ``1:30`` as text, as YAML 1.2
    does (1.1 needs a dot and a signed exponent, ``1.0e-3``, and reads ``1:30`` as the base-60 number 90:
    ``train.epochs=1:30`` trained 90 epochs without a word)."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> Any:
        return self.construct_scalar(node) if ":" in str(node.value) else super().construct_yaml_int(node)

    def construct_yaml_float(self, node: yaml.ScalarNode) -> Any:
        return self.construct_scalar(node) if ":" in str(node.value) else super().construct_yaml_float(node)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode, values: Any = None) -> Any:
        # A date is text, as in YAML 1.2: a datetime.date reached OmegaConf ("Value 'date' is not a supported
        # primitive type") or a run's config written as a timestamp.
        return self.construct_scalar(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # "<<: *base" may repeat what it merges
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise YamlFault(f"duplicate key '{key}' on line {line} (first on line {seen[key]})")
            except TypeError:  # an unhashable key: the base class reports it
                continue
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


_FLOAT_WITHOUT_DOT = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
_ConfigLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_WITHOUT_DOT, list("-+0123456789"))
_ConfigLoader.add_constructor("tag:yaml.org,2002:int", _ConfigLoader.construct_yaml_int)
_ConfigLoader.add_constructor("tag:yaml.org,2002:float", _ConfigLoader.construct_yaml_float)
_ConfigLoader.add_constructor("tag:yaml.org,2002:timestamp", _ConfigLoader.construct_yaml_timestamp)


class _ConfigDumper(yaml.SafeDumper):
    """``yaml.SafeDumper`` that quotes what :class:`_ConfigLoader` would read as a float: the string ``"1e5"``
    (a keypoint name from data) is written plain by ``yaml.safe_dump`` and read back as the number 100000.0."""


_ConfigDumper.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_WITHOUT_DOT, list("-+0123456789"))


def _expanded_size(obj: Any, memo: dict[int, int], active: set[int]) -> int:
    """How many values ``obj`` holds once every alias is expanded (a shared object counts each time it is
    used), computed without expanding; raises on a recursive alias or more than :data:`MAX_YAML_VALUES`."""
    if not isinstance(obj, (dict, list)):
        return 1
    key = id(obj)
    if key in memo:
        return memo[key]
    if key in active:
        raise YamlFault("a YAML alias refers to a value that contains it (a recursive structure)")
    active.add(key)
    children = [*obj.keys(), *obj.values()] if isinstance(obj, dict) else obj
    n = 1 + sum(_expanded_size(c, memo, active) for c in children)
    active.discard(key)
    if n > MAX_YAML_VALUES:
        raise YamlFault(f"its aliases expand to more than {MAX_YAML_VALUES} values (a YAML alias bomb?)")
    memo[key] = n
    return n


def load_yaml_text(text: str) -> Any:
    """Parse YAML text safely (no Python objects), refusing duplicate keys, recursive aliases and alias bombs.

    Raises:
        YamlFault: a duplicate key, an alias problem, too deep a nesting; yaml.YAMLError: a syntax error.
    """
    try:
        data = yaml.load(text, Loader=_ConfigLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise YamlFault("nested too deeply") from None
    try:
        _expanded_size(data, {}, set())
    except RecursionError:
        raise YamlFault("nested too deeply") from None
    return data


def dump_yaml(data: Any, **kwargs: Any) -> str:
    """``yaml.safe_dump(data, **kwargs)`` whose text :func:`load_yaml_text` reads back as ``data`` (strings that it
    would read as numbers are quoted)."""
    return yaml.dump(data, Dumper=_ConfigDumper, **kwargs)


def yaml_problem(exc: yaml.YAMLError) -> str:
    """``invalid YAML at line L column C: <what PyYAML found>`` of a parse error (its position where it has one)."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
    return f"invalid YAML{where}: {getattr(exc, 'problem', None) or exc}"


__all__ = ["YamlFault", "load_yaml_text", "dump_yaml", "MAX_YAML_VALUES", "yaml_problem"]
