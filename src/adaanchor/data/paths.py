"""Where a ``data`` config section's files are: the annotation file of each split, the image folder, the generated
benchmarks written on first use, and the check that images stay inside the data root."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import AdaAnchorError, DataError, unknown_name_error
from .readers import ReadResult

#: The benchmarks the package writes itself into ``data.root`` (a cache folder) on first use, from the options of
#: the data section of the same name (``data.synth``, ``data.crowd``): their root need not exist beforehand.
GENERATED_FORMATS = ("synth", "crowd")


def resolve_data_path(root: Path, rel: str | None) -> Path | None:
    """A data file's path as the readers take it: ``~`` expanded, then relative to ``root`` unless absolute."""
    if rel is None:
        return None
    p = Path(str(rel)).expanduser()
    return p if p.is_absolute() else root / p


#: The splits whose image folders ``data.images`` may name one by one (``{train: DIR, val: DIR}``): those read.
IMAGE_SPLITS = ("train", "val")


def check_images(value: Any) -> None:
    """``data.images`` is null, a folder or a mapping of :data:`IMAGE_SPLITS` to folders (or null): a list was
    read as the folder ``['a', 'b']``, and a key such as ``valid`` or ``tran`` was ignored (that split's images
    looked for in the annotation file's folder). Checked by ``build_config`` and where the folder is read."""
    if value is None or isinstance(value, (str, os.PathLike)):
        return
    if not isinstance(value, Mapping):
        raise AdaAnchorError(f"config key 'data.images' must be a folder (a path) or {{train: DIR, val: DIR}}, "
                             f"got {value!r}")
    for key, folder in value.items():
        if key not in IMAGE_SPLITS:
            raise unknown_name_error("config key", f"data.images.{key}", [f"data.images.{s}" for s in IMAGE_SPLITS])
        if folder is not None and not isinstance(folder, (str, os.PathLike)):
            raise AdaAnchorError(f"config key 'data.images.{key}' must be a folder (a path) or null, got {folder!r}")


def images_dir(data_cfg: Mapping[str, Any], split: str) -> Path | None:
    """The image folder of ``split``: ``data.images`` (a folder, or ``{train: DIR, val: DIR}``) relative to
    ``data.root``, or to its folder when ``data.root`` is a file (an annotation file given as the root:
    ``root=birds/ann.json images=images`` was read as ``birds/ann.json/images``); None means the reader's default
    (the annotation file's folder)."""
    images_cfg = data_cfg.get("images")
    check_images(images_cfg)
    if isinstance(images_cfg, Mapping):
        images_cfg = images_cfg.get(split)
    root = Path(str(data_cfg["root"])).expanduser()
    return resolve_data_path(root.parent if root.is_file() else root, images_cfg)


def found_below(missing: str | Path, limit: int = 64) -> str:
    """A hint for a missing image whose name is in a subfolder of its folder (the annotation file beside an
    ``images/`` folder, read without ``data.images``): ``" (a file of that name is in DIR: set data.images to that
    folder)"``, or "" (the first ``limit`` subfolders are looked at)."""
    p = Path(missing)
    try:
        subs = sorted(d for d in p.parent.iterdir() if d.is_dir())[:limit] if p.parent.is_dir() else []
    except OSError:
        return ""
    for d in subs:
        if (d / p.name).is_file():
            return f" (a file of that name is in {d}: set data.images to that folder)"
    return ""


def outside_root(res: ReadResult, data_cfg: Mapping[str, Any], split: str, path: Path) -> None:
    """Refuse (or, with ``skip_invalid``, skip and count) instances whose image path leaves the data root.

    The check is lexical (``..`` and absolute paths), so a dataset whose image folder is a symbolic link
    to another disk still reads. Allowed bases: ``data.root``, the image folder and the annotation file's
    folder (all three as given by the config)."""
    if data_cfg.get("allow_outside_root"):
        return
    root = Path(str(data_cfg["root"])).expanduser()
    bases = [os.path.abspath(b) for b in (root, images_dir(data_cfg, split), path.parent) if b is not None]
    kept = []
    for inst in res.instances:
        p = os.path.abspath(inst.image_path)  # normalises ".." without following links
        if any(p == b or p.startswith(b.rstrip(os.sep) + os.sep) for b in bases):
            kept.append(inst)
            continue
        err = DataError(path, f"image path {p} is outside the data root {os.path.abspath(root)} (set "
                        "data.allow_outside_root=true to allow it)", record=f"image_id {inst.image_id} ann_id "
                        f"{inst.ann_id}", field="file_name")
        if not data_cfg.get("skip_invalid"):
            raise err
        res.skipped.append(err)
    res.instances = kept


