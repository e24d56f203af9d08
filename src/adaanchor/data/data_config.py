"""The ``data`` config section: its defaults (:data:`DATA_DEFAULTS`, written once), the valid ranges of its options
(:data:`DATA_RANGES`) and the checks of options that depend on one another (:func:`check_data_pairs`)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..bench.crowd import CROWD_DEFAULTS
from ..bench.occlude import OCCLUDER_KINDS
from ..bench.synth import SYNTH_DEFAULTS
from ..errors import AdaAnchorError
from ..ranges import PROB, SEED, Checker, Range, Text, at_least, between, choice, choices, positive
from .bottomup import BOTTOMUP_AUG
from .categories import CategoryOption
from .dataset import AUG_DEFAULTS
from .image_cache import DEFAULT_CACHE_MB
from .image_read import EXIF_MODES
from .truncation import TRUNCATION_DEFAULTS

DATA_DEFAULTS: dict[str, Any] = {
    "format": "synth",  # synth (the built-in benchmark) | a reader of adaanchor.data.readers.formats
    "root": "data-cache/synth",  # dataset root; for synth, the cache folder of the generated benchmark
    "train": "train.json",  # annotation file of the training split, relative to root
    "val": "val.json",  # annotation file of the evaluation split, relative to root
    # image folder relative to root (to its folder when root is a file), or {train: DIR, val: DIR} (default: the
    # annotation file's folder)
    "images": None,
    "spec": "coco",  # built-in keypoint spec name or a YAML path (docs/datasets.md)
    "input_size": [72, 96],  # model input (W, H)
    "crop": "image",  # image: the whole image is the input | box: crop the instance box (top-down)
    "skip_invalid": False,  # skip bad records (reported) instead of stopping at the first one
    # Image paths must stay inside data.root (or data.images): a file_name such as ../../home/x.jpg or an
    # absolute path in an annotation file is refused (or skipped with skip_invalid). true allows them.
    "allow_outside_root": False,
    # EXIF orientation tags: "ignore" reads the stored pixels, the frame COCO-style annotations are made in by
    # most tools (warned once per dataset when images carry a rotation); "apply" rotates the image as a
    # viewer shows it (for annotations made on the displayed image).
    "exif": "ignore",
    # The bit depth of integer images wider than 8 bits (16-bit PNG/TIFF from scientific cameras): null guesses it
    # per image (the smallest of 8, 10, 12, 14, 16 bits that holds the largest value: a dark 12-bit frame then
    # reads as 8-bit, brighter than its neighbours); a number scales every image alike (docs/datasets.md).
    "bit_depth": None,
    "cache_images": True,  # keep decoded images in memory, up to cache_mb
    # The most decoded-image memory (MiB) the training keeps in all, split evenly among the processes that read
    # images (data workers and the training process; adaanchor.data.image_cache): a fixed 1 GiB, not a share of
    # the machine's memory, which a Slurm job or a container may not have; images beyond it are decoded each time.
    "cache_mb": DEFAULT_CACHE_MB,
    "detections": None,  # person detections (COCO results JSON, relative to root): evaluate on these boxes
    "det_score_thr": 0.0,  # detections below this score are left out
    # The detections' categories kept: null (auto) those of data.val with keypoints, all, an id or a list of ids
    # (adaanchor.data.categories)
    "det_category": None,
    "csv": None,  # a landmark CSV to evaluate on instead of the val split (format csv, every row)
    "split": {  # carve train/val out of one annotation file (when data.train == data.val)
        "by": None,  # null: no split | identity: by identity (file name before the last _NN) | random
        "val_fraction": 0.2,
        "seed": 0,
        # > 0: the dev split: this share of the *training* groups becomes val, the evaluation groups are never read
        "dev_fraction": 0.0,
    },
    "occlusion": {  # the occlusion compositor (adaanchor.bench.occlude.Occluder), off by default
        "train": False,  # random occluders as training augmentation
        "val": False,  # seeded occluders on the evaluation split (same for every model: a benchmark)
        "coverage": 0.25,  # share of the object box covered
        "count": [1, 3],
        "kinds": ["polygon", "ellipse", "blob", "patch"],
        "seed": 0,  # evaluation occlusion of sample i depends only on (seed, i)
    },
    # Crop shifts that cut part of the instance off the input (adaanchor.data.truncation), off by default.
    "truncation": copy.deepcopy(TRUNCATION_DEFAULTS),
    "aug": copy.deepcopy(AUG_DEFAULTS),
    # Augmentation of the whole-image data of the multi-person tasks (task=bottomup): BottomUpDataset's options.
    "multi_aug": {k: list(v) if isinstance(v, tuple) else v for k, v in BOTTOMUP_AUG.items()},
    "synth": copy.deepcopy(SYNTH_DEFAULTS),
    # Options of the crowd-figures benchmark (data.format=crowd: several people per image, for the multi-person
    # tasks); width and height come from input_size, as for synth.
    "crowd": copy.deepcopy(CROWD_DEFAULTS),
}

#: Valid ranges of the numeric ``data`` options (dotted keys below ``data``); ``synth`` options are checked by
#: :func:`adaanchor.bench.synth.resolve_config`; ``input_size`` (two positive integers, multiples of the backbone's
#: input multiple) by :func:`adaanchor.config.build_config`.
DATA_RANGES: dict[str, Checker] = {
    "crop": choice(("image", "box")),
    "exif": choice(EXIF_MODES),
    "bit_depth": Range(8, 32, integer=True),
    "det_score_thr": Range(),
    "det_category": CategoryOption(),
    "detections": Text("a file path (relative to data.root)"),
    "csv": Text(),
    "split.by": choice(("identity", "random")),
    "cache_mb": at_least(0),  # 0 keeps nothing, as cache_images: false
    "split.val_fraction": between(0, 1, lo_open=True, hi_open=True),
    "split.seed": SEED,
    "split.dev_fraction": between(0, 1, hi_open=True),
    "occlusion.coverage": between(0, 1, lo_open=True, hi_open=True),  # the Occluder covers less than the whole box
    "occlusion.count": at_least(1),  # occluders per instance, [min, max] (the Occluder plans at least one)
    "occlusion.kinds": choices(OCCLUDER_KINDS),  # refused here, not when the data is built and the occluder made
    "occlusion.seed": SEED,
    "truncation.train": PROB,
    "truncation.val": PROB,
    "truncation.shift": between(0, 1, lo_open=True),
    "truncation.seed": SEED,
    "aug.flip": PROB,
    "aug.rotation": between(0, 180),
    "aug.scale": between(0, 1, hi_open=True),  # the crop is scaled by [1 - s, 1 + s]: s < 1 keeps it positive
    "aug.half_body": PROB,
    "multi_aug.rotation": between(0, 180),
    "multi_aug.scale": positive(),  # [lo, hi] of the zoom factor
    "multi_aug.translation": at_least(0),
    "multi_aug.flip": PROB,
    "multi_aug.outside_margin": at_least(0),
}


def check_data_pairs(data_cfg: Mapping[str, Any]) -> None:
    """The ``data`` options whose valid values depend on another option (:data:`DATA_RANGES` checks each alone):
    checked by ``build_config`` and again where the data is built (a resolved config read without it)."""
    sp = data_cfg.get("split") or {}
    if float(sp.get("dev_fraction") or 0.0) > 0 and not sp.get("by"):
        # Without a split of one file there are no training groups to hold out: a dev run would silently
        # evaluate on the evaluation split.
        raise AdaAnchorError("data.split.dev_fraction needs data.split.by (identity or random): the dev split holds out "
                             "part of the training groups of a split file")
    count = (data_cfg.get("occlusion") or {}).get("count")
    if isinstance(count, (list, tuple)) and (len(count) != 2 or count[0] > count[1]):
        raise AdaAnchorError(f"data.occlusion.count must be [min, max] with min <= max, got {list(count)}")
    scale = list((data_cfg.get("multi_aug") or {}).get("scale", BOTTOMUP_AUG["scale"]))
    if len(scale) != 2 or scale[0] > scale[1]:
        raise AdaAnchorError(f"data.multi_aug.scale must be [lo, hi] with lo <= hi, got {scale}")


__all__ = ["DATA_DEFAULTS", "DATA_RANGES", "check_data_pairs"]
