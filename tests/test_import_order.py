"""Imports run one way (docs/conventions.md, "Import order"): no module imports a module of a layer above it.

The layer table is read from the doc, so the doc and this check are one definition.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
DOC = REPO / "docs" / "conventions.md"


def layers() -> list[tuple[str, list[str]]]:
    """``[(layer, [module prefixes])]`` from the top layer down."""
    text = DOC.read_text().split("## Import order", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\w+) \| (`.+`) \|$", text, flags=re.MULTILINE)
    return [(name, re.findall(r"`([\w.]+)`", mods)) for name, mods in rows]


def rank_of(module: str, table: list[tuple[str, list[str]]]) -> int:
    """Index of the layer whose longest prefix matches ``module`` (0 = top)."""
    best, rank = -1, -1
    for i, (_, prefixes) in enumerate(table):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, rank = len(p), i
    return rank


def module_files() -> dict[str, Path]:
    out = {}
    for f in sorted((SRC / "adaanchor").rglob("*.py")):
        parts = list(f.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def imported(module: str, path: Path, known: set[str]) -> set[str]:
    """Every ``adaanchor`` module that ``module`` imports, anywhere in the file (relative imports resolved;
    ``from pkg import sub`` counts ``pkg.sub`` when it is a module)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known}
    return {m for m in out if m == "adaanchor" or m.startswith("adaanchor.")}


def test_the_doc_table_is_read():
    table = layers()
    assert [name for name, _ in table][:1] == ["cli"] and table[-1][0] == "core"
    assert rank_of("adaanchor.data.readers.coco", table) < rank_of("adaanchor.data.spec", table)


def test_every_module_has_a_layer():
    table = layers()
    lost = [m for m in module_files() if rank_of(m, table) < 0]
    assert not lost, f"modules missing from the import-order table of docs/conventions.md: {lost}"


def test_no_import_goes_upwards():
    table = layers()
    files = module_files()
    upward = []
    for module, path in files.items():
        own = rank_of(module, table)
        for target in sorted(imported(module, path, set(files))):
            if rank_of(target, table) < own:
                upward.append(f"{module} ({table[own][0]}) imports {target} ({table[rank_of(target, table)][0]})")
    assert not upward, "imports against the order of docs/conventions.md:\n" + "\n".join(upward)


def test_the_check_sees_an_upward_import(tmp_path):
    """The checker itself: a data module importing the engine is caught."""
    table = layers()
    f = tmp_path / "bad.py"
    f.write_text("def f():\n    from ..engine import train\n")
    targets = imported("adaanchor.data.bad", f, set(module_files()))
    assert "adaanchor.engine" in targets
    assert rank_of("adaanchor.engine", table) < rank_of("adaanchor.data.bad", table)


def test_public_names_stay_importable():
    """Names other modules and users import, after the moves (lower layers, export package, bench package)."""
    import importlib

    names = {
        "adaanchor.strategies": ["build_strategy", "STRATEGY_NAMES", "STRATEGIES", "Strategy", "compute_loss"],
        "adaanchor.engine.run": ["build_system", "load_for_eval", "resolve_run"],
        "adaanchor.engine.checkpoint": ["safe_load", "atomic_save"],
        "adaanchor.export": ["export_onnx", "check_onnx", "export_command", "format_export_report", "DecodedGraph",
                             "graph_outputs", "ambiguous_keypoints", "check_images"],
        "adaanchor.metrics.coco": ["load_json"],
        "adaanchor.metrics.pckh": ["SC_BIAS", "head_size_from_box"],
        "adaanchor.data.readers.mpii": ["SC_BIAS", "head_size_from_box"],
        "adaanchor.data.readers.formats": ["FORMATS", "FORMAT_SPECS", "REGISTRY"],
        "adaanchor.models": ["BACKBONES", "build_backbone"],
        "adaanchor.bench.synth": ["write_benchmark", "visibility_counts", "SYNTH_DEFAULTS"],
        "adaanchor.bench.occlude": ["Occluder"],
    }
    for module, attrs in names.items():
        m = importlib.import_module(module)
        missing = [a for a in attrs if not hasattr(m, a)]
        assert not missing, (module, missing)
