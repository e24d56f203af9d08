"""Distributed setup from torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK); single process otherwise.

Also the few collectives training needs (agreeing on a flag, sharing a small object, averaging metrics),
BatchNorm over the global batch (:func:`convert_sync_batchnorm`) and a fingerprint of the parameters to
check that every replica holds the same weights.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ..errors import AdaAnchorError

# Rank 0 evaluates alone while the other ranks wait at a barrier: the collective timeout must outlast an
# evaluation (NCCL's default is 10 minutes).
DIST_TIMEOUT = timedelta(minutes=60)

# Whether init_distributed made a process group in this process: the program then ends without the interpreter's
# finalisation (cli.entry), as a gloo worker thread that drops a collective's last tensor at that moment aborts it.
_made_group = [False]


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        raise AdaAnchorError(f"environment variable {name}={os.environ[name]!r} is not an integer") from None


def init_distributed(device: str = "auto") -> tuple[DistInfo, torch.device]:
    """Initialise the process group when launched by torchrun; pick the device (cuda:LOCAL_RANK or cpu)."""
    world, rank, local = _env_int("WORLD_SIZE", 1), _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    if device not in ("auto", "cpu", "cuda"):
        raise AdaAnchorError(f"train.device must be auto, cpu or cuda, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise AdaAnchorError("train.device=cuda but no CUDA device is visible")
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if use_cuda and local >= torch.cuda.device_count():
        raise AdaAnchorError(f"LOCAL_RANK={local} but only {torch.cuda.device_count()} CUDA device(s) are visible: "
                             "use --nproc_per_node <= the number of GPUs")
    dev = torch.device(f"cuda:{local}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", timeout=DIST_TIMEOUT)
        _made_group[0] = True
    return DistInfo(rank, world, local), dev


def made_process_group() -> bool:
    """Whether :func:`init_distributed` made a process group in this process (see ``cli.entry``)."""
    return _made_group[0]


def said_once(err: AdaAnchorError, another_rank: bool = False) -> AdaAnchorError:
    """``err``, which every rank raises with the same text (rank 0's, broadcast): the CLI prints it on rank 0 only.
    ``another_rank``: the error is another rank's, which says why itself (``train.status`` keeps its line)."""
    err.same_on_every_rank = True  # type: ignore[attr-defined]
    err.another_rank = another_rank  # type: ignore[attr-defined]
    return err


def all_reduce_mean(values: dict[str, float], info: DistInfo, device: torch.device) -> dict[str, float]:
    """Average scalar metrics over ranks (identity in a single process). A key that only some ranks report
    (e.g. a statistic undefined on a rank's share of the batch) is averaged over the ranks that have it."""
    if info.world == 1:
        return values
    gathered = gather_objects({k: float(v) for k, v in values.items()}, info)
    keys = list(dict.fromkeys(k for d in gathered for k in d))
    return {k: sum(d[k] for d in gathered if k in d) / sum(1 for d in gathered if k in d) for k in keys}


def any_rank(flags: list[bool] | list[float], info: DistInfo, device: torch.device) -> list[bool]:
    """Element-wise OR of boolean flags over ranks, so every rank takes the same branch."""
    if info.world == 1:
        return [bool(f) for f in flags]
    t = torch.tensor([float(f) for f in flags], dtype=torch.float32, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v > 0) for v in t.tolist()]


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Rank 0's ``obj`` on every rank (small picklable objects only: paths, messages)."""
    if info.world == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def broadcast_tensors(tensors: list[torch.Tensor], info: DistInfo) -> None:
    """Overwrite ``tensors`` (same shapes, one float dtype) on every rank with rank 0's, in one collective."""
    if info.world == 1 or not tensors:
        return
    flat = torch.cat([t.detach().reshape(-1) for t in tensors])
    dist.broadcast(flat, src=0)
    for t, part in zip(tensors, flat.split([t.numel() for t in tensors]), strict=True):
        t.copy_(part.view_as(t))


def gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if info.world == 1:
        return [obj]
    out: list[Any] = [None] * info.world
    dist.all_gather_object(out, obj)
    return out


def first_rank_error(errors: list[str | None], elsewhere: str = "") -> str | None:
    """The one message of every rank's error text (``errors``, in rank order; None: that rank had none): rank 0's,
    else the first failing rank's, named (``rank N of W: ...``) and followed by ``elsewhere`` (why one rank and not
    rank 0 may fail); None when no rank failed."""
    bad = [i for i, e in enumerate(errors) if e is not None]
    if not bad:
        return None
    return errors[0] if bad[0] == 0 else f"rank {bad[0]} of {len(errors)}: {errors[bad[0]]}{elsewhere}"


