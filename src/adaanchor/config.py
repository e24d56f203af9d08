"""Configuration: defaults, YAML loading (safe), ``key=value`` overrides, validation.

A config is an OmegaConf DictConfig whose keys must all exist in :data:`DEFAULTS` (plus the ``data``
section's keys from :mod:`adaanchor.data.build`). An unknown key is an error naming it, listing the valid
keys and the closest match. YAML is read with ``yaml.safe_load``: no Python objects can be constructed
from a config file.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .atomic import write_text_atomic
from .config_checks import bool_words, check_base, check_keys, check_task_options, check_types, naming_file, select
from .config_files import MAX_CONFIG_BYTES, RUN_SECTIONS, missing_run_sections, read_yaml  # noqa: F401 - re-exported
from .config_notes import note_ignored_epochs, note_preset_overrides, note_unused_flip_rules, say_once  # noqa: F401 - say_once re-exported
from .config_overrides import nested_keys, parse_overrides  # noqa: F401 - parse_overrides re-exported
from .configs import config_file
from .errors import AdaAnchorError
from .models.backbones import input_multiple, model_defaults, model_ranges
from .ranges import SEED, Checker, ListOf, Range, Text, at_least, between, choice, each, flag, positive
from .strategies import strategy_defaults, strategy_ranges
from .strategies.assigners import PRESETS
from .strategies.flip_test import FLIP_CONF_RULES, FLIP_OFFSET_RULES, check_flip_rules
from .strategies.tasks import DEFAULT_TASK, task_ranges, task_sections

TRAIN_DEFAULTS: dict[str, Any] = {
    "epochs": 10,
    "max_steps": None,  # if set, stop after this many optimizer steps (overrides epochs)
    "batch_size": 32,  # global batch size (split across ranks)
    "lr": 1.0e-3,
    "lr_steps": [],  # epochs (or, with max_steps, steps) where lr is multiplied by lr_factor
    "lr_factor": 0.1,
    "weight_decay": 0.0,
    "grad_clip": None,  # max global grad norm, null = off
    "amp": "auto",  # auto (bf16 on GPU, off on CPU) | bf16 | fp16 | off
    "workers": 0,  # DataLoader workers
    "log_every": 10,  # steps between CSV log rows
    "ckpt_every_steps": 0,  # extra crash-safety checkpoints every N steps (0 = only at epoch ends)
    "eval_every": 1,  # epochs between evaluations (best checkpoint by the eval metric)
    "max_bad_steps": 5,  # consecutive non-finite losses before training stops
    "deterministic": False,  # torch.use_deterministic_algorithms (for exact resume checks)
    "sync_bn": True,  # under DDP (>1 process), BatchNorm statistics over the global batch
    "time_limit_s": None,  # stop (with a checkpoint) after this wall time
    "progress": True,
    "device": "auto",  # auto | cpu | cuda
}
#: A batch beyond this is a typo (an extra zero or two), not a plan: no device holds it.
MAX_BATCH = 65536
TRAIN_RANGES: dict[str, Checker] = {
    "epochs": at_least(1),
    "max_steps": at_least(1, integer=True),
    "batch_size": between(1, MAX_BATCH),
    "lr": positive(),
    "lr_steps": each(at_least(0, integer=True), increasing=True),  # its default, [], gives no element type
    "lr_factor": between(0, 1, lo_open=True),
    "weight_decay": at_least(0),
    "grad_clip": positive(),
    "amp": choice(("auto", "bf16", "fp16", "off")),
    "workers": between(0, 1024),
    "log_every": at_least(1),
    "ckpt_every_steps": at_least(0),
    "eval_every": at_least(0),  # 0: no evaluation during training
    "max_bad_steps": at_least(1),
    "time_limit_s": positive(),
    "device": choice(("auto", "cpu", "cuda")),  # was refused only when the training started
}

EVAL_DEFAULTS: dict[str, Any] = {
    "batch_size": 64,
    "pck": [0.05, 0.1],
    "max_images": None,  # evaluate on the first N images only
    # Predict each input as it is and mirrored and merge the two (strategies/flip_test.py: top-down the keypoints,
    # multi-person the maps before decoding); off as in the paper's protocol (single scale, no flip) and every table
    # here. Twice the inference cost.
    "flip_test": False,
    # How the multi-person flip test merges the anchor strategies' anchor offsets (strategies/flip_test.py): mean,
    # weighted (by each pass's confidence at the cell) or max (the more confident pass's). mean: chosen on the dev
    # split, where weighted was +0.05 +- 0.06 AP and max -0.03 +- 0.07 (docs/multi-person.md).
    "flip_offsets": "mean",
    # ... and their confidences: mean, or plain (the plain pass's: its anchor cells kept, their offsets merged), with
    # which AdaAnchor's centre runs gained from the flip test on both splits (docs/multi-person.md); mean by default.
    "flip_conf": "mean",
}
EVAL_RANGES: dict[str, Checker] = {
    "batch_size": between(1, MAX_BATCH),
    "pck": each(between(0, 1, lo_open=True), min_len=1),  # [] scored -inf: no best checkpoint was kept
    "max_images": at_least(1, integer=True),
    "flip_test": flag(),
    "flip_offsets": choice(FLIP_OFFSET_RULES),
    "flip_conf": choice(FLIP_CONF_RULES),
}

TOP_DEFAULTS: dict[str, Any] = {
    "task": DEFAULT_TASK,  # topdown | bottomup | centre (adaanchor.strategies.tasks.TASKS)
    "seed": 0,
    "out_dir": "runs/default",
    "resume": None,  # PATH of a checkpoint, or "auto" (newest in out_dir)
    "overwrite": False,  # a new run (no resume) may replace the checkpoints already in out_dir
}
TOP_RANGES: dict[str, Checker] = {"seed": SEED, "resume": Text("a checkpoint path or auto")}

#: Every default. The ``strategy`` and ``model`` sections are derived from the registered classes
#: (:data:`adaanchor.strategies.STRATEGIES`, :data:`adaanchor.models.backbones.BACKBONES`), the task sections
#: (``bottomup``, ``centre``) from the tasks' defaults (:data:`adaanchor.strategies.tasks.TASKS`), the ``data`` section
#: from :data:`adaanchor.data.data_config.DATA_DEFAULTS` (see :func:`defaults`).
DEFAULTS: dict[str, Any] = {
    **TOP_DEFAULTS,
    "strategy": strategy_defaults(),
    **task_sections(),
    "model": model_defaults(),
    "train": TRAIN_DEFAULTS,
    "eval": EVAL_DEFAULTS,
    "data": {},  # filled from adaanchor.data.data_config.DATA_DEFAULTS
}

def defaults() -> dict[str, Any]:
    """A deep copy of every default, including the ``data`` section."""
    from .data.data_config import DATA_DEFAULTS

    d = copy.deepcopy(DEFAULTS)
    # Derived again on every call, so a strategy or backbone registered after import is a valid key too.
    d["strategy"], d["model"] = copy.deepcopy(strategy_defaults()), copy.deepcopy(model_defaults())
    d.update(copy.deepcopy(task_sections()))
    d["data"] = copy.deepcopy(DATA_DEFAULTS)
    return d


def _flat(section: str, table: Mapping[str, Checker]) -> dict[str, Checker]:
    return {f"{section}.{k}" if section else k: v for k, v in table.items()}


def all_ranges() -> dict[str, Checker]:
    """Dotted key -> range or choice, for every option that has one, from the tables next to the defaults."""
    from .data.data_config import DATA_RANGES
    from .data.readers.formats import FORMATS

    data = {"format": choice(tuple(FORMATS), kind="data.format"), **DATA_RANGES}
    return {**_flat("", TOP_RANGES), **task_ranges(), **_flat("strategy", strategy_ranges()),
            **_flat("model", model_ranges()), **_flat("train", TRAIN_RANGES), **_flat("eval", EVAL_RANGES),
            **_flat("data", data)}


def _check_ranges(plain: Mapping[str, Any], ref: Mapping[str, Any]) -> None:
    """Every option with a range (:func:`all_ranges`), the input size against the backbone, and out_dir."""
    for key, checker in all_ranges().items():
        value, default = select(plain, key), select(ref, key)
        if value is None and default is None:  # null is allowed exactly where it is the default
            continue
        checker.check(key, value, nullable=default is None)
    size = list(select(plain, "data.input_size"))
    if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size):
        raise AdaAnchorError(f"data.input_size must be two positive integers [W, H], got {size}")
    backbone = str(select(plain, "model.backbone"))
    mult = input_multiple(backbone)
    if any(v % mult for v in size):
        raise AdaAnchorError(f"data.input_size={size}: backbone {backbone} needs a width and height divisible by "
                             f"{mult} (positive multiples of {mult})")
    if not str(plain["out_dir"]).strip():
        raise AdaAnchorError("config key 'out_dir' must be a non-empty path")
    from .data.data_config import check_data_pairs
    from .data.paths import check_images

    check_images(plain["data"].get("images"))
    check_data_pairs(plain["data"])


def _whole_numbers(cfg: DictConfig, plain: Mapping[str, Any]) -> None:
    """A whole number written as a float (``train.max_steps=1e4``, accepted by its range) stored as an integer:
    config.yaml and config_history.yaml showed ``10000.0``."""
    for key, checker in all_ranges().items():
        value = select(plain, key)
        if isinstance(checker, Range) and checker.integer and isinstance(value, float):
            OmegaConf.update(cfg, key, int(value), merge=False)
        elif isinstance(checker, ListOf) and checker.item.integer and isinstance(value, list) and \
                any(isinstance(v, float) for v in value):
            OmegaConf.update(cfg, key, [int(v) if isinstance(v, float) else v for v in value], merge=False)


def build_config(base: str | Path | Mapping | None = None, overrides: Sequence[str] | Mapping = ()) -> DictConfig:
    """Merge defaults, a YAML file (or mapping) and overrides; validate keys, types and ranges.

    ``base``: a YAML file, a packaged config's name (``"demo"``) or a mapping; ``overrides``: ``key=value``
    strings (``["train.lr=0.01"]``) or a mapping, nested (``{"train": {"lr": 0.01}}``) or with dotted keys
    (``{"train.lr": 0.01}``)."""
    check_base(base)
    ref = defaults()
    layers: list[dict[str, Any]] = [ref]
    layer: dict[str, Any] = {}
    if base is not None:
        layer = read_yaml(base) if isinstance(base, (str, Path)) else nested_keys(base)
        try:
            _check_names(layer)
            check_keys(layer, ref)
            bool_words(layer, ref)
        except AdaAnchorError as e:  # name the file: a JSON file given as a run said "unknown config key 'info'"
            if not isinstance(base, (str, Path)):
                raise
            raise AdaAnchorError(f"{config_file(base)}: {e}") from None
        layers.append(layer)
    ov = parse_overrides(overrides) if not isinstance(overrides, Mapping) else nested_keys(overrides)
    words, ov = getattr(ov, "words", None), dict(ov)  # the text typed for bools (OmegaConf takes plain dicts)
    _check_names(ov)
    check_keys(ov, ref)
    bool_words(ov, ref, words)
    layers.append(ov)
    cfg = _merge(layers)
    preset = PRESETS.get(str(cfg.strategy.name))
    if preset:
        # A named assigner's options sit between the defaults and the user's layers: the resolved config shows
        # them, and a key the file or the overrides set wins, also when it is set to the default.
        layers.insert(1, {"strategy": dict(preset)})
        cfg = _merge(layers)
        note_preset_overrides(str(cfg.strategy.name), preset, layers[2:])
    plain = OmegaConf.to_container(cfg, resolve=True)
    with naming_file(base, layer, ov):
        check_types(plain, ref)
        _check_ranges(plain, ref)
    _whole_numbers(cfg, plain)
    check_task_options(plain)
    flip_rules = {k: str(plain["eval"][k]) for k in ("flip_offsets", "flip_conf")}
    check_flip_rules(str(plain.get("task")), str(plain["strategy"]["name"]), flip_rules)
    note_unused_flip_rules(flip_rules, bool(plain["eval"]["flip_test"]))
    note_ignored_epochs(ov, cfg)  # after the checks: a value out of range is refused without a note first
    from .bench.crowd import resolve_crowd_config
    from .bench.synth import resolve_config

    resolve_config(plain["data"]["synth"])
    resolve_crowd_config(plain["data"]["crowd"])
    return cfg  # type: ignore[return-value]


#: The options that name a registry entry, checked before the keys: a config naming an entry this process has not
#: registered (a strategy a script added, in a run opened by the CLI) is refused by that name, not by its options.
NAME_KEYS = ("task", "strategy.name", "model.backbone", "data.format")


def _check_names(layer: Mapping[str, Any]) -> None:
    ranges = all_ranges()
    for dotted in NAME_KEYS:
        name = select(layer, dotted)
        if isinstance(name, str):
            ranges[dotted].check(dotted, name)


def _merge(layers: list[dict[str, Any]]) -> DictConfig:
    """The layers merged in order; a value OmegaConf refuses for its key (a string where the default is a list
    of numbers, ...) is a one-line error naming the key, not OmegaConf's traceback."""
    try:
        return OmegaConf.merge(*[OmegaConf.create(x) for x in layers])  # type: ignore[return-value]
    except (OmegaConfBaseException, TypeError, ValueError) as e:
        key = getattr(e, "full_key", None) or "?"
        why = str(getattr(e, "msg", None) or e).splitlines()[0]
        raise AdaAnchorError(f"config key '{key}': {why}") from None


def save_config(cfg: DictConfig, path: str | Path) -> None:
    """Write the resolved config as YAML (the run directory's ``config.yaml``)."""
    write_text_atomic(path, yaml.safe_dump(OmegaConf.to_container(cfg, resolve=True), sort_keys=False))
