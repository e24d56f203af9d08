"""The ``adaanchor`` command line: :func:`main`; the parser is in :mod:`.parser`, the commands in
:mod:`.commands`. Errors a user can cause print one line and exit with status 2."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence

from ..errors import WRITE_ERRNOS, AdaAnchorError
from ..malloc import keep_freed_memory
from .parser import build_parser
from .parsing import parse_command_line
from .sigterm import EXIT_SIGTERM, Terminated, sigterm_unwinds


def one_line(message: str) -> str:
    """A user error in one line: its lines joined (a library's message may span several: ijson's lexical errors,
    pandas' "Expected 9 fields ... saw 11"). Errors re-raised by DataLoader workers carry the worker's traceback:
    keep the original message, from its ``adaanchor.errors.X:`` line on."""
    lines = [ln.strip() for ln in message.strip().splitlines() if ln.strip()]
    if "Traceback (most recent call last)" in message:
        start = max((i for i, ln in enumerate(lines) if ln.startswith(_ERROR_PREFIXES)), default=len(lines) - 1)
        lines = lines[start:]
        for prefix in _ERROR_PREFIXES:
            lines[0] = lines[0].removeprefix(prefix)
    return " ".join(lines)


_ERROR_PREFIXES = ("adaanchor.errors.DataError: ", "adaanchor.errors.AdaAnchorError: ")

def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else list(argv)):  # bare `adaanchor`: the commands, not just the usage
        parser.print_help(sys.stderr)
        return 2
    args = parse_command_line(parser, argv)
    with warnings.catch_warnings(record=True) as caught:  # a bad ADAANCHOR_MALLOC: one line, as the CLI's warnings
        warnings.simplefilter("always")
        keep_freed_memory()  # every command allocates the same tensors again and again (adaanchor/malloc.py)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    try:
        with sigterm_unwinds():
            return int(args.func(args) or 0)
    except Terminated:
        print("stopped by SIGTERM", file=sys.stderr)
        return EXIT_SIGTERM
    except AdaAnchorError as e:
        # Under torchrun an error every rank raises alike (a stop at a signal) is printed by rank 0 alone.
        if not (getattr(e, "same_on_every_rank", False) and os.environ.get("RANK", "0") not in ("", "0")):
            print(f"error: {one_line(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if os.environ.get("RANK", "0") in ("", "0"):  # under torchrun every rank gets the Ctrl-C: said once
            print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of the output left (`adaanchor score ... | head`): stop quietly, as Unix tools do, instead of a
        # traceback; standard output goes nowhere from here, so that its flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # SIGPIPE's status
    except OSError as e:  # after BrokenPipeError, an OSError too
        if e.errno not in WRITE_ERRNOS:
            raise
        # A full disk under a writer that has no message of its own (predict's .slp, .nwb or labelled video).
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: {where}cannot write ({e.strerror or e}); a file not written whole keeps its temporary name "
              "(.NAME.tmp) or is not there", file=sys.stderr)
        return 2


def entry() -> None:
    """The ``adaanchor`` program (the console script and ``python -m adaanchor``): exits with :func:`main`'s status.

    A process that made a process group (a rank of ``torchrun ... -m adaanchor train``) exits without the
    interpreter's finalisation, once its output is flushed. The gloo backend's worker threads outlive the
    training (DistributedDataParallel keeps the group alive past ``destroy_process_group``), and one that released
    a finished collective's tensors while the interpreter was shutting down needed the GIL there, which aborts
    the process ("terminate called without an active exception", SIGABRT): torchrun then reported a finished
    training as failed. Everything the run writes is closed by then.
    """
    code = main()
    dist = sys.modules.get("adaanchor.engine.dist")  # not imported: no process group was made
    if dist is not None and dist.made_process_group():
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # closed or gone (a reader that left): nothing more can be said
                pass
        os._exit(code)
    sys.exit(code)


__all__ = ["build_parser", "entry", "main", "one_line"]


if __name__ == "__main__":
    entry()
