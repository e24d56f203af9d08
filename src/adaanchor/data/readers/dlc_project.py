"""Finding a DeepLabCut project's annotation tables (``data.format=dlc``): the project's ``config.yaml`` and the
``CollectedData`` tables of a project folder, its ``labeled-data/``, one video's folder, a lightning-pose data
folder or one table; a ``note:`` for data passed over (another labeller's table, frames never labelled)."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

import yaml

from ...errors import DataError
from ...safe_yaml import yaml_problem
from ..media_suffixes import IMAGE_SUFFIXES


def read_dlc_config(path: Path) -> dict[str, Any] | None:
    """A DeepLabCut project ``config.yaml`` as a mapping (None when the file is some other YAML)."""
    try:
        cfg = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:  # where and what (a tab after a key): "(ScannerError)" alone did not say
        raise DataError(path, f"unreadable DeepLabCut config: {yaml_problem(e)}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"unreadable DeepLabCut config ({type(e).__name__})") from None
    if isinstance(cfg, dict) and "bodyparts" in cfg and ("scorer" in cfg or "Task" in cfg):
        return cfg
    return None


def _tables_in(folder: Path, scorer: str | None) -> list[Path]:
    """The annotation table of one labelled folder, as a list (empty when there is none): the config's scorer's
    ``CollectedData_<scorer>``, else the folder's only ``CollectedData*`` table; the CSV over the .h5 of the same
    name (DeepLabCut writes both).

    Raises:
        DataError: no scorer's table, and tables of several names (two scorers' labels, or lightning-pose's
            views ``CollectedData_top`` and ``_bot``): reading one of them dropped the others without a word.
    """
    def pick(paths: list[Path]) -> Path:
        return next((q for q in paths if q.suffix == ".csv"), paths[0])

    named = [folder / f"CollectedData_{scorer}{suffix}" for suffix in (".csv", ".h5")] if scorer else []
    if any(q.is_file() for q in named):
        others = sorted({q.stem for q in folder.glob("CollectedData*") if q.suffix in (".csv", ".h5")} - {named[0].stem})
        if others:  # another labeller's table beside the scorer's: not read, and not a word said
            say_once(f"{folder}: {', '.join(others)} not read (the project's scorer is {scorer!r}: its table is read)")
        return [pick([q for q in named if q.is_file()])]
    by_stem: dict[str, list[Path]] = {}
    for q in sorted(folder.glob("CollectedData*")):
        if q.suffix in (".csv", ".h5") and q.is_file():
            by_stem.setdefault(q.stem, []).append(q)
    if len(by_stem) > 1:
        names = ", ".join(pick(v).name for v in by_stem.values())
        why = f"the config's scorer {scorer!r} names none of them" if scorer else "no config.yaml names a scorer"
        raise DataError(folder, f"{len(by_stem)} annotation tables ({names}) and {why}: give one table as data.root "
                                "(or, for a DeepLabCut project, set scorer in config.yaml)", field="CollectedData")
    return [pick(v) for v in by_stem.values()]


def find_tables(path: Path) -> tuple[Path | None, list[Path]]:
    """``(config.yaml or None, annotation tables)`` of a project folder, a config, a data folder or a table.

    Raises:
        DataError: nothing DeepLabCut-shaped at ``path``.
    """
    if not path.exists():
        raise DataError(path, "DeepLabCut project or table not found (data.root)")
    if path.is_file() and path.suffix.lower() in (".csv", ".h5"):
        for up in list(path.parents)[:3]:  # beside the table, labeled-data/, the project
            if (up / "config.yaml").is_file() and read_dlc_config(up / "config.yaml") is not None:
                return up / "config.yaml", [path]
        return None, [path]
    if path.is_file():
        if read_dlc_config(path) is None:
            raise DataError(path, "not a DeepLabCut config.yaml (no bodyparts and scorer)")
        path = path.parent
    project = _project_above(path)
    if project is not None and path.name == "labeled-data":  # the project's labelled data: the project
        path = project
    elif project is not None:  # one video's folder: its table, with the project's bodyparts, order and skeleton
        cfg = read_dlc_config(project / "config.yaml") or {}
        tables = _tables_in(path, str(cfg["scorer"]) if cfg.get("scorer") else None)
        if not tables:
            raise _no_table(path)
        return project / "config.yaml", tables
    cfg_path = path / "config.yaml"
    cfg = read_dlc_config(cfg_path) if cfg_path.is_file() else None
    scorer = str(cfg["scorer"]) if cfg and cfg.get("scorer") else None
    tables = _tables_in(path, scorer)  # lightning-pose keeps CollectedData.csv at the top
    labeled = path / "labeled-data"
    if not tables and labeled.is_dir():
        bare = []
        for sub in sorted(p for p in labeled.iterdir() if p.is_dir()):
            found = _tables_in(sub, scorer)
            tables += found
            if not found and any(q.suffix.lower() in IMAGE_SUFFIXES for q in sub.iterdir()):
                bare.append(sub.name)
        if bare and tables:  # frames extracted but never labelled (or labels not saved): passed over unsaid
            say_once(f"{labeled}: {', '.join(bare)} hold(s) images but no CollectedData table (not labelled yet, or "
                     "the labels not saved?): not read")
    if not tables:
        raise _no_table(path)
    return (cfg_path if cfg else None), tables


def _project_above(folder: Path) -> Path | None:
    """The DeepLabCut project whose ``labeled-data`` is ``folder`` or holds it (a folder without a ``config.yaml`` of
    its own, given as ``data.root``): its config was not read, so the keypoints lost the project's order and skeleton."""
    if (folder / "config.yaml").is_file():
        return None
    up = folder.parent if folder.name == "labeled-data" else \
        folder.parent.parent if folder.parent.name == "labeled-data" else None
    if up is None or not (up / "config.yaml").is_file():
        return None
    try:
        return up if read_dlc_config(up / "config.yaml") is not None else None
    except DataError:  # an unreadable config: read the folder as it is given
        return None


def _no_table(path: Path) -> DataError:
    """The error for a folder holding no annotation table."""
    return DataError(path, "no DeepLabCut annotation table (CollectedData*.csv or .h5, at the top or in "
                          "labeled-data/<video>/); data of another format needs data.spec set to a spec name or YAML file")


@functools.lru_cache(maxsize=256)
def say_once(text: str) -> None:
    """A ``note:`` line on standard error, once per process for each text (the spec and both splits find the tables)."""
    print(f"note: {text}", file=sys.stderr)


__all__ = ["find_tables", "read_dlc_config", "say_once"]
