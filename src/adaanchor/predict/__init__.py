"""A trained model on new images, folders and videos: :class:`Predictor` (Python) and ``adaanchor predict``."""

from .boxes import Detections, load_detections
from .predictor import Predictor, box_affine, fit_image_affine
from .result import Prediction

__all__ = ["Detections", "Prediction", "Predictor", "box_affine", "fit_image_affine", "load_detections"]
