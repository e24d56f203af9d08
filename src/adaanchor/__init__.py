"""adaanchor: adaptive anchors for robust keypoint localization."""

__version__ = "0.1.0"
