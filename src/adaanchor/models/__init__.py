"""Models: timm backbones (features_only) or a tiny CNN, plus strategy heads."""

from .backbones import BACKBONES, build_backbone, count_params
from .net import KeypointNet, load_weights

__all__ = ["BACKBONES", "build_backbone", "count_params", "KeypointNet", "load_weights"]
