"""Datasets from the ``data`` config section: the reader, the keypoint spec, the crop and augmentation."""

from __future__ import annotations

import contextlib
import functools
import sys
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AdaAnchorError, DataError, unknown_name_error
from .bottomup import BOTTOMUP_AUG, BottomUpDataset, group_by_image
from .data_config import check_data_pairs
from .dataset import TopDownDataset
from .image_cache import DEFAULT_CACHE_MB
from .image_read import EXIF_MODES
from .paths import (
    COCO_JSON_FORMATS,
    annotation_path,
    images_dir,
    outside_root,
    own_split,
    resolve_data_path,
    splits_one_file,
)
from .readers import ReadResult
from .readers.formats import FORMAT_SPECS
from .readers.guess import format_hint
from .readers.sleap_labels import flip_pairs_from_names
from .spec import KeypointSpec
from .spec_source import is_builtin_name, load_spec
from .split_checks import check_one_per_image, displayed_frame_problem
from .splits import split_one_file
from .truncation import Truncation


def data_spec(data_cfg: Mapping[str, Any]) -> KeypointSpec:
    """The keypoint spec of a ``data`` section: ``data.spec`` (a built-in name, a YAML file or a data source,
    :func:`.spec_source.load_spec`). A folder as the spec of COCO-format data (the config for your own data,
    ``custom.yaml``, names ``data.root``) means the keypoint set of the training annotation file."""
    with hinting_format(data_cfg):
        spec = data_cfg["spec"]
        root = data_cfg.get("root")
        if isinstance(spec, (str, Path)) and isinstance(root, (str, Path)) and not Path(root).expanduser().exists() \
                and Path(spec).expanduser().resolve() == Path(root).expanduser().resolve():
            # custom.yaml reads the spec from the data (data.spec: ${data.root}): a typo in the root is not a spec's
            raise DataError(Path(str(root)).expanduser(), "no such file or folder (data.root; the keypoint names are "
                            "read from the data there)")
        fmt, usual = str(data_cfg["format"]), FORMAT_SPECS.get(str(data_cfg["format"]))
        if usual and fmt not in COCO_JSON_FORMATS and isinstance(spec, (str, Path)) and isinstance(root, (str, Path)) \
                and Path(spec).expanduser().resolve() == Path(root).expanduser().resolve():
            # custom.yaml's spec: ${data.root} for a format whose files name no keypoints: the error was about a
            # missing DeepLabCut table.
            raise AdaAnchorError(f"data.format={fmt}: its files name no keypoints, so the spec cannot be read from "
                                 f"data.root: give data.spec={usual} (the format's usual set) or a spec YAML "
                                 "(docs/datasets.md, 'Keypoint specs')")
        # A built-in name wins over a folder of that name (is_builtin_name): data.spec=coco in a folder holding coco/.
        if isinstance(spec, (str, Path)) and str(data_cfg["format"]) in COCO_JSON_FORMATS and \
                not is_builtin_name(spec) and Path(spec).expanduser().is_dir():
            spec = annotation_path(data_cfg, "train")
        return load_spec(spec)


@contextlib.contextmanager
def hinting_format(data_cfg: Mapping[str, Any]) -> Iterator[None]:
    """An error reading the data says which ``data.format`` its root looks like, when another (a SLEAP file read
    as DeepLabCut's was 'unreadable DeepLabCut config (UnicodeDecodeError)')."""
    try:
        yield
    except AdaAnchorError as e:
        hint = format_hint(data_cfg.get("root"), str(data_cfg.get("format"))) if data_cfg.get("root") else ""
        if hint and hint not in str(e):
            e.args = (f"{e}{hint}",)
        raise


