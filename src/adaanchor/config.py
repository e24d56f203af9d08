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

from .errors import AdaAnchorError, unknown_name_error
from .strategies.assigners import ASSIGNER_DEFAULTS

STRATEGY_DEFAULTS: dict[str, Any] = {
    "name": "adaanchor",  # heatmap | regression | fixanchor | adaanchor | alignanchor (a preset of assigners)
    # --- anchor strategies (adaanchor, fixanchor) ---
    "topk": 20,  # positives per target (paper eq. 11)
    "sigma": 4.0,  # regression-score sigma, in INPUT PIXELS (paper eq. 8); see docs/method.md
    "fusion": "mul",  # mul: s = c * r (eq. 9) | add: s = c + r
    "refine": True,  # local refinement branch (eq. 12) at inference and in the score
    "refine_in_score": True,  # use the refined point P_r inside the score (paper) or the coarse one
    "local_radius": 2.0,  # local offsets are supervised at cells within this many cells of the target
    "candidate_radius": None,  # null: every cell is a candidate (paper); R: only cells within R cells
    "warmup_steps": 0,  # FixAnchor assignment for the first N training steps
    "lambda_offset": 1.0,  # lambda of eq. 4 for the anchor offset L1
    "lambda_local": 1.0,  # weight of the local-offset L1
    "focal_gamma": 2.0,  # CornerNet/CenterNet focal loss exponent
    "conf_prior": 0.1,  # initial sigmoid confidence (bias init of the confidence head)
    "ignore_unlabelled": True,  # channels of a keypoint type with no labelled target get no loss
    # --- heatmap ---
    "heatmap_sigma": 2.0,  # MSRA Gaussian sigma, in heatmap cells
    # --- assigners --- (adaptive-assignment options: meaning and defaults in strategies/assigners.py)
    **ASSIGNER_DEFAULTS,
}

MODEL_DEFAULTS: dict[str, Any] = {
    "backbone": "tiny",  # tiny | resnet18/34/50/101/152 | hrnet_w18 | hrnet_w32
    "weights": None,  # local checkpoint (full model or backbone) to start from; no downloads
    "deconv_channels": 256,  # SimpleBaseline deconvolution width (resnet backbones)
    "deconv_layers": 3,
    "tiny_width": 32,  # channel width of the tiny CNN
}

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

EVAL_DEFAULTS: dict[str, Any] = {
    "batch_size": 64,
    "pck": [0.05, 0.1],
    "max_images": None,  # evaluate on the first N images only
}

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "out_dir": "runs/default",
    "resume": None,  # PATH of a checkpoint, or "auto" (newest in out_dir)
    "strategy": STRATEGY_DEFAULTS,
    "model": MODEL_DEFAULTS,
    "train": TRAIN_DEFAULTS,
    "eval": EVAL_DEFAULTS,
    "data": {},  # filled from adaanchor.data.build.DATA_DEFAULTS
}

STRATEGIES = ("heatmap", "regression", "fixanchor", "adaanchor", "alignanchor")


def defaults() -> dict[str, Any]:
    """A deep copy of every default, including the ``data`` section."""
    from .data.build import DATA_DEFAULTS

    d = copy.deepcopy(DEFAULTS)
    d["data"] = copy.deepcopy(DATA_DEFAULTS)
    return d


