"""The Strategy interface: one object owns a representation end to end.

A strategy declares its output heads, encodes ground truth into targets **of the same shape as the
outputs** (from detached outputs, inside the training step), and decodes outputs into keypoints. Because
targets mirror outputs, one generic loss (:func:`adaanchor.strategies.losses.compute_loss`) serves all. A sparse
target (:class:`PointTarget`, the anchor offsets) lists its non-zero elements and has the same dense form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor

from ..ranges import Checker


@dataclass
class Target:
    """Target and per-element weight for one head; both have the head output's shape."""

    value: Tensor
    weight: Tensor


class PointTarget:
    """A target given only where its weight is non-zero (the anchor offsets: the positives' cells), so that the
    loss reads and writes those elements rather than the whole map (a dense L1 is bound by memory traffic).

    ``value`` and ``weight`` give the dense form (zeros elsewhere), the same tensors a :class:`Target` would hold.

    Args:
        shape: the head output's shape, e.g. ``(B, 2K, h, w)``.
        index: ``(n,)`` int64 flat indices in the output's row-major order, each at most once.
        values, weights: ``(n,)`` float.
    """

    __slots__ = ("shape", "index", "values", "weights")

    def __init__(self, shape: tuple[int, ...], index: Tensor, values: Tensor, weights: Tensor):
        self.shape = tuple(shape)
        self.index, self.values, self.weights = index, values, weights

    def _dense(self, x: Tensor) -> Tensor:
        out = x.new_zeros(self.shape)
        out.view(-1)[self.index] = x
        return out

    @property
    def value(self) -> Tensor:
        return self._dense(self.values)

    @property
    def weight(self) -> Tensor:
        return self._dense(self.weights)


@dataclass
class Decoded:
    """Decoded single-instance predictions.

    Attributes:
        xy: ``(B, K, 2)`` keypoints in input-crop pixels.
        score: ``(B, K)`` confidences in [0, 1], or None when the strategy has none (regression).
        anchor: ``(B, K, 2)`` the anchor each keypoint came from (cell centre, input pixels), or None.
    """

    xy: Tensor
    score: Tensor | None
    anchor: Tensor | None = None


@dataclass
class Encoded:
    """Targets for every head plus scalar diagnostics of the assignment (logged during training).

    A diagnostic may stay a 0-d tensor: it is read (``float``) only on the steps that are logged, so that an
    encode on a GPU does not wait for the device every step."""

    targets: dict[str, Target]
    stats: dict[str, float | Tensor] = field(default_factory=dict)


