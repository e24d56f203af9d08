"""The CSV layout of a DeepLabCut annotation table, checked before sleap-io reads the coordinates: the header
rows (``scorer``, optional ``individuals``, ``bodyparts``, ``coords``), the index columns naming each row's
image, and every filled cell. sleap-io reads what it can of a table quietly (a ``coords`` row of ``x, x`` gives
nothing labelled, a bodypart listed twice keeps one column pair), so each of these is an error here naming the
file, the row and the field."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from ...errors import DataError
from . import printable
from .checks import file_key


def csv_rows(table: Path) -> list[tuple[int, list[str]]]:
    """``(line number, cells)`` of every record of a CSV file (1-based physical line of the record's end)."""
    try:
        with table.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            return [(reader.line_num, r) for r in reader]
    except UnicodeDecodeError:
        raise DataError(table, f"not a readable CSV file: {_encoding_of(table)}") from None
    except (OSError, csv.Error) as e:
        raise DataError(table, f"not a readable CSV file ({type(e).__name__})") from None


def _encoding_of(table: Path) -> str:
    """What a CSV that is not UTF-8 looks like, with the fix: UTF-16 is what Excel's "Unicode Text" writes."""
    try:
        start = table.read_bytes()[:2]
    except OSError:
        start = b""
    if start in (b"\xff\xfe", b"\xfe\xff"):
        return "UTF-16 text (Excel's 'Unicode Text'): save it as 'CSV UTF-8 (comma delimited)'"
    return "not UTF-8 text: save it as UTF-8 CSV"


def _separator_hint(rows: list[tuple[int, list[str]]]) -> str:
    """Why a table has no header rows, where its first line shows it: cells separated by ``;`` or tabs, as Excel
    saves a CSV in a locale whose decimal mark is a comma."""
    first = rows[0][1] if rows else []
    line = ",".join(first)
    for sep, name in ((";", "';'"), ("\t", "tabs")):
        if len(first) == 1 and sep in line:
            return (f" (its cells are separated by {name}, as Excel saves a CSV where the decimal mark is a comma: "
                    "save it as 'CSV UTF-8 (comma delimited)', numbers with a '.')")
    return ""


def without_empty_tail(rows: list[tuple[int, list[str]]]) -> list[tuple[int, list[str]]]:
    """``rows`` without the columns at the end that are empty in every row (a spreadsheet's saving adds them)."""
    width = max((len(r) for _, r in rows), default=0)
    keep = width
    while keep > 0 and all(len(r) < keep or not r[keep - 1].strip() for _, r in rows):
        keep -= 1
    return rows if keep == width else [(ln, r[:keep]) for ln, r in rows]


def coords_row(rows: list[tuple[int, list[str]]]) -> tuple[int, int] | None:
    """``(index of the `coords` header row in rows, number of index columns)`` of a DeepLabCut CSV, or None when
    none of its first five rows is that row. The index columns are the first cell (the header row's name) and the
    empty cells after it."""
    at = next((i for i, (_, r) in enumerate(rows[:5]) if r and r[0] == "coords"), None)
    if at is None:
        return None
    coords = rows[at][1]
    return at, 1 + next((j for j, c in enumerate(coords[1:]) if c), len(coords) - 1)


def _header_bodyparts(table: Path, head: dict[str, list[str]], n_index: int) -> list[str]:
    """The bodyparts of a DeepLabCut header in column order, after checking that each one has its own
    ``x, y`` (or ``x, y, likelihood``) columns: sleap-io reads a bodypart only where it finds both, so a
    ``coords`` row of ``x, x`` or ``x, likelihood`` gave frames with no labelled point and no word, and a
    bodypart listed twice kept one of its column pairs only."""
    coords, bps = head["coords"][n_index:], head["bodyparts"][n_index:]
    inds = head["individuals"][n_index:] if "individuals" in head else [""] * len(coords)
    step = 3 if coords[2:3] == ["likelihood"] else 2
    unit = ["x", "y", "likelihood"][:step]
    seen: dict[tuple[str, str], int] = {}
    for j in range(0, len(coords), step):
        bp, got = bps[j] if j < len(bps) else "", coords[j:j + step]
        if got != unit:
            raise DataError(table, f"expected {', '.join(unit)} for each bodypart, got {printable(', '.join(got))} "
                                   f"for {printable(bp)!r} (column {n_index + j + 1})", record="header", field="coords")
        if bps[j:j + step] != [bp] * step:
            raise DataError(table, f"the {', '.join(unit)} columns from column {n_index + j + 1} name "
                                   f"{printable(', '.join(bps[j:j + step]))}, not one bodypart", record="header",
                            field="bodyparts")
        key = (inds[j] if j < len(inds) else "", bp)
        if key in seen:
            who = f" of individual {printable(key[0])!r}" if key[0] else ""
            raise DataError(table, f"bodypart {printable(bp)!r}{who} is listed twice (columns {seen[key]} and "
                                   f"{n_index + j + 1})", record="header", field="bodyparts")
        seen[key] = n_index + j + 1
    return list(dict.fromkeys(bp for _, bp in seen))


def table_layout(table: Path) -> tuple[list[str], list[str], list[int]]:
    """``(bodyparts in column order, image path of each data row, the data rows with no labelled point)`` of a
    DeepLabCut CSV, from its header and index columns (the coordinates are left to sleap-io)."""
    rows = without_empty_tail(csv_rows(table))
    found = coords_row(rows)
    head = {r[0]: r for _, r in rows[: (found[0] if found else 0) + 1] if r}
    if found is None or "bodyparts" not in head:
        raise DataError(table, "not a DeepLabCut table: no 'bodyparts' and 'coords' header rows"
                        + _separator_hint(rows), record="header")
    at, n_index = found
    coords = head["coords"]
    bodyparts = _header_bodyparts(table, head, n_index)
    xy = [j for j in range(n_index, len(coords)) if coords[j] in ("x", "y")]
    data = [(ln, r) for ln, r in rows[at + 1:] if any(r)]
    empty = []
    seen: dict[str, int] = {}
    for i, (ln, r) in enumerate(data):
        # Longer: pandas would stop with its own multi-line message. Shorter: the missing cells read as
        # unlabelled, which a table cut short (a crash while it was written) gives as well, with no word.
        if len(r) != len(coords):
            fix = "" if len(r) > len(coords) else " (a row cut short? unlabelled cells are written empty: ',,')"
            raise DataError(table, f"{len(r)} cells, the header has {len(coords)}{fix}",
                            record=f"line {ln} ({printable('/'.join(r[:n_index]))})")
        image = "/".join(r[:n_index])
        # In any spelling (vidA/img.png, vidA/./img.png; \ of Windows as /): the row finds the same file.
        key = file_key(image.replace("\\", "/") if "\\" in image and "/" not in image else image)
        if key in seen:  # read as two animals on one image (a single-animal project) without a word
            raise DataError(table, f"the image is labelled on two rows (lines {seen[key]} and {ln}): one row per "
                                   "image, the animals of a multi-animal project in its columns",
                            record=f"line {ln} ({printable(image)})", field="image")
        seen[key] = ln
        _check_numbers(table, i, r, n_index, head["bodyparts"], coords)
        if not any(cell(r, j) for j in xy):
            empty.append(i)
    return bodyparts, ["/".join(r[:n_index]) for _, r in data], empty


def _check_numbers(table: Path, i: int, row: list[str], n_index: int, bodyparts: list[str], coords: list[str]) -> None:
    """Every filled coordinate cell of data row ``i`` is a finite number (sleap-io would turn a stray word
    into a failure of the whole table, or quietly into an unlabelled point)."""
    for j in range(n_index, len(row)):
        text = cell(row, j)
        if not text:
            continue
        try:
            ok = math.isfinite(float(text))
        except ValueError:
            ok = False
        if not ok:
            fld = f"{bodyparts[j] if j < len(bodyparts) else '?'}.{coords[j] if j < len(coords) else '?'}"
            raise DataError(table, f"not a finite number: {printable(text)!r}",
                            record=f"row {i} ({printable('/'.join(row[:n_index]))})", field=fld)
        # x without y (or y without x): sleap-io reads the point as unlabelled, and the label is lost unsaid.
        if coords[j] == "x" and j + 1 < len(coords) and coords[j + 1] == "y" and not cell(row, j + 1):
            raise DataError(table, f"x is given and y is {_missing(row, j + 1)}: a half-labelled point",
                            record=f"row {i} ({printable('/'.join(row[:n_index]))})", field=f"{bodyparts[j]}.y")
        if coords[j] == "y" and j >= 1 and coords[j - 1] == "x" and not cell(row, j - 1):
            raise DataError(table, f"y is given and x is {_missing(row, j - 1)}: a half-labelled point",
                            record=f"row {i} ({printable('/'.join(row[:n_index]))})", field=f"{bodyparts[j]}.x")


def _missing(row: list[str], j: int) -> str:
    """How cell ``j`` of ``row`` is missing: ``empty``, or the NaN it holds (a cell written ``NaN`` was called empty)."""
    cell = row[j].strip() if j < len(row) else ""
    return f"{cell!r} (not a number)" if cell else "empty"


def cell(row: list[str], j: int) -> str:
    """Cell ``j`` of ``row`` stripped, "" when it is absent or not labelled: empty as DeepLabCut writes it, or
    ``NaN`` as pandas writes a missing value (``to_csv`` without ``na_rep``; lightning-pose's and edited tables carry
    it), in the spellings pandas reads back as missing (:data:`NAN_CELLS`: sleap-io reads the table with pandas,
    and ``NAN`` or ``+nan`` would reach it as words)."""
    cell = row[j].strip() if j < len(row) else ""
    return "" if cell in NAN_CELLS else cell


#: The spellings of a missing value that pandas' ``read_csv`` reads as NaN among those of "not a number".
NAN_CELLS = frozenset({"nan", "NaN", "-nan", "-NaN"})


__all__ = ["cell", "coords_row", "csv_rows", "table_layout", "without_empty_tail"]
