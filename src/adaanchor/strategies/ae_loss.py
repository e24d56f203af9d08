"""Associative-embedding grouping loss (Newell et al. 2017), in the generic targets-mirror-outputs form.

The tag head is ``(B, K, h, w)``: one scalar embedding per keypoint type and cell (the 1-D tags of the
paper). Its target is an instance map of the same shape: ``value = n + 1`` at the cells that belong to
instance ``n`` (0 elsewhere) and ``weight`` 1 there. The elements ``E_n`` of instance ``n`` of one image are
all its weighted cells, over every type. With the reference tag ``h_n = mean_{e in E_n} t_e``:

- pull: ``(1 / N) sum_n (1 / |E_n|) sum_{e in E_n} (t_e - h_n)^2``;
- push: ``1 / (N (N - 1)) sum_{n != n'} exp(-(h_n - h_n')^2 / (2 sigma^2))`` with ``sigma = 1`` (paper eq. 3
  with the diagonal ``n = n'`` left out: it is a constant);
- or, with ``push="hinge"``, CornerNet's ``1 / (N (N - 1)) sum_{n != n'} max(0, margin - |h_n - h_n'|)`` with
  ``margin = 1``. The Gaussian push has no gradient where two reference tags coincide (its slope is
  ``d exp(-d^2 / 2)``, zero at ``d = 0``): once every tag has collapsed to one value, nothing pushes them apart.
  The hinge's slope is ``1 / (N (N - 1))`` per pair at any distance below the margin, so a collapse is not a
  resting point of the loss (only an exact tie ``d = 0`` has slope 0 in autograd, a point training noise
  does not stay on).

``N`` counts the instances of the image; the loss is the mean pull over images with at least one instance
plus the mean push over images with at least two. The paper sums over joints, one tag each; here a joint may
own several cells (an anchor's top-k positives), and averaging over elements weights every cell equally.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: The push terms of :func:`ae_loss` (``"exp"``: the paper's, ``"hinge"``: CornerNet's) -> the loss kind that
#: names each in a strategy's ``losses`` (:func:`~adaanchor.strategies.losses.compute_loss` reads it back).
LOSS_KINDS = {"exp": "ae", "hinge": "ae_hinge"}
PUSH_KINDS = tuple(LOSS_KINDS)
#: Loss kind -> push term, the inverse of :data:`LOSS_KINDS`.
PUSH_OF_KIND = {kind: push for push, kind in LOSS_KINDS.items()}


def loss_kind(push: str) -> str:
    """The loss kind of the push term ``push``; an unknown one is a ValueError naming the valid ones."""
    if push not in LOSS_KINDS:
        raise ValueError(f"unknown push kind '{push}' (one of {', '.join(PUSH_KINDS)})")
    return LOSS_KINDS[push]


def ae_loss(tags: Tensor, ids: Tensor, weight: Tensor, sigma: float = 1.0, push: str = "exp",
            margin: float = 1.0) -> Tensor:
    """Pull + push of the module docstring.

    Args:
        tags: ``(B, ...)`` predicted scalar tags; ids: same shape, instance id + 1 (0: none);
        weight: same shape, elements with weight > 0 take part.
        sigma: width of the ``"exp"`` push; push: one of :data:`PUSH_KINDS`; margin: the ``"hinge"`` margin.
    Returns:
        A scalar tensor (0 with the graph kept when no element takes part).
    """
    loss_kind(push)  # validates it
    b = tags.shape[0]
    t = tags.float().reshape(b, -1)
    idx = ids.reshape(b, -1).round().long()
    use = (weight.reshape(b, -1) > 0) & (idx > 0)
    n_max = int(idx.max()) + 1 if idx.numel() else 1
    group = (torch.arange(b, device=t.device).unsqueeze(1) * n_max + idx)[use]  # flat (image, instance) ids
    vals = t[use]
    count = torch.zeros(b * n_max, device=t.device).index_add_(0, group, torch.ones_like(vals))
    total = torch.zeros(b * n_max, device=t.device).index_add(0, group, vals)
    mean = total / count.clamp(min=1.0)
    sq = torch.zeros(b * n_max, device=t.device).index_add(0, group, (vals - mean[group]) ** 2)
    present = (count > 0).view(b, n_max)
    pull_n = (sq / count.clamp(min=1.0)).view(b, n_max)
    n_img = present.sum(dim=1)
    zero = tags.sum() * 0.0
    has1, has2 = n_img >= 1, n_img >= 2
    pull = (pull_n.sum(dim=1)[has1] / n_img[has1]).mean() if has1.any() else zero
    if has2.any():
        m = mean.view(b, n_max)
        pair = present.unsqueeze(2) & present.unsqueeze(1) & ~torch.eye(n_max, dtype=torch.bool, device=t.device)
        d = m.unsqueeze(2) - m.unsqueeze(1)
        if push == "exp":
            e = torch.exp(-(d**2) / (2 * sigma**2)) * pair
        else:
            e = torch.relu(margin - d.abs()) * pair
        push_loss = (e.sum(dim=(1, 2))[has2] / (n_img[has2] * (n_img[has2] - 1))).mean()
    else:
        push_loss = zero
    return pull + push_loss


__all__ = ["LOSS_KINDS", "PUSH_KINDS", "PUSH_OF_KIND", "ae_loss", "loss_kind"]
