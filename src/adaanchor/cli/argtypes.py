"""Argument types of the command line and of the benchmark scripts: a bad count, seed or number is argparse's usage
error (exit 2, one line naming the option), never clamped or read as "the default" (``--steps 0`` trained a
benchmark's default budget, a negative count failed deep in a training, a repeated seed counted one run twice)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence

from ..ranges import SEED

SEED_MAX = int(SEED.hi)  # the config's seed range


def int_at_least(lo: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer >= ``lo``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {lo}, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be an integer >= {lo}, got {value}")
        return value

    return parse


def seed_arg(text: str) -> int:
    """An argparse ``type``: a training seed, an integer in [0, 2**32 - 1]."""
    value = int_at_least(0)(text)
    if value > SEED_MAX:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, {SEED_MAX}], got {value}")
    return value


def positive(text: str) -> float:
    """An argparse ``type``: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def check_unique(p: argparse.ArgumentParser, option: str, values: Sequence[object] | None) -> None:
    """A usage error when ``values`` repeats one (a seed given twice is one run counted twice)."""
    seen: set[object] = set()
    for v in values or ():
        if v in seen:
            p.error(f"argument {option}: {v} is given twice")
        seen.add(v)


def finite(text: str) -> float:
    """An argparse ``type``: a finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def device_arg(text: str) -> str:
    """An argparse ``type``: ``--device`` as :func:`adaanchor.predict.backends.resolve_device` takes it (auto, cpu,
    cuda, cuda:N; CUDA there), checked when the command line is read so that the error names the option. Returns
    the text; the command resolves it."""
    from ..errors import AdaAnchorError
    from ..predict.backends import resolve_device

    try:
        resolve_device(text)
    except AdaAnchorError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def format_arg(text: str) -> str:
    """An argparse ``type``: one ``predict --format`` value (names, comma-separated), checked when the command line
    is read so that the error names the option. Returns the text; :func:`adaanchor.predict.writers.parse_formats`
    reads the repeated values."""
    from ..errors import AdaAnchorError
    from ..predict.writers import parse_formats

    try:
        parse_formats([text])
    except AdaAnchorError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


DEVICE_HELP = "auto (default: CUDA when available), cpu, cuda, cuda:N"

__all__ = ["BOX_CATEGORY_HELP", "DEVICE_HELP", "SEED_MAX", "box_category", "check_unique", "device_arg", "finite",
           "format_arg", "int_at_least", "positive", "seed_arg"]


BOX_CATEGORY_HELP = ("with --boxes: the detections' categories to use: auto (default: category 1, COCO's person, "
                     "where the file has it, else its only category), all, or ids such as 3 or 1,3")


def box_category(text: str) -> str | list[int]:
    """An argparse ``type``: ``--box-category`` as ``auto``, ``all`` or a list of integer category ids."""
    from ..data.categories import parse_category
    from ..errors import AdaAnchorError

    try:
        return parse_category(text)
    except AdaAnchorError:
        raise argparse.ArgumentTypeError(f"must be auto, all or category ids such as 3 or 1,3, got {text!r}") from None
