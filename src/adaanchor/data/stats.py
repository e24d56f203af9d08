"""Dataset statistics (``adaanchor data stats CONFIG``): counts by visibility and every problem found.

Each split is read with ``skip_invalid=True``, so that every bad record is listed (not only the first),
and every image file's header is read (missing, empty, not an image: :func:`adaanchor.data.pixels.image_file_problem`;
decoding the pixels is left to training, see :func:`adaanchor.data.image_read.load_image`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..coords import outside_frame
from ..errors import unknown_name_error
from .crop_stats import crop_option_lines, crop_option_stats
from .readers import ReadResult
from .readers.image_header import ImageHeaders
from .spec import KeypointSpec
from .splits import shared_images, split_by_config


def _plain(cfg: Any) -> dict[str, Any]:
    """The ``data`` section as a plain dict, missing keys taken from :data:`~adaanchor.data.data_config.DATA_DEFAULTS`."""
    from .data_config import DATA_DEFAULTS

    if hasattr(cfg, "_metadata") or type(cfg).__name__ == "DictConfig":
        from omegaconf import OmegaConf

        cfg = OmegaConf.to_container(cfg, resolve=True)
    return {**DATA_DEFAULTS, **dict(cfg)}


def split_stats(res: ReadResult, check_images: bool = True) -> dict[str, Any]:
    """Counts of one :class:`ReadResult`.

    Returns:
        ``file``; ``images`` (distinct image files); ``instances``; ``keypoints`` = ``{"v2", "v1", "v0"}``;
        ``labelled_outside_box`` (labelled keypoints outside their instance box ``[x, x + w] x [y, y + h]``);
        ``labelled_outside_image`` (labelled keypoints outside their image as stored, and for an image that an EXIF
        orientation turns by 90 degrees outside the turned frame too: a box drawn from the points themselves, as
        DeepLabCut's and SLEAP's are, hides a typo such as x = 255 on a 128 px frame; 0 without ``check_images``);
        ``missing_images`` (image files not found: of kept records, and of records a reader skipped for it) and
        ``problems``: one line per skipped record (the reader's message, naming file, record and field) and per
        image file that is missing or unreadable (empty, not an image); ``unreadable_images``: those files, as
        ``[path, why]`` pairs in path order (``data stats`` says where a training stops).
    """
    insts = res.instances
    v = np.concatenate([i.visibility for i in insts]) if insts else np.zeros(0, dtype=np.int64)
    outside = 0
    for i in insts:
        lab = i.visibility > 0
        if lab.any():
            x, y, w, h = i.bbox
            p = i.keypoints[lab]
            outside += int(np.sum((p[:, 0] < x) | (p[:, 0] > x + w) | (p[:, 1] < y) | (p[:, 1] > y + h)))
    paths = sorted({i.image_path for i in insts})
    heads = res.headers if res.headers is not None else ImageHeaders()  # the reader's opens, reused
    unreadable = {p: why for p in paths if (why := heads.problem(p)) is not None} if check_images else {}
    missing = [p for p, why in unreadable.items() if why == "image file not found"]
    problems = [str(e) for e in res.skipped] + [f"{p}: {why}" for p, why in unreadable.items()]
    # A reader that checks its images (DeepLabCut, SLEAP) skips the records of a missing one itself: they count too.
    skipped_missing = sum(getattr(e, "reason", None) == "image file not found" for e in res.skipped)
    return {
        "file": res.source,
        "images": len(paths),
        "instances": len(insts),
        "keypoints": {"v2": int(np.sum(v == 2)), "v1": int(np.sum(v == 1)), "v0": int(np.sum(v == 0))},
        "labelled_outside_box": outside,
        "labelled_outside_image": _outside_image(insts, heads) if check_images else 0,
        "skipped": len(res.skipped),
        "missing_images": len(missing) + skipped_missing,
        "problems": problems,
        "unreadable_images": [[p, why] for p, why in unreadable.items()],
    }


def _outside_image(insts: Sequence[Any], heads: ImageHeaders) -> int:
    """The labelled keypoints of ``insts`` that lie outside their image (:func:`~adaanchor.coords.outside_frame`):
    its stored frame, and for a file whose EXIF orientation turns it by 90 degrees (5-8) that turned frame as well,
    as its labels may be in either. The orientation is read only for images with such points; it used to be assumed
    for every file, which hid 12 of 15 points outside PNGs that have no EXIF block at all."""
    count = 0
    for i in insts:
        lab = i.visibility > 0
        size = heads.stored_size(i.image_path) if lab.any() else None
        if size is None:
            continue
        (w, h), p = size, i.keypoints[lab]
        out = outside_frame(p[:, 0], p[:, 1], w, h)
        if out.any() and heads.orientation(i.image_path) in (5, 6, 7, 8):
            out &= outside_frame(p[:, 0], p[:, 1], h, w)
        count += int(np.sum(out))
    return count


def _read(cfg: dict[str, Any], split: str, spec: KeypointSpec) -> ReadResult:
    """Read ``split`` with ``spec`` as training would (same annotation file, image folder and root check),
    listing every bad record instead of stopping at the first."""
    from .build import annotation_path, hinting_format, images_dir, outside_root
    from .readers.formats import FORMATS

    fmt = "csv" if split == "val" and cfg.get("csv") else str(cfg["format"])
    if fmt not in FORMATS:
        raise unknown_name_error("data.format", fmt, FORMATS)
    path = annotation_path(cfg, split)
    with hinting_format(cfg):
        res = FORMATS[fmt](path, spec, images_dir=images_dir(cfg, split), skip_invalid=True)
    outside_root(res, {**cfg, "skip_invalid": True}, split, Path(path))
    sp = cfg.get("split") or {}
    from .build import splits_one_file

    if splits_one_file(cfg):
        # One file split in two, as training splits it (data.split): its problems are listed once, under train.
        res.instances = split_by_config(res.instances, split, sp)
        res.skipped = res.skipped if split == "train" else []
    return res


def dataset_stats(
    source: Mapping[str, Any] | ReadResult | Sequence[ReadResult] | Mapping[str, ReadResult],
    splits: Sequence[str] = ("train", "val"),
    check_images: bool = True,
    task: str = "topdown",
    results_out: dict[str, ReadResult] | None = None,
) -> dict[str, Any]:
    """Statistics of a dataset.

    Args:
        source: a config (:func:`adaanchor.config.build_config`'s; its ``data`` section and ``task`` are
            read), the ``data`` config section (a mapping with ``format``, ``root``, ``train``, ``val``,
            ``images``, ``spec``; missing keys take the defaults of :mod:`adaanchor.data.build`, an unknown one is
            an error), or already read :class:`ReadResult` objects (one, a list, or a mapping name -> result).
        splits: the splits of a config to read (a split whose file is ``null`` is left out).
        check_images: check that every image file exists.
        task: the config's ``task`` (taken from a whole config): a top-down config with ``data.crop=image`` lists images holding several
            instances as a problem (training refuses them, :func:`adaanchor.data.split_checks.check_one_per_image`).
        results_out: a dict that receives the splits' :class:`ReadResult` (for checks of a higher layer).

    Returns:
        ``{"splits": {name: split_stats}, "total": {...same counts summed...}}`` plus ``format`` and
        ``spec`` for a config, and ``truncation`` / ``occlusion`` for a top-down config with that option on
        (:func:`~adaanchor.data.crop_stats.crop_option_stats`).
    """
    if isinstance(source, Mapping) and "data" in source and isinstance(source["data"], Mapping):
        task, source = str(source.get("task", task)), source["data"]  # a whole config (build_config's), as a user has it
    results, head, whole_images = _results_of(source, splits, task)
    if results_out is not None:
        results_out.update(results)
    per = {name: split_stats(r, check_images) for name, r in results.items()}
    if head:
        from .build import _exif_mode
        from .split_checks import displayed_frame_problem

        for name, r in results.items():
            problem = displayed_frame_problem(r, _exif_mode(_plain(source)))
            if problem:
                per[name]["problems"].append(problem)
    if whole_images:
        from .split_checks import several_per_image

        for name, r in results.items():
            problem = several_per_image(r, name)
            if problem:
                per[name]["problems"].append(problem)
    if head and "train" in results and "val" in results:  # a config's splits: is its evaluation held out?
        shared = shared_images(results["train"].instances, results["val"].instances, _plain(source))
        if shared:
            per["val"]["problems"].append(shared)
    out = {**head, "splits": per, "total": _total(per)}
    if head and task == "topdown" and "val" in results:
        out.update(crop_option_stats(_plain(source), results["val"]))
    return out


def _results_of(source: Mapping[str, Any] | ReadResult | Sequence[ReadResult] | Mapping[str, ReadResult],
                splits: Sequence[str], task: str) -> tuple[dict[str, ReadResult], dict[str, Any], bool]:
    """The read results of :func:`dataset_stats`'s ``source`` by name, the lines that head a config's statistics
    (``format``, ``spec``, ``split``; none for read results) and whether a top-down config takes the whole image as
    the input (one instance per image)."""
    if isinstance(source, ReadResult):
        return {source.source or "data": source}, {}, False
    if isinstance(source, Mapping) and source and all(isinstance(v, ReadResult) for v in source.values()):
        return dict(source), {}, False  # type: ignore[arg-type]
    if isinstance(source, Mapping) or hasattr(source, "_metadata"):
        _check_data_keys(source)
        return _read_config(source, splits, task)
    if source is None or isinstance(source, (str, bytes, Path)) or not hasattr(source, "__iter__"):
        raise TypeError(f"dataset_stats: expected a config (build_config's, or its data section) or ReadResult objects, "
                        f"got {type(source).__name__}: build_config(CONFIG, overrides) reads a config file or name")
    items = list(source)
    if not all(isinstance(r, ReadResult) for r in items):
        raise TypeError("dataset_stats needs a data config mapping or ReadResult objects")
    return {(r.source or f"data{i}"): r for i, r in enumerate(items)}, {}, False


def _check_data_keys(source: Mapping[str, Any]) -> None:
    """Refuse a key that is no option of the ``data`` section: the whole config passed in was read as a data
    section without a ``root`` (its ``model``, ``train``, ... ignored), and the default synthetic benchmark of 6000
    images was generated in ./data-cache and counted instead of the config's data."""
    from .data_config import DATA_DEFAULTS

    for key in source:
        if key not in DATA_DEFAULTS:
            raise unknown_name_error("data config key", str(key), sorted(DATA_DEFAULTS))


def _read_config(source: Mapping[str, Any], splits: Sequence[str], task: str) -> tuple[dict[str, ReadResult], dict[str, Any], bool]:
    """:func:`_results_of` a ``data`` config section: each split of ``splits`` that has a file (or is generated)
    read as training reads it."""
    from .build import data_spec, own_split, splits_one_file
    from .paths import GENERATED_FORMATS

    cfg = _plain(source)
    whole_images = task == "topdown" and str(cfg["crop"]) == "image"
    spec = data_spec(cfg)
    named = f"{spec.name}, " if spec.name != str(cfg["spec"]) else ""
    head = {"format": str(cfg["format"]), "spec": f"{cfg['spec']} ({named}{spec.num_keypoints} keypoints)"}
    sp = cfg.get("split") or {}
    own = {s: own_split(cfg, s) for s in ("train", "val")}
    if own["train"] is not None or own["val"] is not None:  # a part named by hand: the other is the dataset's own
        parts = [f"{s} {own[s]}" if own[s] is not None else f"{s} {cfg.get(s)} as given" for s in ("train", "val")]
        head["split"] = f"the dataset's own: {', '.join(parts)} (data.split does not apply)"
    elif splits_one_file(cfg):
        head["split"] = f"{sp['by']}, val_fraction {sp['val_fraction']}, seed {sp['seed']}"
        if float(sp.get("dev_fraction") or 0.0) > 0:
            head["split"] += f"; the dev split: {sp['dev_fraction']} of the training groups as val"
        head["split"] += " (one file, split as training splits it)"
    results: dict[str, ReadResult] = {}
    for split in splits:
        if cfg.get(split) is None and cfg["format"] not in GENERATED_FORMATS:
            continue
        results[split] = _read(cfg, split, spec)  # the spec derived once (a DLC project's is read from its tables)
    return results, head, whole_images


def _total(per: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The counts of every split's :func:`split_stats` summed (``problems``: their number)."""
    total: dict[str, Any] = {"images": 0, "instances": 0, "keypoints": {"v2": 0, "v1": 0, "v0": 0},
                             "labelled_outside_box": 0, "labelled_outside_image": 0, "skipped": 0, "missing_images": 0,
                             "problems": 0}
    for s in per.values():
        for key in ("images", "instances", "labelled_outside_box", "labelled_outside_image", "skipped",
                    "missing_images"):
            total[key] += s[key]
        for key in ("v2", "v1", "v0"):
            total["keypoints"][key] += s["keypoints"][key]
        total["problems"] += len(s["problems"])
    return total


def format_stats(d: Mapping[str, Any], max_problems: int = 50) -> str:
    """Text of :func:`dataset_stats`: one table row per split, then the problems (first ``max_problems`` of
    each split, with the count of the rest)."""
    lines = []
    if "format" in d:
        lines.append(f"format: {d['format']}  spec: {d['spec']}")
    if "split" in d:
        lines.append(f"split: {d['split']}")
    cols = ["split", "images", "instances", "v=2", "v=1", "v=0", "outside box", "outside image", "skipped",
            "missing images"]
    lines += ["| " + " | ".join(cols) + " |", "|---" * len(cols) + "|"]

    def row(name: str, s: Mapping[str, Any]) -> str:
        k = s["keypoints"]
        vals = [name, s["images"], s["instances"], k["v2"], k["v1"], k["v0"], s["labelled_outside_box"],
                s["labelled_outside_image"], s["skipped"], s["missing_images"]]
        return "| " + " | ".join(str(v) for v in vals) + " |"

    for name, s in d["splits"].items():
        lines.append(row(name, s))
    if len(d["splits"]) > 1:
        lines.append(row("total", d["total"]))
    for name, s in d["splits"].items():
        probs = s["problems"]
        if not probs:
            continue
        lines += ["", f"{name}: {len(probs)} problem(s)"]
        lines += [f"  {p}" for p in probs[:max_problems]]
        if len(probs) > max_problems:
            lines.append(f"  ... and {len(probs) - max_problems} more")
    lines += crop_option_lines(d)
    if not any(s["problems"] for s in d["splits"].values()):
        lines += ["", "no problems found"]
    return "\n".join(lines)
