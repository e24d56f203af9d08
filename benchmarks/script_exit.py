"""How the benchmark scripts end when they refuse or are stopped: one line on standard error, no traceback.

Exit statuses (the same for every script that runs through :func:`run_main`):

- ``0``: done;
- ``2``: refused (``error: ...``): a bad option, a results folder of other settings, nothing to collect;
  argparse's own usage errors exit 2 as well;
- ``130``: stopped by Ctrl-C (SIGINT), ``143``: stopped by SIGTERM: the line says what is saved and how to go on.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adaanchor.cli import one_line
from adaanchor.cli.sigterm import EXIT_SIGTERM, Terminated, sigterm_unwinds
from adaanchor.errors import AdaAnchorError

EXIT_REFUSED = 2
EXIT_CTRL_C = 130


class Refused(AdaAnchorError):
    """A benchmark script's own refusal: printed as ``error: ...``, exit :data:`EXIT_REFUSED`."""


def results_place_problem(out: Any, name: Any = None) -> str | None:
    """Why results cannot be written as ``<out>/<name>.*``, checked before the work (a name with a slash or a folder
    under a file failed with a traceback after the measurement, which was lost), or None."""
    if name is not None:
        text = str(name)
        if not text.strip() or "/" in text or "\\" in text or text in (".", ".."):
            return f"--name {text!r}: a file name stem, without folders (give the folder as --out)"
    if out is None:
        return None
    folder = Path(out)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if folder.exists() and not folder.is_dir():
        return f"--out {out}: {folder} is a file, not a folder"
    return None


def _stopped(name: str, code: int, saved: str, resume: bool) -> int:
    then = "re-run the same command to resume" if resume else "run the same command again"
    print(f"error: stopped by {name}; {saved}: {then}", file=sys.stderr)
    return code


def run_main(body: Callable[[], int], saved: str, resume: bool = True) -> int:
    """Run ``body`` (a script's work once its options are parsed), turning a refusal into ``error: ...`` (exit 2)
    and a Ctrl-C or SIGTERM into one line naming what is saved (``saved``) and how to continue (exit 130 or 143):
    re-running resumes (``resume``, a table's runs), or a script that keeps nothing starts again.

    A training stopped by a signal (``adaanchor.engine.train``: it saves a checkpoint and raises an error marked
    ``signal_stop``) ends the same way as a stop elsewhere (an evaluation, the data generation)."""
    try:
        with sigterm_unwinds():
            return int(body() or 0)
    except KeyboardInterrupt:
        return _stopped("Ctrl-C (SIGINT)", EXIT_CTRL_C, saved, resume)
    except Terminated:
        return _stopped("SIGTERM", EXIT_SIGTERM, saved, resume)
    except AdaAnchorError as e:
        if getattr(e, "signal_stop", False):
            sigterm = "SIGTERM" in str(e)
            return _stopped("SIGTERM" if sigterm else "Ctrl-C (SIGINT)", EXIT_SIGTERM if sigterm else EXIT_CTRL_C,
                            saved, resume)
        print(f"error: {one_line(str(e))}", file=sys.stderr)
        return EXIT_REFUSED


def not_a_script(path: str, *scripts: str) -> int:
    """What a helper module of the benchmark scripts does when it is run (``python benchmarks/protocol.py --help``
    printed nothing and exited 0): one line naming the scripts to run instead; the refusal's exit code."""
    print(f"error: {Path(path).name} is a module of the benchmark scripts, not a script: run "
          f"{' or '.join(f'python benchmarks/{s} --help' for s in scripts)}", file=sys.stderr)
    return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(not_a_script(__file__, "paper_tables.py", "multi_tables.py"))
