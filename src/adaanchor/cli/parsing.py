"""The command line parsed: ``key=value`` overrides taken after options too, and an unknown argument said with its
command's usage and a hint."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..config_overrides import is_override


def parse_command_line(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``parser.parse_args``, with ``key=value`` overrides also taken after options (``eval RUN --json m.json
    eval.max_images=2``): argparse ends a positional list at the first option, and ``parse_intermixed_args``
    does not work with subcommands."""
    args, extra = parser.parse_known_args(argv)
    # viz and predict: images, then ckpt= and key=value
    rest = next((getattr(args, n) for n in ("overrides", "items", "sources") if hasattr(args, n)), None)
    if extra and isinstance(rest, list) and all(is_override(x) for x in extra):
        rest.extend(extra)
    elif extra:
        sub = _command_parser(parser, args)
        given = list(sys.argv[1:] if argv is None else argv)
        sub.error(f"unrecognized arguments: {' '.join(extra)}{_hint(sub, extra, args, given)}")
    return args


def _command_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the command given (``data stats``'s for it): its usage, not the whole program's, goes with an
    error about its arguments."""
    node = parser
    for dest in ("command", "data_command"):
        name = getattr(args, dest, None)
        actions = [a for a in node._actions if isinstance(a, argparse._SubParsersAction)]
        if name is None or not actions or name not in actions[0].choices:
            break
        node = actions[0].choices[name]
    return node


def _hint(sub: argparse.ArgumentParser, extra: Sequence[str], args: argparse.Namespace, argv: list[str]) -> str:
    """A close option for a mistyped one (``--fromat``, ``--save_video``); for ``train --out``, the key it takes; for
    a second value after an option that takes one (``--format csv slp``), how to give several; for inputs after
    the options, where they go."""
    import difflib

    options = [o for o in sub._option_string_actions if o.startswith("--")]
    for word in extra:
        if not word.startswith("-"):
            continue
        flag = word.split("=", 1)[0]
        if getattr(args, "command", None) == "train" and flag in ("--out", "--out-dir", "--out_dir", "--output"):
            return " (train writes to out_dir=PATH, a config key)"
        close = difflib.get_close_matches(flag.replace("_", "-"), options, n=1, cutoff=0.6)
        if close:
            return f" (did you mean {close[0]}?)"
    word = next((w for w in extra if not w.startswith("-")), None)
    at = argv.index(word) if word in argv else -1
    if at >= 2 and argv[at - 2].startswith("--"):
        option = argv[at - 2]
        inputs = "; inputs go before the options" if any(hasattr(args, n) for n in ("sources", "items")) else ""
        return (f" ({option} takes one value: give several comma-separated, {option} {argv[at - 1]},{word}, "
                "or repeat the option)" if option == "--format" else f" ({option} takes one value{inputs})")
    if word is not None and any(hasattr(args, n) for n in ("sources", "items")):
        return " (inputs go before the options)"
    return ""


__all__ = ["parse_command_line"]
