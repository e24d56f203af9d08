"""Datasets from the ``data`` config section: the reader, the keypoint spec, the crop and augmentation."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import AdaAnchorError, unknown_name_error
from .dataset import AUG_DEFAULTS, TopDownDataset
from .readers import ReadResult
from .spec import KeypointSpec, load_spec
from .synth import SYNTH_DEFAULTS

DATA_DEFAULTS: dict[str, Any] = {
    "format": "synth",  # synth (the built-in benchmark) | a reader of adaanchor.data.readers.formats
    "root": "data-cache/synth",  # dataset root; for synth, the cache folder of the generated benchmark
    "train": "train.json",  # annotation file of the training split, relative to root
    "val": "val.json",  # annotation file of the evaluation split, relative to root
    "images": None,  # image folder, relative to root (default: the annotation file's folder)
    "spec": "coco",  # built-in keypoint spec name or a YAML path (docs/datasets.md)
    "input_size": [72, 96],  # model input (W, H)
    "crop": "image",  # image: the whole image is the input | box: crop the instance box (top-down)
    "skip_invalid": False,  # skip bad records (reported) instead of stopping at the first one
    "cache_images": True,  # keep decoded images in memory
    "aug": copy.deepcopy(AUG_DEFAULTS),
    "synth": copy.deepcopy(SYNTH_DEFAULTS),
}


def _resolve(root: Path, rel: str | None) -> Path | None:
    if rel is None:
        return None
    p = Path(str(rel)).expanduser()
    return p if p.is_absolute() else root / p


def annotation_path(data_cfg: Mapping[str, Any], split: str) -> Path:
    """The annotation file of ``split`` (``train`` or ``val``); for ``synth`` the benchmark is generated
    (or its cache reused) first."""
    root = Path(str(data_cfg["root"])).expanduser()
    if data_cfg["format"] == "synth":
        from .synth import write_benchmark

        w, h = data_cfg["input_size"]
        synth_cfg = {**dict(data_cfg.get("synth") or {}), "width": int(w), "height": int(h)}
        return Path(write_benchmark(root, synth_cfg)[split])
    p = _resolve(root, data_cfg[split])
    assert p is not None
    if not p.exists():
        raise AdaAnchorError(f"{p}: annotation file not found (data.root={root}, data.{split}={data_cfg[split]})")
    return p


def read_split(data_cfg: Mapping[str, Any], split: str, spec: KeypointSpec | None = None, verbose: bool = True) -> ReadResult:
    """Read the instances of ``split``; prints what was skipped and why (nothing is dropped silently)."""
    from .readers.formats import FORMATS

    fmt = str(data_cfg["format"])
    if fmt not in FORMATS:
        raise unknown_name_error("data.format", fmt, FORMATS)
    spec = spec or load_spec(data_cfg["spec"])
    path = annotation_path(data_cfg, split)
    images = _resolve(Path(str(data_cfg["root"])).expanduser(), data_cfg.get("images"))
    res: ReadResult = FORMATS[fmt](path, spec, images_dir=images, skip_invalid=bool(data_cfg["skip_invalid"]))
    if verbose and res.skipped:
        print(res.summary())
    if not res.instances:
        raise AdaAnchorError(f"{path}: no usable instance in the {split} split")
    return res


def build_dataset(data_cfg: Mapping[str, Any], split: str, train: bool | None = None,
                  transform: Any = None, verbose: bool = True) -> TopDownDataset:
    """The :class:`TopDownDataset` of ``split``; augmentation on when ``train`` (default: split == 'train')."""
    spec = load_spec(data_cfg["spec"])
    res = read_split(data_cfg, split, spec, verbose)
    return TopDownDataset(
        res.instances,
        spec,
        data_cfg["input_size"],
        crop=str(data_cfg["crop"]),
        train=(split == "train") if train is None else train,
        aug=dict(data_cfg.get("aug") or {}),
        transform=transform,
        cache_images=bool(data_cfg["cache_images"]),
    )
