"""The benchmark scripts' argument types: those of the ``adaanchor`` command line (:mod:`adaanchor.cli.argtypes`)."""

from __future__ import annotations

from adaanchor.cli.argtypes import check_unique, positive
from adaanchor.cli.argtypes import int_at_least as at_least
from adaanchor.cli.argtypes import seed as seed_arg

__all__ = ["at_least", "check_unique", "positive", "seed_arg"]