class Strategy:
    """Base class. Subclasses set ``name``, ``heads`` and ``losses`` and implement encode/decode.

    A subclass declares its options of the ``strategy`` config section in :attr:`DEFAULTS` (the one place
    where their defaults are written) and their valid ranges in :attr:`RANGES`; the config's valid keys are
    derived from these tables (:func:`adaanchor.strategies.strategy_defaults`).

    Attributes:
        heads: head name -> number of output channels. ``coords`` is a global (pooled) head of
            shape ``(B, C)``; every other head is a dense map ``(B, C, h, w)`` at ``stride``.
        losses: head name -> (loss kind in {"focal", "l1", "mse"}, weight).
    """

    name = "base"
    #: False for strategies that supervise one instance per image (``N`` must be 1).
    multi_instance: ClassVar[bool] = True
    #: ``strategy.<key>`` -> default, for the options this strategy reads (constructor keywords).
    DEFAULTS: ClassVar[dict[str, Any]] = {}
    #: ``strategy.<key>`` -> valid range or choice (:mod:`adaanchor.ranges`).
    RANGES: ClassVar[dict[str, Checker]] = {}

    @classmethod
    def options(cls, section: Mapping[str, Any]) -> dict[str, Any]:
        """This strategy's options from a ``strategy`` section: its value where given, else the default."""
        return {k: section.get(k, d) for k, d in cls.DEFAULTS.items()}

    @classmethod
    def from_config(cls, section: Mapping[str, Any], num_keypoints: int, stride: int,
                    input_size: tuple[int, int]) -> Strategy:
        """Build from the ``strategy`` config section (keys this class does not read are ignored)."""
        return cls(num_keypoints, stride, input_size, **cls.options(section))

    def __init__(self, num_keypoints: int, stride: int, input_size: tuple[int, int]):
        self.num_keypoints = num_keypoints
        self.stride = stride
        self.input_size = tuple(input_size)  # (W, H)
        self.heads: dict[str, int] = {}
        self.losses: dict[str, tuple[str, float]] = {}

    @property
    def has_confidence(self) -> bool:
        return True

    def encode(self, outputs: dict[str, Tensor], keypoints: Tensor, visibility: Tensor, step: int = 0) -> Encoded:
        """Targets from detached ``outputs``, ``keypoints (B,N,K,2)`` and ``visibility (B,N,K)``."""
        raise NotImplementedError

    def labelled(self, keypoints: Tensor, visibility: Tensor) -> Tensor:
        """``keypoints (B, N, K, 2)`` in float with the unlabelled ones (``visibility (B, N, K)`` 0) at 0, both shapes
        checked. An unlabelled point's coordinates are a placeholder, NaN in DeepLabCut's and SLEAP's exports, and
        ``NaN * 0`` is NaN: the heatmap's, the regression's and the person centres' targets went NaN. Keypoints of
        shape ``(B, K, 2)`` (no instance axis) were broadcast into wrong heatmap targets without a word. On the CPU
        a labelled point must be finite and a visibility 0, 1 or 2 (NaN targets and a visibility 3 passed
        silently); on a GPU these are left to the dataset readers, which refuse both."""
        k = self.num_keypoints
        for label, t in (("keypoints", keypoints), ("visibility", visibility)):
            if not isinstance(t, Tensor):  # numpy arrays: "'numpy.ndarray' object has no attribute 'dim'"
                raise TypeError(f"{label}: expected a torch.Tensor, got {type(t).__name__} (torch.as_tensor converts "
                                "an array)")
        if keypoints.dim() != 4 or keypoints.shape[2] != k or keypoints.shape[3] != 2:
            raise ValueError(f"keypoints must be (B, N, K={k}, 2), got {tuple(keypoints.shape)}")
        if keypoints.shape[1] == 0:  # the reductions over instances have nothing to reduce (an IndexError)
            raise ValueError("keypoints have no instance slot (N = 0): give each image at least one, an unlabelled one "
                             "(visibility 0) where it has nobody, as the datasets' collate pads")
        if tuple(visibility.shape) != tuple(keypoints.shape[:3]):
            raise ValueError(f"visibility must be (B, N, K) = {tuple(keypoints.shape[:3])} like the keypoints, got "
                             f"{tuple(visibility.shape)}")
        on = (visibility > 0).unsqueeze(-1)
        if keypoints.device.type == "cpu":  # on a GPU a read-back per step would stall the queue: the readers check
            _check_labels(keypoints, visibility, on)
        return torch.where(on, keypoints.float(), 0.0)

    def decode(self, outputs: dict[str, Tensor]) -> Decoded:
        """Single-instance decoding: one keypoint per type."""
        raise NotImplementedError

    def flip_merge(self, plain: Mapping[str, Tensor], mirrored: Mapping[str, Tensor], flip_index: Any) -> dict[str, Tensor]:
        """The multi-person flip test's maps: ``plain`` (the outputs of an input) merged with ``mirrored`` (those of its
        mirror) head by head, ``flip_index (K,)`` the spec's flip permutation; decoding then reads the result as it
        reads one pass's outputs. The rules are :mod:`adaanchor.strategies.flip_test`'s. A strategy without dense maps
        (regression) has none: its flip test is the top-down one, which averages decoded points."""
        raise NotImplementedError(f"strategy '{self.name}' has no output maps to merge for a flip test")

    def export_needs(self) -> tuple[int, str] | None:
        """The lowest ONNX opset the exported decoding needs and why, where it needs more than the exporters' lowest
        (None: no such need)."""
        return None

    def predict(self, model: Any, images: Tensor) -> Decoded:
        """Inference: ``model`` on ``images (B, 3, H, W)``, decoded. A strategy may read less than every output
        map where its decoding allows it (the anchor strategies do); the result is that of
        ``decode(model(images))`` up to float rounding."""
        return self.decode(model(images))


def _check_labels(keypoints: Tensor, visibility: Tensor, on: Tensor) -> None:
    """Labelled points of ``keypoints (B, N, K, 2)`` (``on (B, N, K, 1)``) finite; ``visibility`` 0, 1 or 2."""
    bad = (visibility < 0) | (visibility > 2) | (visibility != visibility.round())
    if bool(bad.any()):
        at = tuple(int(i) for i in bad.nonzero()[0])
        raise ValueError(f"visibility: expected 0, 1 or 2, got {float(visibility[at]):g} at (b, n, k) = {at}")
    lost = on & ~torch.isfinite(keypoints)
    if bool(lost.any()):
        at = tuple(int(i) for i in lost.nonzero()[0][:3])
        raise ValueError(f"keypoints: labelled point (b, n, k) = {at} is not finite ({keypoints[at].tolist()}); an "
                         "unlabelled one has visibility 0")