def read_split(data_cfg: Mapping[str, Any], split: str, spec: KeypointSpec | None = None, verbose: bool = True) -> ReadResult:
    """Read the instances of ``split``; prints what was skipped and why (nothing is dropped silently)."""
    from .readers.formats import FORMATS

    fmt = "csv" if split == "val" and data_cfg.get("csv") else str(data_cfg["format"])
    if fmt not in FORMATS:
        raise unknown_name_error("data.format", fmt, FORMATS)
    spec = spec or data_spec(data_cfg)
    path = annotation_path(data_cfg, split)
    images = images_dir(data_cfg, split)
    if split == "val" and data_cfg.get("detections"):
        # Top-down evaluation on detected boxes: the crops come from the detector, the ground truth (for AP)
        # stays the val annotation file.
        from .readers.detections import read_detections

        det = resolve_data_path(Path(str(data_cfg["root"])).expanduser(), data_cfg["detections"])
        res = read_detections(det, spec, images_dir=images, skip_invalid=bool(data_cfg["skip_invalid"]), gt=path,
                              score_thr=float(data_cfg["det_score_thr"]), category=data_cfg.get("det_category"))
        if verbose and res.skipped:
            print(res.summary())
        if not res.instances:
            raise AdaAnchorError(f"{det}: no detection above data.det_score_thr={data_cfg['det_score_thr']}")
        return res
    with hinting_format(data_cfg):
        res: ReadResult = FORMATS[fmt](path, spec, images_dir=images, skip_invalid=bool(data_cfg["skip_invalid"]))
    problem = displayed_frame_problem(res, _exif_mode(data_cfg))
    if problem:
        raise AdaAnchorError(problem)
    outside_root(res, data_cfg, split, path)
    drop_unreadable_images(res, bool(data_cfg["skip_invalid"]))
    check_data_pairs(data_cfg)
    sp = data_cfg.get("split") or {}
    if splits_one_file(data_cfg) and not (split == "val" and data_cfg.get("csv")):
        res.instances = split_one_file(res.instances, split, data_cfg)
    elif sp.get("by") and verbose and split == "train" and own_split(data_cfg, split) is None:
        # The config for your own data splits one file by default; a dataset with its own val file keeps it.
        own_val = own_split(data_cfg, "val")
        val = f"data.val is the dataset's own val split ({own_val})" if own_val is not None else \
            "data.train and data.val are different files, used as they are"
        print(f"note: data.split.by={sp['by']} is not applied: {val}", file=sys.stderr)
    # One file split in two: its skips were listed when the train side was read (they were printed twice).
    one_file_val = split == "val" and splits_one_file(data_cfg) and not data_cfg.get("csv")
    if verbose and res.skipped and not one_file_val:
        print(res.summary())
    if not res.instances:
        raise AdaAnchorError(f"{path}: no usable instance in the {split} split")
    return res


def drop_unreadable_images(res: ReadResult, skip_invalid: bool) -> None:
    """With ``skip_invalid``, records whose image file is missing, empty or not an image (its header does not read,
    :func:`~adaanchor.data.pixels.image_file_problem`) are skipped and counted like any bad record: an empty image
    stopped a training with ``skip_invalid=true`` mid-epoch. Without it, reading such an image is the error, naming
    the record."""
    if not skip_invalid:
        return
    from .pixels import image_file_problem

    bad = {p: why for p in {i.image_path for i in res.instances} if (why := image_file_problem(p)) is not None}
    for i in res.instances:
        if i.image_path in bad:
            res.skipped.append(DataError(res.source, bad[i.image_path], record=f"image_id {i.image_id} ({i.image_path})"))
    res.instances = [i for i in res.instances if i.image_path not in bad]


def build_dataset(data_cfg: Mapping[str, Any], split: str, train: bool | None = None,
                  transform: Any = None, verbose: bool = True) -> TopDownDataset:
    """The :class:`TopDownDataset` of ``split``; augmentation on when ``train`` (default: split == 'train')."""
    spec = data_spec(data_cfg)
    res = read_split(data_cfg, split, spec, verbose)
    if str(data_cfg["crop"]) == "image":
        check_one_per_image(res, split)
    train = (split == "train") if train is None else train
    if train:
        warn_unpaired_sides(spec, float((data_cfg.get("aug") or {}).get("flip", 0.0)), "data.aug.flip")
    occ = data_cfg.get("occlusion") or {}
    if transform is None and occ.get(split if split in ("train", "val") else "val"):
        transform = build_occluder(occ, [i.image_path for i in res.instances], seeded=not train,
                                   bit_depth=bit_depth_of(data_cfg))
    ds = TopDownDataset(
        res.instances,
        spec,
        data_cfg["input_size"],
        crop=str(data_cfg["crop"]),
        train=train,
        aug=dict(data_cfg.get("aug") or {}),
        transform=transform,
        cache_images=bool(data_cfg["cache_images"]),
        cache_mb=cache_mb_of(data_cfg),
        exif=_exif_mode(data_cfg),
        truncation=Truncation.from_config(data_cfg.get("truncation"), train),
        bit_depth=bit_depth_of(data_cfg),
    )
    ds.split = split  # which annotations an evaluation of it scores AP against (engine.ap_truth)
    return ds


def build_image_dataset(data_cfg: Mapping[str, Any], split: str, train: bool | None = None, multiple: int = 1,
                        verbose: bool = True) -> BottomUpDataset:
    """The whole-image :class:`BottomUpDataset` of ``split`` (every person of an image in one item) for the
    multi-person tasks: ``data.multi_aug`` augmentation when ``train`` (default: split == 'train'), else the
    short side resized to the input's and the input padded to a multiple of ``multiple``."""
    check_top_down_only(data_cfg)
    spec = data_spec(data_cfg)
    res = read_split(data_cfg, split, spec, verbose)  # checks the data options' pairs (check_data_pairs)
    aug = dict(data_cfg.get("multi_aug") or {})
    scale = list(aug.get("scale", BOTTOMUP_AUG["scale"]))
    aug["scale"] = (float(scale[0]), float(scale[1]))
    train = (split == "train") if train is None else train
    if train:
        warn_unpaired_sides(spec, float(aug.get("flip", 0.0)), "data.multi_aug.flip")
    ds = BottomUpDataset(group_by_image(res.instances), spec, data_cfg["input_size"], train=train, aug=aug,
                         multiple=int(multiple), cache_images=bool(data_cfg["cache_images"]),
                         cache_mb=cache_mb_of(data_cfg),
                         exif=_exif_mode(data_cfg), bit_depth=bit_depth_of(data_cfg))
    ds.split = split  # as build_dataset's
    return ds


