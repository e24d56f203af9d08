"""ImageNet weights by timm name: ``model.weights=timm:resnet50.tv_in1k``.

The weights come through timm's own pretrained mechanism (``timm.create_model(name, pretrained=True)``),
which fetches them from the Hugging Face hub into its cache on first use and reads the cache afterwards.
With ``HF_HUB_OFFLINE=1`` nothing is fetched: the weights must already be in the cache (``HF_HUB_CACHE``,
default ``~/.cache/huggingface/hub``). Any timm name with pretrained weights works
(``timm.list_pretrained()``); its architecture must be the one of ``model.backbone``.
"""

from __future__ import annotations

import os

from torch import Tensor

from ..errors import AdaAnchorError

PREFIX = "timm:"


def is_timm_name(weights: object) -> bool:
    """``weights`` names timm pretrained weights (``timm:NAME``) rather than a local file."""
    return isinstance(weights, str) and weights.startswith(PREFIX)


def hub_cache_dir() -> str:
    """The folder the Hugging Face hub client caches downloads in (``HF_HUB_CACHE``, ``HF_HOME``/hub)."""
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")


def timm_state_dict(weights: str) -> dict[str, Tensor]:
    """The pretrained state dict of the timm model ``weights`` (``timm:NAME`` or ``NAME``), classifier included.

    Raises:
        AdaAnchorError: unknown model or tag, no pretrained weights for it, or the weights are neither in the
            cache nor downloadable (offline or no connection); the message names the model and the cache.
    """
    import timm
    from huggingface_hub.errors import LocalEntryNotFoundError

    name = weights.removeprefix(PREFIX)
    if not name:
        raise AdaAnchorError("model.weights=timm: needs a timm model name, e.g. timm:resnet50.tv_in1k")
    if not timm.is_model(name):
        raise AdaAnchorError(f"model.weights={weights}: '{name.split('.')[0]}' is not a timm model")
    if not timm.list_pretrained(name):
        tags = timm.list_pretrained(name.split(".")[0] + ".*")
        hint = f"; its pretrained tags: {', '.join(tags)}" if tags else "; it has no pretrained weights"
        raise AdaAnchorError(f"model.weights={weights}: timm has no pretrained weights '{name}'{hint}")
    try:
        model = timm.create_model(name, pretrained=True)
    except LocalEntryNotFoundError:
        why = "downloads are off (HF_HUB_OFFLINE=1)" if _offline() else "they could not be downloaded (no connection?)"
        raise AdaAnchorError(
            f"model.weights={weights}: the weights of '{name}' are not in the Hugging Face cache {hub_cache_dir()} "
            f"and {why}; fetch them once on a connected machine (or set HF_HUB_CACHE to a cache that has them), "
            f"or give a local file as model.weights=PATH"
        ) from None
    except (OSError, RuntimeError) as e:  # network errors, unreadable cache files
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise AdaAnchorError(f"model.weights={weights}: cannot load the pretrained weights of '{name}': {msg}") from None
    return model.state_dict()


__all__ = ["PREFIX", "hub_cache_dir", "is_timm_name", "timm_state_dict"]
