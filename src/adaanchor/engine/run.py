"""Build a model and its strategy from a config, and find a run's config and checkpoint again."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from ..config import build_config
from ..data.spec_source import load_spec
from ..errors import AdaAnchorError
from ..models.backbones import backbone_from_config
from ..models.net import KeypointNet, load_weights
from ..strategies import Strategy, build_strategy


def build_system(cfg: DictConfig, load_pretrained: bool = True) -> tuple[KeypointNet, Strategy]:
    """The model and the strategy of ``cfg``: the strategy's heads decide the model's output heads, and the
    backbone's stride decides the strategy's anchor grid."""
    spec = load_spec(cfg.data.spec)
    m = cfg.model
    backbone = backbone_from_config(m)  # build_config checked the input size against its input multiple
    strategy = build_strategy(OmegaConf.to_container(cfg.strategy), spec.num_keypoints, int(backbone.stride), tuple(cfg.data.input_size),
                              sigmas=spec.sigmas)
    model = KeypointNet(backbone, strategy.heads, conf_prior=float(cfg.strategy.conf_prior))
    if load_pretrained and m.weights:
        load_weights(model, m.weights)
    return model, strategy


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (all devices)."""
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_run(target: str | Path, ckpt: str | Path | None = None, overrides: Sequence[str] = ()) -> tuple[DictConfig, Path | None]:
    """``target`` is a run directory (with ``config.yaml``) or a config file. Returns the config (with
    ``overrides`` applied) and the checkpoint to use: ``ckpt`` if given, else the run's ``best.pt`` or
    ``last.pt``, else None."""
    p = Path(target)
    if p.is_dir():
        cfg_path = p / "config.yaml"
        if not cfg_path.is_file():
            raise AdaAnchorError(f"{p}: not a run directory (no config.yaml)")
        cfg = build_config(cfg_path, overrides)
        if ckpt is None:
            for name in ("best.pt", "last.pt"):
                if (p / "checkpoints" / name).is_file():
                    ckpt = p / "checkpoints" / name
                    break
    elif p.is_file():
        cfg = build_config(p, overrides)
    else:
        raise AdaAnchorError(f"{p}: no such run directory or config file")
    return cfg, (Path(ckpt) if ckpt is not None else None)


def load_for_eval(cfg: DictConfig, ckpt: Path | None, device: torch.device | str = "cpu") -> tuple[KeypointNet, Strategy, dict[str, Any]]:
    """Model in eval mode with the checkpoint's weights (strictly: the architecture must match)."""
    from .checkpoint import safe_load

    model, strategy = build_system(cfg, load_pretrained=ckpt is None)
    info: dict[str, Any] = {"checkpoint": str(ckpt) if ckpt else None}
    if ckpt is not None:
        state = safe_load(ckpt)
        sd = state.get("model", state) if isinstance(state, dict) else state
        if not isinstance(sd, dict):
            raise AdaAnchorError(f"{ckpt}: not a model checkpoint (holds a {type(sd).__name__}, not a state dict)")
        try:
            model.load_state_dict(sd)
        except RuntimeError as e:
            # The first line only says "Error(s) in loading"; the second names the keys or shapes.
            lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
            first = " ".join(lines[:2])[:300]
            raise AdaAnchorError(f"{ckpt}: checkpoint does not match the model of this config "
                                 f"(backbone {cfg.model.backbone}, strategy {cfg.strategy.name}): {first}") from None
        info["step"] = int(state.get("step", -1)) if isinstance(state, dict) else -1
    return model.to(device).eval(), strategy, info