def warn_unpaired_sides(spec: KeypointSpec, flip: float, key: str) -> None:
    """Warns when training mirrors images (``flip`` > 0) with a spec that has no flip pairs although its names pair
    up left and right (:func:`.readers.sleap_labels.flip_pairs_from_names`): a spec written by hand without
    ``flip_pairs`` trained mirrored images with the left and right labels kept, and said nothing."""
    if flip <= 0 or spec.flip_pairs:
        return
    pairs = flip_pairs_from_names(spec.keypoints)
    if pairs:
        names = ", ".join(f"{spec.keypoints[a]}/{spec.keypoints[b]}" for a, b in pairs[:3]) + (", ..." if len(pairs) > 3 else "")
        warnings.warn(f"keypoint spec '{spec.name}' has no flip_pairs, but {len(pairs)} pair(s) of its names are left and "
                      f"right ({names}): {key}={flip:g} mirrors images and keeps their labels (a left wrist shown on "
                      "the right); add flip_pairs to the spec (docs/datasets.md) or set the flip to 0", stacklevel=2)


def check_top_down_only(data_cfg: Mapping[str, Any]) -> None:
    """Refuses ``data.occlusion`` and ``data.truncation`` for the whole-image data of the multi-person tasks,
    which would otherwise train and evaluate without them and say nothing."""
    on = [f"data.occlusion.{k}" for k in ("train", "val") if (data_cfg.get("occlusion") or {}).get(k)]
    on += [f"data.truncation.{k}" for k in ("train", "val") if float((data_cfg.get("truncation") or {}).get(k) or 0) > 0]
    if on:
        raise AdaAnchorError(f"{', '.join(on)} act on top-down crops (task=topdown); the multi-person tasks read whole "
                             "images: set them to false / 0 (data.multi_aug.translation moves people to the border)")


def cache_mb_of(data_cfg: Mapping[str, Any]) -> float:
    """``data.cache_mb`` (its default when a config written before the key lacks it)."""
    return float(data_cfg.get("cache_mb", DEFAULT_CACHE_MB))


def bit_depth_of(data_cfg: Mapping[str, Any]) -> int | None:
    """``data.bit_depth`` as an integer (a YAML ``12.0`` too), or None: guessed per image."""
    depth = data_cfg.get("bit_depth")
    return None if depth is None else int(depth)


def _exif_mode(data_cfg: Mapping[str, Any]) -> str:
    mode = str(data_cfg.get("exif", "ignore"))
    if mode not in EXIF_MODES:
        raise unknown_name_error("data.exif", mode, EXIF_MODES)
    return mode


def build_occluder(occ: Mapping[str, Any], image_paths: list[str], seeded: bool, bit_depth: int | None = None) -> Any:
    """The :class:`~adaanchor.bench.occlude.Occluder` of the ``data.occlusion`` section. ``patch`` occluders are
    cut from other images of the same split, read with ``bit_depth`` (``data.bit_depth``). ``seeded``: evaluation (sample ``i`` always gets the same
    occluders); otherwise random, driven by the per-sample seeding of the training sampler."""
    from ..bench.occlude import Occluder

    return Occluder(coverage=float(occ["coverage"]), count=tuple(occ["count"]), kinds=tuple(occ["kinds"]),
                    seed=int(occ["seed"]) if seeded else None,
                    patch_source=PatchSource(image_paths, bit_depth))


class PatchSource:
    """The images ``patch`` occluders are cut from: ``source(rng) -> (H, W, 3) uint8``, one of ``image_paths`` drawn
    with ``rng``. Patches are cut at every training step, so recently decoded images are kept (256, per process).
    A class, not a closure: data-loader workers started by ``spawn`` (macOS, Windows) pickle the dataset, and a
    local function stopped them ("Can't pickle local object"); the cache is left behind and rebuilt there."""

    def __init__(self, image_paths: list[str], bit_depth: int | None = None):
        self.image_paths, self.bit_depth = list(image_paths), bit_depth
        self._cached: Any = None

    def __call__(self, rng: np.random.Generator) -> np.ndarray:
        if self._cached is None:
            from .image_read import load_image

            self._cached = functools.lru_cache(maxsize=256)(load_image)
        return self._cached(self.image_paths[int(rng.integers(len(self.image_paths)))], bit_depth=self.bit_depth)

    def __getstate__(self) -> dict[str, Any]:
        return {"image_paths": self.image_paths, "bit_depth": self.bit_depth, "_cached": None}