def generated_options(data_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The options of a generated benchmark (``data.format`` synth or crowd): its section (``data.synth`` or
    ``data.crowd``) with the image size set to ``data.input_size``."""
    w, h = data_cfg["input_size"]
    return {**dict(data_cfg.get(str(data_cfg["format"])) or {}), "width": int(w), "height": int(h)}


def write_generated(data_cfg: Mapping[str, Any]) -> dict[str, Path]:
    """Write a generated benchmark into ``data.root`` (or reuse it there when it was written with the same
    options); returns its ``train`` and ``val`` JSON paths and its ``root``."""
    if data_cfg["format"] == "crowd":
        from ..bench.crowd import write_crowd_benchmark as write
    else:
        from ..bench.synth import write_benchmark as write
    return write(Path(str(data_cfg["root"])).expanduser(), generated_options(data_cfg))


def own_split(data_cfg: Mapping[str, Any], split: str) -> Path | None:
    """The path of ``split`` in a dataset that carries its own train/val split: a YOLO ``data.yaml`` naming both,
    given as the whole dataset for this split (its folder or yaml; ``.`` in the config for your own data). Such a
    split is used as it is and ``data.split`` does not apply; so is the yaml's ``val`` when only ``data.train``
    names a part of the dataset (``data.train=images/train``), and the yaml's ``train`` when only ``data.val`` does:
    the whole dataset there read the other split's images too, and evaluated on the training images. A whole
    dataset whose yaml does not name that split as one folder or list, beside a part of it, is an error for the
    same reason. None for every other dataset."""
    root = Path(str(data_cfg["root"])).expanduser()
    whole = resolve_data_path(root, data_cfg.get(split))
    if data_cfg["format"] != "yolo" or whole is None:
        return None
    from .readers.yolo import find_yolo_yaml, split_entry

    if data_cfg.get("train") == data_cfg.get("val"):
        return split_entry(whole, split)
    yml = find_yolo_yaml(whole) if whole.exists() else None
    if yml is None or not (whole == yml or (whole.is_dir() and whole.resolve() == yml.parent.resolve())):
        return None  # a part of the dataset (a split folder, an image list): read as given
    own = split_entry(whole, split)
    if own is None:
        other = "val" if split == "train" else "train"
        raise AdaAnchorError(f"data.{split}={data_cfg.get(split)} is the whole dataset ({yml}), which holds the "
                             f"images of data.{other}={data_cfg.get(other)} too, and {yml.name} names no {split} "
                             f"split of one folder or list: set data.{split} to a folder or image list of other "
                             f"images, or data.{other}={data_cfg.get(split)} to split the dataset at random")
    return own


def splits_one_file(data_cfg: Mapping[str, Any]) -> bool:
    """Whether ``data.split`` carves train and val out of one annotation file (or dataset) for this config."""
    sp = data_cfg.get("split") or {}
    return (bool(sp.get("by")) and data_cfg.get("train") == data_cfg.get("val")
            and own_split(data_cfg, "train") is None)


def annotation_path(data_cfg: Mapping[str, Any], split: str) -> Path:
    """The annotation file of ``split`` (``train`` or ``val``); for a generated benchmark (``synth``, ``crowd``)
    it is written (or its cache reused) first."""
    root = Path(str(data_cfg["root"])).expanduser()
    if split == "val" and data_cfg.get("csv"):
        p = Path(str(data_cfg["csv"])).expanduser()
        if not p.is_file():
            raise AdaAnchorError(f"{p}: landmark CSV not found (data.csv)")
        return p
    if data_cfg["format"] in GENERATED_FORMATS:
        named, own = data_cfg.get(split), root / f"{split}.json"  # the generators write train.json and val.json
        if named not in (None, own.name) and resolve_data_path(root, named) != own:
            # A generated benchmark has its own files: eval RUN data.val=other.json scored the benchmark's val split.
            raise AdaAnchorError(f"data.{split}={named}: data.format={data_cfg['format']} generates its own {split} split "
                                 f"({own}) and reads no other file; to use {named}, set data.format (coco, ...) and "
                                 "data.root for it too")
        return Path(write_generated(data_cfg)[split])
    own = own_split(data_cfg, split)
    if own is not None:
        return own
    p = resolve_data_path(root, data_cfg[split])
    assert p is not None
    if not p.exists():
        # A packaged config's relative root (../shared/data/...) is read against the working folder.
        where = "" if Path(root).exists() else (f"; the folder data.root={root} does not exist: give data.root=PATH, "
                                                "the dataset's folder (a relative root is read from the working folder)")
        raise AdaAnchorError(f"{p}: annotation file not found (data.root={root}, data.{split}={data_cfg[split]}{where})")
    if p.is_dir() and str(data_cfg["format"]) in COCO_JSON_FORMATS:
        # The config for your own data names the root for DeepLabCut's and SLEAP's sake (data.train: .); a COCO
        # folder there was read as a DeepLabCut project ('no DeepLabCut annotation table').
        found = sorted(f.name for f in p.glob("*.json"))[:4]
        raise AdaAnchorError(f"{p}: data.{split}={data_cfg[split]} is a folder; data.format={data_cfg['format']} "
                             f"reads one COCO-style JSON file per split: set data.train and data.val to them"
                             + (f" (here: {', '.join(found)})" if found else ""))
    return p


#: Formats whose annotation files are COCO-style JSON carrying their keypoint set (:mod:`.readers.coco_spec`).
COCO_JSON_FORMATS = ("coco", "crowdpose")


__all__ = ["found_below", "IMAGE_SPLITS", "check_images", "COCO_JSON_FORMATS", "GENERATED_FORMATS", "annotation_path",
           "generated_options", "images_dir", "outside_root", "own_split", "resolve_data_path", "splits_one_file", "write_generated"]
