"""Draw the plots of results files again with the current plotting code (nothing is trained or evaluated).

    python benchmarks/replot.py benchmarks/results/table1.json [...]    # writes table1.png beside each file

A results JSON of ``paper_tables.py`` (single-person tables: bars of each method's mean ± std over seeds) or of
``multi_tables.py`` (crowd tables: AP and recall against the confidence threshold); the PNG is the one the script
that wrote the file writes, and is replaced whole.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from multi_report import sweep_plot  # noqa: E402
from script_exit import Refused, run_main  # noqa: E402
from table_report import plot, plot_title  # noqa: E402


def table_kind(doc: dict[str, Any]) -> str:
    """The columns of a single-person table (``paper_tables.TABLES``: pose, faces or truncated)."""
    from paper_tables import TABLES

    spec = TABLES.get(str(doc.get("table")), {})
    return spec.get("columns", "faces" if "base" in spec else "pose")


def replot(path: Path) -> Path:
    """The PNG of the results file ``path``, drawn again; returns its path."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise Refused(f"{path}: not a readable JSON file ({e})") from None
    png = path.with_suffix(".png")
    multi = isinstance(doc, dict) and "benches" in doc
    if not multi and (not isinstance(doc, dict) or not {"table", "summary"} <= set(doc)):
        raise Refused(f"{path}: not a results JSON of paper_tables.py or multi_tables.py (no table and summary)")
    summaries = [b.get("summary") if isinstance(b, dict) else None for b in doc["benches"].values()] \
        if multi and isinstance(doc["benches"], dict) else [doc.get("benches") if multi else doc["summary"]]
    if not summaries or any(not isinstance(s, dict) or not s for s in summaries):
        # An empty plot was written (exit 0), or a traceback (no bench, a bench without its summary).
        raise Refused(f"{path}: {'a benchmark' if multi else 'the table'} has no summary of any method: nothing to draw")
    try:
        return sweep_plot(doc, png) if multi else plot(doc["summary"], png, plot_title(doc), table_kind(doc)) or png
    except (KeyError, TypeError, ValueError, IndexError, StopIteration) as e:  # a file edited by hand
        raise Refused(f"{path}: its summary is not as the table scripts write it, a (mean, std) pair per method and "
                      f"column ({type(e).__name__}: {e})") from None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", type=Path, help="results JSON files")
    args = p.parse_args(argv)

    def body() -> int:
        for f in args.files:
            print(f"wrote {replot(f)}")
        return 0

    return run_main(body, "the plots written so far", resume=False)


if __name__ == "__main__":
    sys.exit(main())
