"""How many labelled keypoints (and person centres) of a multi-person COCO file lie off the output map, and how far.

    python benchmarks/off_map.py ANNOTATIONS.json [...] [--stride 4] [--radius 2] [--out DIR] [--name off_map]

What the local supervision's choice (``strategy.local_about``, docs/method.md) can change on a dataset: the two
supervisions differ only for targets beyond the rectangle of the outer cell centres (where the decoding clamps a
point before reading the local map), and a target more than ``--radius`` cells (``strategy.local_radius``) beyond
it had no supervised cell at all under the former one (``local_about=target``). The map is each image's own
size divided by ``--stride``, as the bottom-up benchmarks feed their images (benchmarks/multi_tables.py); a
person's centre is the mean of its labelled keypoints (the centre task's, :mod:`adaanchor.strategies.centre`).
Prints a table and writes ``<name>.json`` and ``<name>.md`` under ``--out`` when given.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol import provenance  # noqa: E402
from script_exit import Refused, results_place_problem, run_main  # noqa: E402
from speed import write_results  # noqa: E402

from adaanchor.cli.argtypes import int_at_least  # noqa: E402
from adaanchor.strategies.anchor import AnchorStrategy  # noqa: E402
from adaanchor.strategies.assign_targets import clamp_to_map  # noqa: E402


def beyond_cells(points: np.ndarray, width: int, height: int, stride: int) -> np.ndarray:
    """Distance in cells of each point ``(P, 2)`` (input pixels) beyond the rectangle of the outer cell centres of
    the ``width x height`` image's map (0 on or inside it)."""
    h, w = height // stride, width // stride
    pts = torch.as_tensor(points, dtype=torch.float64)
    return (torch.linalg.vector_norm(pts - clamp_to_map(pts, h, w, stride), dim=-1) / stride).numpy()


def _images(doc: dict[str, Any], path: Path) -> dict[Any, tuple[int, int]]:
    sizes = {}
    for i, im in enumerate(doc.get("images") or []):
        if not isinstance(im, dict) or not all(isinstance(im.get(k), int) and im[k] > 0 for k in ("width", "height")):
            raise Refused(f"{path}: images[{i}] needs positive integer 'width' and 'height' (the map's size "
                             "comes from them)")
        sizes[im.get("id")] = (im["width"], im["height"])
    return sizes


def count_file(path: Path, stride: int, radius: float) -> dict[str, Any]:
    """Counts of one COCO keypoints file: labelled keypoints and person centres, how many lie beyond the outer
    cell centres and how many more than ``radius`` cells beyond them."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise Refused(f"{path}: cannot read it as JSON ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list) or not isinstance(doc.get("annotations"), list):
        # a JSON list was an AttributeError traceback, another results file a table of zeros (exit 0)
        raise Refused(f"{path}: not a COCO keypoints file (a JSON object with 'images' and 'annotations' lists)")
    sizes = _images(doc, path)
    dist_kp, dist_centre = [], []
    for j, ann in enumerate(doc.get("annotations") or []):
        kps = np.asarray(ann.get("keypoints") or [], dtype=float)
        if kps.size % 3 or ann.get("image_id") not in sizes:
            raise Refused(f"{path}: annotations[{j}] (id {ann.get('id')}): 'keypoints' must be x, y, v triples and "
                             "'image_id' one of the images")
        kps = kps.reshape(-1, 3)
        labelled = kps[kps[:, 2] > 0, :2]
        if not len(labelled):
            continue
        w, h = sizes[ann["image_id"]]
        dist_kp.append(beyond_cells(labelled, w, h, stride))
        dist_centre.append(beyond_cells(labelled.mean(0, keepdims=True), w, h, stride))
    out: dict[str, Any] = {"file": str(path), "stride": stride, "radius": radius}
    for name, parts in (("keypoints", dist_kp), ("centres", dist_centre)):
        d = np.concatenate(parts) if parts else np.zeros(0)
        out[name] = {"labelled": int(d.size), "beyond": int(np.sum(d > 0)), "beyond_radius": int(np.sum(d > radius)),
                     "max_cells": round(float(d.max()), 2) if d.size else None}
    return out


def to_markdown(rows: list[dict[str, Any]], where: dict[str, Any] | None = None) -> str:
    """The table of ``rows`` (:func:`count_file`), with the commit and machine of ``where`` (:func:`provenance`)."""
    def pct(n: int, total: int) -> str:
        return f"{n} ({100 * n / total:.2f} %)" if total else "0"

    lines = [f"# Labelled points off the map (stride {rows[0]['stride']}, radius {rows[0]['radius']} cells)", "",
             "| file | points | labelled | beyond the outer cell centres | more than the radius beyond | farthest (cells) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        for name in ("keypoints", "centres"):
            c = r[name]
            f = Path(r["file"])
            lines.append(f"| {f.parent.name}/{f.name} | {name} | {c['labelled']} | {pct(c['beyond'], c['labelled'])} | "
                         f"{pct(c['beyond_radius'], c['labelled'])} | {c['max_cells']} |")
    if where:
        lines += ["", f"Commit {where['commit']}; {where['machine']}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("annotations", type=Path, nargs="+", help="COCO keypoints files (images need width and height)")
    p.add_argument("--stride", type=int_at_least(1), default=4, help="output stride of the model (default 4)")
    radius = float(AnchorStrategy.DEFAULTS["local_radius"])
    p.add_argument("--radius", type=float, default=radius, help=f"local_radius in cells (default the strategy's, {radius})")
    p.add_argument("--out", type=Path, help="folder for <name>.json and <name>.md (default: print only)")
    p.add_argument("--name", default="off_map")
    a = p.parse_args(argv)
    if a.out is not None and (why := results_place_problem(a.out, a.name)) is not None:  # before the work
        p.error(why)
    if not a.radius >= 0 or a.radius == float("inf"):  # NaN passed "< 0" and counted nothing beyond it
        p.error(f"--radius must be a finite number >= 0, got {a.radius}")
    return run_main(lambda: count_and_write(a), "nothing was written", resume=False)


def count_and_write(a: argparse.Namespace) -> int:
    """Count the files of the parsed options ``a``; print the table, or write it under ``--out``."""
    rows = [count_file(f, a.stride, a.radius) for f in a.annotations]
    where = provenance()
    md = to_markdown(rows, where)
    if a.out is None:
        print(md, end="")
    else:
        write_results(a.out, a.name, {"files": rows, **where}, md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
