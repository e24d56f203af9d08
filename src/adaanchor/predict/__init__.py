"""A trained model on new images, folders and videos: :class:`Predictor` (Python) and ``adaanchor predict``."""

from .predictor import Predictor, box_affine, fit_image_affine
from .result import Prediction

__all__ = ["Prediction", "Predictor", "box_affine", "fit_image_affine"]
