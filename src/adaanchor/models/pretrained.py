"""ImageNet weights by timm name: ``model.weights=timm:resnet50.tv_in1k``.

The weights come through timm's own pretrained mechanism (``timm.create_model(name, pretrained=True)``),
which fetches them from the Hugging Face hub into its cache on first use and reads the cache afterwards.
With ``HF_HUB_OFFLINE=1`` nothing is fetched: the weights must already be in the cache (``HF_HUB_CACHE``,
default ``~/.cache/huggingface/hub``). Weights already in the cache are read from it without asking the hub
(a node without a connection used to wait out the client's retries first); weights that are not are fetched
only after one quick request shows the hub can be reached, else the error comes at once. Any timm name with pretrained weights works
(``timm.list_pretrained()``); its architecture must be the one of ``model.backbone``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

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
    cached = in_cache(name)
    if not cached and not _offline():
        unreachable = _hub_unreachable()
        if unreachable:
            raise AdaAnchorError(
                f"model.weights={weights}: the weights of '{name}' are not in the Hugging Face cache {hub_cache_dir()} "
                f"and the hub cannot be reached ({unreachable}); fetch them once on a connected machine (or set "
                f"HF_HUB_CACHE to a cache that has them), or give a local file as model.weights=PATH")
    try:
        with _no_network(cached):
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


#: The files timm's pretrained configs name in a hub repository, in the order it tries them.
HUB_FILES = ("model.safetensors", "open_clip_model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin")


def in_cache(name: str) -> bool:
    """Whether the weights of timm model ``name`` are in the Hugging Face cache (no network is used)."""
    from huggingface_hub import try_to_load_from_cache
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(name)
    repo = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    if not repo:
        return False
    repo, _, rev = repo.partition("@")
    return any(isinstance(try_to_load_from_cache(repo, f, revision=rev or None), str) for f in HUB_FILES)


@contextlib.contextmanager
def _no_network(on: bool) -> Iterator[None]:
    """Within it, with ``on``, the hub client reads its cache without asking the hub first (the weights are
    there: a cluster node without a connection waited out the client's retries before it read them)."""
    from huggingface_hub import constants

    old = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = bool(on) or old
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = old


def _hub_unreachable(timeout: float = 5.0) -> str | None:
    """Why the hub cannot be reached, from one request without retries through the hub client's own HTTP
    session (its endpoint, proxies and certificates), or None when it answers. Without this, a machine with no
    connection waited about 45 s, printing 'Retrying in 8s' ten times, before the same error."""
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    try:
        get_session().head(constants.ENDPOINT, timeout=timeout)
    except Exception as e:  # noqa: BLE001 - connection refused, DNS failure, timeout, TLS: all say "unreachable"
        msg = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        return f"{constants.ENDPOINT}: {msg}"
    return None


__all__ = ["HUB_FILES", "PREFIX", "hub_cache_dir", "in_cache", "is_timm_name", "timm_state_dict"]