def _check_keys(given: Mapping, valid: Mapping, prefix: str = "") -> None:
    for key, value in given.items():
        name = f"{prefix}{key}"
        if key not in valid:
            raise unknown_name_error("config key", name, [f"{prefix}{k}" for k in valid])
        if isinstance(valid[key], dict) and value is not None and not isinstance(value, Mapping):
            raise AdaAnchorError(f"config key '{name}' is a section: it must be a mapping, got {value!r}")
        if isinstance(valid[key], dict) and valid[key] and isinstance(value, Mapping):
            _check_keys(value, valid[key], prefix=name + ".")


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file with ``yaml.safe_load``; a clear error for a missing or malformed file."""
    p = Path(path)
    if not p.is_file():
        raise AdaAnchorError(f"{p}: config file not found")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise AdaAnchorError(f"{p}: not valid YAML: {e}".replace("\n", " ")) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise AdaAnchorError(f"{p}: a config must be a mapping of keys, got {type(data).__name__}")
    return data


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["train.lr=0.01", "strategy.name=heatmap"]`` to a nested dict (values parsed as YAML scalars)."""
    for it in items:
        if "=" not in it:
            raise AdaAnchorError(f"override '{it}' must look like key=value (e.g. train.lr=0.001)")
    try:
        return OmegaConf.to_container(OmegaConf.from_dotlist(list(items)))  # type: ignore[return-value]
    except Exception as e:  # omegaconf's grammar errors
        msg = str(e).replace("\n", " ")
        raise AdaAnchorError(f"cannot parse overrides {list(items)}: {msg}") from None


def _check_types(cfg: Mapping, ref: Mapping, prefix: str = "") -> None:
    for key, default in ref.items():
        value = cfg.get(key)
        name = f"{prefix}{key}"
        if isinstance(default, dict):
            if value is not None and not isinstance(value, Mapping):
                raise AdaAnchorError(f"config key '{name}' is a section: it must be a mapping, got {value!r}")
            if default and isinstance(value, Mapping):
                _check_types(value, default, name + ".")
            continue
        if default is None:
            continue
        if value is None:  # only keys whose default is null may be null
            raise AdaAnchorError(f"config key '{name}' must be {type(default).__name__}, got null")
        ok = {
            bool: lambda v: isinstance(v, bool),
            int: lambda v: isinstance(v, int) and not isinstance(v, bool),
            float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            str: lambda v: isinstance(v, str),
            list: lambda v: isinstance(v, (list, tuple)),
        }.get(type(default), lambda v: True)(value)
        if not ok:
            raise AdaAnchorError(
                f"config key '{name}' must be {type(default).__name__}, got {value!r} ({type(value).__name__})"
            )


def build_config(base: str | Path | Mapping | None = None, overrides: Sequence[str] | Mapping = ()) -> DictConfig:
    """Merge defaults, a YAML file (or mapping) and overrides; validate keys, types and the strategy name."""
    ref = defaults()
    layers: list[dict[str, Any]] = [ref]
    if base is not None:
        layer = read_yaml(base) if isinstance(base, (str, Path)) else dict(base)
        _check_keys(layer, ref)
        layers.append(layer)
    ov = parse_overrides(overrides) if not isinstance(overrides, Mapping) else dict(overrides)
    _check_keys(ov, ref)
    layers.append(ov)
    cfg = OmegaConf.merge(*[OmegaConf.create(x) for x in layers])
    plain = OmegaConf.to_container(cfg, resolve=True)
    _check_types(plain, ref)
    name = cfg.strategy.name
    if name not in STRATEGIES:
        raise unknown_name_error("strategy", str(name), STRATEGIES)
    if cfg.strategy.fusion not in ("mul", "add"):
        raise unknown_name_error("strategy.fusion", str(cfg.strategy.fusion), ("mul", "add"))
    if cfg.data.crop not in ("image", "box"):
        raise unknown_name_error("data.crop", str(cfg.data.crop), ("image", "box"))
    size = list(cfg.data.input_size)
    if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size):
        raise AdaAnchorError(f"data.input_size must be two positive integers [W, H], got {size}")
    for key in ("train.batch_size", "model.tiny_width", "strategy.topk", "eval.batch_size"):
        v = OmegaConf.select(cfg, key)
        if v <= 0:
            raise AdaAnchorError(f"config key '{key}' must be positive, got {v}")
    if float(cfg.strategy.sigma) <= 0:
        raise AdaAnchorError(f"config key 'strategy.sigma' must be positive, got {cfg.strategy.sigma}")
    return cfg


def save_config(cfg: DictConfig, path: str | Path) -> None:
    """Write the resolved config as YAML (the run directory's ``config.yaml``)."""
    Path(path).write_text(yaml.safe_dump(OmegaConf.to_container(cfg, resolve=True), sort_keys=False))
