"""The same methods of one paper table trained two ways, compared seed by seed: ``A − B`` per method.

    python benchmarks/paired_tables.py A.json B.json --name NAME [--labels "clamped" "target"]
                                       [--methods FixAnchor LocalAnchor] [--out benchmarks/results]

``A.json`` and ``B.json`` are two results files of ``benchmarks/paper_tables.py`` for the same table and split (a
changed option, or the same options re-run on another machine). For every method in both, over the seeds both
have, the mean ± standard error of the paired difference of each column of the table (the columns of
``table_report.py``), and how many seeds moved the same way. Writes ``NAME.md`` and ``NAME.json`` under ``--out``.
Nothing is trained: a measurement of a change, kept reproducible by a command instead of a hand calculation.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol import fmt_diff, paired_difference  # noqa: E402
from table_report import COLUMNS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def columns_of(doc: dict[str, Any]) -> list[tuple[str, str, str, float, bool]]:
    """The table's columns: its own kind (``truncated`` for the truncation table, faces when it reports NME,
    else pose)."""
    if doc.get("table") == "truncation":
        return COLUMNS["truncated"]
    rows = [r for runs in doc["runs"].values() for r in runs]
    return COLUMNS["faces"] if any(r.get("nme") is not None for r in rows) else COLUMNS["pose"]


def compare(a: dict[str, Any], b: dict[str, Any], methods: list[str] | None = None) -> dict[str, Any]:
    """``{method: {key: {"mean", "se", "n", "seeds", "same_sign"}}}`` of ``a − b`` over the common seeds.

    Raises:
        SystemExit: the files hold different tables or splits, or no method in common."""
    for key in ("table", "split"):
        if a.get(key) != b.get(key):
            raise SystemExit(f"the two files hold different {key}s: {a.get(key)!r} and {b.get(key)!r}")
    common = [m for m in a["runs"] if m in b["runs"] and (methods is None or m in methods)]
    if not common:
        raise SystemExit(f"no method in both files (A: {list(a['runs'])}, B: {list(b['runs'])})")
    out: dict[str, Any] = {}
    for m in common:
        out[m] = {}
        for key, *_ in columns_of(a):
            d = paired_difference(a["runs"][m], b["runs"][m], key)
            if d is not None:
                by_seed = {r["seed"]: r[key] for r in b["runs"][m] if r.get(key) is not None}
                signs = [r[key] - by_seed[r["seed"]] for r in a["runs"][m] if r["seed"] in d["seeds"]]
                d["same_sign"] = max(sum(x < 0 for x in signs), sum(x > 0 for x in signs))
            out[m][key] = d
    return out


def markdown(a: dict[str, Any], b: dict[str, Any], diffs: dict[str, Any], labels: tuple[str, str],
             files: tuple[str, str]) -> str:
    cols = [c for c in columns_of(a) if any(diffs[m].get(c[0]) for m in diffs)]
    lines = [f"# {a['table']}, {a['split']} split: {labels[0]} − {labels[1]}, paired by seed", "",
             f"A = {labels[0]} (`{files[0]}`, commit {a.get('commit')}, {a.get('steps')} steps); "
             f"B = {labels[1]} (`{files[1]}`, commit {b.get('commit')}, {b.get('steps')} steps). "
             "Mean ± standard error of A − B over the seeds both have; below each, how many of them moved the "
             "same way.", "",
             "| Method | seeds | " + " | ".join(t for _, t, *_ in cols) + " |",
             "|---|---|" + "---|" * len(cols)]
    for m, d in diffs.items():
        n = max((x["n"] for x in d.values() if x), default=0)
        cells = [fmt_diff(d.get(k), fmt, scale) for k, _, fmt, scale, _ in cols]
        lines.append(f"| {m} | {n} | " + " | ".join(cells) + " |")
        lines.append("| | same sign | " + " | ".join(f"{d[k]['same_sign']}/{d[k]['n']}" if d.get(k) else ""
                                                    for k, *_ in cols) + " |")
    lines += ["", f"Machines: A {a.get('machine')}; B {b.get('machine')}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", help="results JSON of paper_tables.py (A)")
    ap.add_argument("b", help="results JSON of paper_tables.py (B), the same table and split")
    ap.add_argument("--name", required=True, help="stem of the files written")
    ap.add_argument("--labels", nargs=2, default=("A", "B"), metavar=("A", "B"), help="names of the two sides")
    ap.add_argument("--methods", nargs="+", help="only these methods (default: every method in both)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    a, b = (json.loads(Path(p).read_text()) for p in (args.a, args.b))
    diffs = compare(a, b, args.methods)
    md = markdown(a, b, diffs, tuple(args.labels), (Path(args.a).name, Path(args.b).name))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.md").write_text(md)
    (out / f"{args.name}.json").write_text(json.dumps(
        {"table": a["table"], "split": a["split"], "labels": list(args.labels), "files": [args.a, args.b],
         "commits": [a.get("commit"), b.get("commit")], "paired": diffs}, indent=1) + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