def one_error(error: str | None, info: DistInfo, elsewhere: str = "") -> AdaAnchorError | None:
    """Every rank's ``error`` (a collective: every rank calls it) made one error that every rank raises and the CLI
    prints once, on rank 0 (:func:`said_once`, :func:`first_rank_error`): each rank printed its own, the ranks that
    had none ``another rank ...``; every process still exits with the same code. None when no rank failed."""
    text = first_rank_error(gather_objects(error, info), elsewhere)
    return said_once(AdaAnchorError(text)) if text is not None else None


def barrier(info: DistInfo) -> None:
    if info.world > 1 and dist.is_initialized():
        if dist.get_backend() == "nccl":
            dist.barrier(device_ids=[info.local_rank])
        else:
            dist.barrier()


def cleanup(info: DistInfo) -> None:
    if info.world > 1 and dist.is_initialized():
        dist.destroy_process_group()


def param_fingerprint(named: Iterable[tuple[str, torch.Tensor]]) -> str:
    """SHA-256 of names and exact bytes of tensors (e.g. ``model.named_parameters()`` or a state dict's
    items), to compare replicas or a checkpoint with a live model."""
    h = hashlib.sha256()
    for name, t in named:
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def replica_mismatch(params: Iterable[tuple[str, torch.Tensor]], ema: Iterable[tuple[str, torch.Tensor]] | None,
                     info: DistInfo) -> str | None:
    """Compare the replicas of every rank by :func:`param_fingerprint`: the model's ``params`` and, when the
    assignment scores an EMA copy, its state ``ema`` (its BatchNorm statistics too, buffers as well as parameters).
    Returns what differs (None: identical, said on rank 0; one process: nothing compared)."""
    if info.world == 1:
        return None
    for what, named in (("parameter fingerprints", params), ("the assignment's EMA copies", ema)):
        if named is None:
            continue
        prints = gather_objects(param_fingerprint(named), info)
        if len(set(prints)) != 1:
            return f"{what} differ across ranks: {prints}"
        if info.is_main:
            label = "parameters" if what == "parameter fingerprints" else "assignment EMA copy"
            print(f"{label} identical on all {info.world} ranks (sha256 {prints[0][:16]})")
    return None


class _AllReduceSum(torch.autograd.Function):
    """Differentiable sum over ranks: the gradient of a sum over ranks is the sum of the ranks' gradients."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        g = g.clone()
        dist.all_reduce(g)
        return g


class GlobalBatchNorm(nn.BatchNorm2d):
    """BatchNorm whose training statistics are taken over the global batch of all ranks, on any backend.

    ``torch.nn.SyncBatchNorm`` only runs on GPUs; this one uses differentiable all-reduces (gloo on CPU
    included), two passes (mean, then centred variance) for accuracy. In eval mode, or outside a process
    group, it is a plain BatchNorm. Parameters and buffers are the ones of ``nn.BatchNorm*d``, so state
    dicts are interchangeable.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        all_reduce = _AllReduceSum.apply
        c, dims = x.shape[1], [0, *range(2, x.dim())]
        shape = [1, c] + [1] * (x.dim() - 2)
        xf = x.float()
        count = torch.full((1,), x.numel() / c, dtype=torch.float32, device=x.device)
        first = all_reduce(torch.cat([xf.sum(dims), count]))
        n = first[c]
        mean = first[:c] / n
        var = all_reduce((xf - mean.view(shape)).pow(2).sum(dims)) / n
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)  # type: ignore[union-attr]
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach().to(self.running_mean.dtype), alpha=m)
                unbiased = var.detach() * n / (n - 1).clamp(min=1)
                self.running_var.mul_(1 - m).add_(unbiased.to(self.running_var.dtype), alpha=m)
        y = (xf - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


_PLAIN_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def convert_sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """BatchNorm layers normalise over the global batch: ``SyncBatchNorm`` on GPUs (timm's converter, which
    keeps timm's fused norm+act layers), :class:`GlobalBatchNorm` elsewhere. Parameters are kept (the same
    objects), so build the optimizer after, or before: both work."""
    if device.type == "cuda":
        try:
            from timm.layers import convert_sync_batchnorm as timm_convert
        except ImportError:  # pragma: no cover - timm is a dependency
            return nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return timm_convert(model)
    for m in model.modules():
        if type(m) in _PLAIN_BN:
            m.__class__ = GlobalBatchNorm
    return model
