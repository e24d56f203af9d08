"""What a resume may change: the options compared between a checkpoint's config and the resuming run's, which of them
are refused (they fix the model), which are applied, and how each change is said."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..data.spec import KeypointSpec

# Options that fix the model: a checkpoint cannot continue under other values. Prefixes end with a dot.
# centre.branch_width is the channel count of the pose branches (task: centre): another value is another model.
FROZEN = ("task", "model.", "strategy.", "data.input_size", "centre.branch_width")
# Options under those prefixes that do not fix the model: the backbone's memory layout changes speed, not weights.
THAWED = ("model.channels_last",)
# Options that only matter when a run starts (the resumed weights replace them) or that always differ.
IGNORED = ("resume", "overwrite", "model.weights")
# Changing these is applied, but the data order of the resumed run is not the one of an uninterrupted run.
ORDER_KEYS = ("seed", "train.batch_size")
# Changing these changes what an evaluation scores (other images, boxes or keypoints, another metric): a best.pt
# chosen before cannot be compared with the scores after. Prefixes end with a dot.
SCORED_ON = ("data.val", "data.root", "data.images", "data.detections", "data.det_score_thr", "data.det_category",
             "data.split.", "data.csv",
             "data.format", "data.spec", "data.crop", "data.exif", "data.bit_depth", "data.occlusion.", "data.truncation.", "eval.pck",
             "eval.max_images", "eval.flip_test", "eval.flip_offsets", "eval.flip_conf",
             # how the multi-person evaluation decodes (a flip test or another threshold scores the same model otherwise)
             "bottomup.gamma", "bottomup.max_candidates", "bottomup.merge_radius", "bottomup.tag_threshold",
             "bottomup.conf_weight", "bottomup.refine", "bottomup.order", "centre.gamma", "centre.max_candidates",
             "centre.merge_radius", "centre.read_at", "centre.nms_threshold", "centre.nms_joints", "centre.nms_scale")
#: Options added after some runs were written, with the value those runs behaved as: a resume that sets one is
#: compared against it (a key absent from the old config is otherwise left out, and a flip test merged another way
#: would have kept best.pt's score as the bar without a note).
LATER_DEFAULTS = {"eval.flip_offsets": "mean", "eval.flip_conf": "mean"}
# ... except these, which act on the training images alone.
TRAINING_ONLY = ("data.occlusion.train", "data.truncation.train")


def _under(key: str, names: tuple[str, ...]) -> bool:
    """``key`` is one of ``names`` or lies under one (a name ending in a dot is a section prefix; any other name
    also covers its sub-keys: ``data.images`` covers ``data.images.val``)."""
    return any(key == n or key.startswith(n if n.endswith(".") else n + ".") for n in names)


def scored_otherwise(changes: Mapping[str, Any]) -> list[str]:
    """The changed options (of ``changes``) that change what the evaluation scores (:data:`SCORED_ON`)."""
    return [k for k in changes if _under(k, SCORED_ON) and not _under(k, TRAINING_ONLY)]


def spec_signature(spec: KeypointSpec) -> tuple:
    """What makes two specs the same keypoint set (its file name and location do not)."""
    sig = None if spec.sigmas is None else tuple(np.round(np.asarray(spec.sigmas, dtype=np.float64), 8))
    return (spec.keypoints, spec.flip_pairs, spec.skeleton, sig, spec.upper_body, repr(sorted(spec.nme.items())),
            spec.v1_is_visible)


def _flat(d: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(d, Mapping) and d:
        for k, v in d.items():
            yield from _flat(v, f"{prefix}{k}.")
    else:
        yield prefix[:-1], _as_lists(d)


def _as_lists(v: Any) -> Any:
    """Sequences as lists, also nested: a config read back from YAML holds lists where the one built in this
    process holds the tuples of the defaults (OmegaConf from 2.4 keeps tuples), and ``[0, 3] != (0, 3)``."""
    return [_as_lists(x) for x in v] if isinstance(v, (list, tuple)) else v


def frozen(key: str) -> bool:
    return key not in THAWED and _under(key, FROZEN)


def config_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{key: (old, new)}`` for every option that differs (dotted keys; keys absent from ``old``, e.g. options
    added after it was written, are left out, but for :data:`LATER_DEFAULTS`, compared with the value the old run
    behaved as)."""
    a, b = {**LATER_DEFAULTS, **dict(_flat(old))}, dict(_flat(new))
    return {k: (a[k], v) for k, v in b.items() if k in a and a[k] != v and k not in IGNORED}


def describe_changes(changes: Mapping[str, tuple[Any, Any]], at_step: int | None = None,
                     at_epoch: int | None = None) -> list[str]:
    """One line per applied change, for the resumed run's output; ``at_step``: the checkpoint's step (a step
    budget at or below it trains nothing, which "(applied)" alone did not say); ``at_epoch``: its finished epochs,
    for an epoch budget (given when ``train.max_steps`` does not set the length)."""
    lines = []
    for k, (a, b) in changes.items():
        note = ": the data order will not continue exactly" if k in ORDER_KEYS else ""
        at = {"train.max_steps": ("step", at_step), "train.epochs": ("epoch", at_epoch)}.get(k, ("", None))
        if at[1] is not None and isinstance(b, int) and b <= at[1]:
            lines.append(f"resume: {k} changed {a!r} -> {b!r}: the checkpoint is at {at[0]} {at[1]} already, so "
                         f"nothing is trained (config.yaml keeps {a!r})")
            continue
        lines.append(f"resume: {k} changed {a!r} -> {b!r} (applied{note})")
    return lines


def keep_started_weights(old: Mapping[str, Any], cfg: Any, say: bool) -> None:
    """A resume continues from its checkpoint, so ``model.weights`` (the weights a run starts from) is not used: the
    run keeps the value it was started with (a missing file given there stopped the resume, and another run's
    checkpoint was recorded in config.yaml as the weights this run started from), said when another was given."""
    before = (old.get("model") or {}).get("weights") if isinstance(old.get("model"), dict) else None
    given = cfg.model.get("weights")
    if given is not None and str(given) != str(before) and say:
        print(f"note: model.weights={given} is not used by a resume (the run continues from its checkpoint); the run "
              f"keeps model.weights={before}", file=sys.stderr)
    cfg.model.weights = before


__all__ = ["keep_started_weights", "FROZEN", "IGNORED", "ORDER_KEYS", "SCORED_ON", "THAWED", "config_changes", "describe_changes", "frozen",
           "scored_otherwise", "spec_signature"]
