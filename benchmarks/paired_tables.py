"""The same methods of one paper table trained two ways, compared seed by seed: ``A − B`` per method.

    python benchmarks/paired_tables.py A.json B.json --name NAME [--labels "clamped" "target"]
                                       [--methods FixAnchor LocalAnchor] [--out benchmarks/results]

``A.json`` and ``B.json`` are two results files of ``benchmarks/paper_tables.py`` for the same table and split (a
changed option, or the same options re-run on another machine). For every method in both, over the seeds both
have, the mean ± standard error of the paired difference of each column of the table (the columns of
``table_report.py``; for the multi-person tables, each benchmark of the file with ``multi_report.py``'s columns
under learned and oracle tags), and how many seeds moved the same way. Writes ``NAME.md`` and ``NAME.json`` under ``--out``.
Nothing is trained: a measurement of a change, kept reproducible by a command instead of a hand calculation.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from multi_report import COLUMNS as MULTI_COLUMNS  # noqa: E402
from multi_report import CROWD_COLUMNS, GROUPINGS, PAIRED, flatten  # noqa: E402
from protocol import fmt_diff, paired_difference, provenance  # noqa: E402
from script_exit import Refused, results_place_problem, run_main  # noqa: E402
from speed import write_results  # noqa: E402
from table_report import COLUMNS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def columns_of(doc: dict[str, Any]) -> list[tuple[str, str, str, float, bool]]:
    """The table's columns: its own kind (``truncated`` for the truncation table, faces when it reports NME,
    else pose)."""
    if doc.get("table") == "truncation":
        return COLUMNS["truncated"]
    rows = [r for runs in doc["runs"].values() for r in runs]
    return COLUMNS["faces"] if any(r.get("nme") is not None for r in rows) else COLUMNS["pose"]


def multi_columns(runs: dict[str, list[dict[str, Any]]]) -> list[tuple[str, str, str, float, bool]]:
    """The paired columns of a multi-person benchmark's flattened runs (those ``multi_report`` pairs), under learned
    tags and under oracle tags (CrowdPose's bands too when the runs have them)."""
    keys = {k for rows in runs.values() for r in rows for k in r}
    cols = [c for c in MULTI_COLUMNS + (CROWD_COLUMNS if "cp_ap" in keys else []) if c[0] in PAIRED]
    return [(p + key, f"{title} ({name})" if p else title, fmt, scale, False)
            for p, name in GROUPINGS for key, title, fmt, scale in cols if p + key in keys]


def sections(doc: dict[str, Any]) -> dict[str, tuple[dict[str, list[dict[str, Any]]], list[tuple]]]:
    """``{section: (runs, columns)}``: one section (``""``) for a single-person table; one per benchmark for a
    multi-person one (``benches``), its runs flattened as ``multi_report`` summarises them."""
    if "benches" not in doc:
        return {"": (doc["runs"], columns_of(doc))}
    out = {}
    for bench, b in doc["benches"].items():
        runs = {m: [{"seed": r["seed"], **flatten(r)} for r in rows] for m, rows in b["runs"].items()}
        out[bench] = (runs, multi_columns(runs))
    return out


def compare(a: dict[str, Any], b: dict[str, Any], methods: list[str] | None = None) -> dict[str, Any]:
    """``{method: {key: {"mean", "se", "n", "seeds", "same_sign"}}}`` of ``a − b`` over the common seeds; for a
    multi-person table ``{benchmark: {method: ...}}``.

    Raises:
        Refused: the files hold different tables, splits or tasks, or no method in common."""
    for key in ("table", "split", "task"):
        if a.get(key) != b.get(key):
            raise Refused(f"the two files hold different {key}s: {a.get(key)!r} and {b.get(key)!r}")
    sa, sb = sections(a), sections(b)
    out = {name: _compare_runs(sa[name][0], sb[name][0], sa[name][1], methods) for name in sa if name in sb}
    if not out:
        raise Refused(f"no benchmark in both files (A: {list(sa)}, B: {list(sb)})")
    return out[""] if "" in out else out


def _compare_runs(ra: dict[str, list[dict[str, Any]]], rb: dict[str, list[dict[str, Any]]], cols: list[tuple],
                  methods: list[str] | None) -> dict[str, Any]:
    common = [m for m in ra if m in rb and (methods is None or m in methods)]
    if not common:
        raise Refused(f"no method in both files (A: {list(ra)}, B: {list(rb)})")
    out: dict[str, Any] = {}
    for m in common:
        out[m] = {}
        for key, *_ in cols:
            d = paired_difference(ra[m], rb[m], key)
            if d is not None:
                by_seed = {r["seed"]: r[key] for r in rb[m] if r.get(key) is not None}
                signs = [r[key] - by_seed[r["seed"]] for r in ra[m] if r["seed"] in d["seeds"]]
                d["same_sign"] = max(sum(x < 0 for x in signs), sum(x > 0 for x in signs))
            out[m][key] = d
    return out


def markdown(a: dict[str, Any], b: dict[str, Any], diffs: dict[str, Any], labels: tuple[str, str],
             files: tuple[str, str]) -> str:
    task = f" ({a['task']})" if a.get("task") else ""
    compared = set(_methods(a)) & set(_methods(b))
    lines = [f"# {a['table']}{task}, {a['split']} split: {labels[0]} − {labels[1]}, paired by seed", "",
             f"A = {labels[0]} (`{files[0]}`, commit {a.get('commit')}{_trained_at(a, compared)}, {_steps(a)} steps); "
             f"B = {labels[1]} (`{files[1]}`, commit {b.get('commit')}{_trained_at(b, compared)}, {_steps(b)} steps). "
             "Mean ± standard error of A − B over the seeds both have; below each, how many of them moved the "
             "same way."]
    sa = sections(a)
    for name, d_sec in ({"": diffs} if "" in sa else diffs).items():
        if name:
            lines += ["", f"## {a['benches'][name].get('title', name)}"]
        lines += [""] + _section_lines(d_sec, sa[name][1])
    lines += ["", f"Machines: A {a.get('machine')}; B {b.get('machine')}."]
    return "\n".join(lines) + "\n"


def trained_commits(doc: dict[str, Any], methods: set[str]) -> dict[str, list[str]]:
    """``method -> the short commits its runs were trained at`` (``trained_by`` of paper_tables.py's rows, ``commit``
    of multi_tables.py's; ``unknown`` for a multi-person run whose record names none), for the ``methods`` whose runs
    were trained at another commit than the file's own (runs reused from older code); the file's commit is that of
    the script that gathered them."""
    own = str(doc.get("commit") or "").split(" ")[0][:7]
    tables = [doc["runs"]] if "benches" not in doc else [b["runs"] for b in doc["benches"].values()]
    found: dict[str, set[str]] = {}
    for runs in tables:
        for m, rows in runs.items():
            if m in methods:
                found.setdefault(m, set()).update(str(c).split(" ")[0][:7] for r in rows for c in _trainers(r, "benches" in doc))
    return {m: sorted(cs) for m, cs in found.items() if cs - {own}}


def _trainers(row: dict[str, Any], multi: bool) -> list[str]:
    """The commits that trained one run row: ``trained_by`` (single-person) or ``commit`` (multi-person, ``unknown``
    where the record has none: trained before the commit was recorded)."""
    if not multi:
        return list(row.get("trained_by") or [])
    return [str(row.get("commit") or "unknown")]


def _trained_at(doc: dict[str, Any], methods: set[str]) -> str:
    """``; FixAnchor trained at 4a2b90d, ...`` where :func:`trained_commits` finds runs of another commit."""
    other = trained_commits(doc, methods)
    return "".join(f"; {m} trained at {'/'.join(cs)}" for m, cs in other.items())


def _methods(doc: dict[str, Any]) -> list[str]:
    """The method labels of a table (of each benchmark, for a multi-person table)."""
    return [m for runs, _ in sections(doc).values() for m in runs]


def _steps(doc: dict[str, Any]) -> Any:
    """The table's steps: its own, or those of its benchmarks (a multi-person table)."""
    if "benches" not in doc:
        return doc.get("steps")
    return "/".join(str(b.get("steps")) for b in doc["benches"].values())


def _section_lines(diffs: dict[str, Any], all_cols: list[tuple]) -> list[str]:
    cols = [c for c in all_cols if any(diffs[m].get(c[0]) for m in diffs)]
    lines = ["| Method | seeds | " + " | ".join(t for _, t, *_ in cols) + " |", "|---|---|" + "---|" * len(cols)]
    for m, d in diffs.items():
        n = max((x["n"] for x in d.values() if x), default=0)
        cells = [fmt_diff(d.get(k), fmt, scale) for k, _, fmt, scale, _ in cols]
        lines.append(f"| {m} | {n} | " + " | ".join(cells) + " |")
        lines.append("| | same sign | " + " | ".join(f"{d[k]['same_sign']}/{d[k]['n']}" if d.get(k) else ""
                                                    for k, *_ in cols) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", help="results JSON of paper_tables.py (A)")
    ap.add_argument("b", help="results JSON of paper_tables.py (B), the same table and split")
    ap.add_argument("--name", required=True, help="stem of the files written")
    ap.add_argument("--labels", nargs=2, default=("A", "B"), metavar=("A", "B"), help="names of the two sides")
    ap.add_argument("--methods", nargs="+", help="only these methods (default: every method in both)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    if (why := results_place_problem(args.out, args.name)) is not None:  # before the work, not after it
        ap.error(why)
    return run_main(lambda: compare_files(args), "nothing was written", resume=False)


def read_table(path: str) -> dict[str, Any]:
    """A results JSON of paper_tables.py or multi_tables.py; a missing, unreadable or other file is refused in one
    line (a FileNotFoundError or JSONDecodeError traceback before)."""
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as e:
        raise Refused(f"{path}: cannot read it ({e.strerror})") from None
    except ValueError as e:
        raise Refused(f"{path}: not a JSON file ({e})") from None
    if not isinstance(doc, dict) or not {"table", "split"} <= set(doc) or not {"runs", "benches"} & set(doc):
        raise Refused(f"{path}: not a results JSON of paper_tables.py or multi_tables.py (no table, split and runs)")
    _check_rows(path, doc)
    return doc


def _check_rows(path: str, doc: dict[str, Any]) -> None:
    """Every run row of ``doc`` has a whole-number seed and, in each compared column, a finite number or nothing: a
    row without a seed was a ``KeyError``, a string a ``TypeError``, a NaN a ``+nan ± nan`` pair and NaN in the JSON."""
    try:
        parts = sections(doc)
    except KeyError as e:
        raise Refused(f"{path}: a run row has no {e.args[0]!r}") from None
    for section, (runs, cols) in parts.items():
        for m, rows in runs.items():
            for i, r in enumerate(rows):
                where = f"{path}: {section + ' ' if section else ''}{m} row {i}"
                seed = r.get("seed")
                if isinstance(seed, bool) or not isinstance(seed, (int, float)) or not float(seed).is_integer():
                    raise Refused(f"{where}: seed must be a whole number, got {seed!r}")
                for key, *_ in cols:
                    v = r.get(key)
                    ok = v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))
                    if not ok:
                        raise Refused(f"{where} (seed {seed}): {key} must be a finite number, got {v!r}")


def compare_files(args: argparse.Namespace) -> int:
    """The A - B tables of the parsed options, written under ``--out``."""
    a, b = read_table(args.a), read_table(args.b)
    if args.methods:  # a name in neither table was ignored without a word
        known = set(_methods(a)) | set(_methods(b))
        unknown = [m for m in args.methods if m not in known]
        if unknown:
            raise Refused(f"--methods {' '.join(unknown)}: not a method of these tables ({', '.join(sorted(known))})")
    if _steps(a) != _steps(b):  # A - B then measures the budget too, which the header alone said
        print(f"note: the tables were trained for different budgets ({_steps(a)} and {_steps(b)} steps): A - B "
              "measures the budget as well as the option", file=sys.stderr)
    diffs = compare(a, b, args.methods)
    md = markdown(a, b, diffs, tuple(args.labels), (Path(args.a).name, Path(args.b).name))
    write_results(Path(args.out), args.name, {"table": a["table"], "split": a["split"], "labels": list(args.labels),
                                              "files": [args.a, args.b], "commits": [a.get("commit"), b.get("commit")],
                                              "trained_at": [trained_commits(d, set(_methods(a)) & set(_methods(b)))
                                                             for d in (a, b)],
                                              "steps": [_steps(a), _steps(b)], "paired": diffs, **provenance()}, md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
