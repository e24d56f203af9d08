"""ONNX export of a trained model together with its strategy's decoding, as one graph, and its check.

The graph (docs/export-and-visualize.md):

- input ``image``: float32 ``(B, 3, H, W)``, ImageNet-normalised (:func:`adaanchor.data.types.to_tensor_image`),
  ``(W, H)`` = the run's ``data.input_size``; the batch axis is dynamic, the spatial size is fixed;
- output ``keypoints``: float32 ``(B, K, 2)``, ``(x, y)`` in **input pixels** of the network input, pixel-centre
  convention (docs/conventions.md); map them to the original image with the inverse of the crop affine;
- output ``scores``: float32 ``(B, K)`` in [0, 1] (absent for ``regression``, which has no confidence);
- output ``anchors``: float32 ``(B, K, 2)``, the cell centre each keypoint was decoded from, input pixels
  (``fixanchor``, ``adaanchor``; for ``heatmap`` the argmax cell; absent for ``regression``).

A multi-person run (``task=bottomup`` or ``centre``) exports its network alone (:class:`.graph.HeadsGraph`): its
head maps as the outputs, height and width dynamic (multiples of ``adaanchor.spatial_multiple``); the poses are
grouped after the graph, and :mod:`.heads_check` compares the maps with PyTorch at two sizes.

The dynamo exporter (``torch.onnx.export(..., dynamo=True)``, needs onnxscript) is tried first; if it fails,
or its file does not load in onnxruntime, the TorchScript exporter is used instead. Which one ran is returned.

One job per module: :mod:`.graph` (the exported module), :mod:`.exporters` (dynamo, TorchScript),
:mod:`.validate` (checker, onnxruntime, dynamic batch), :mod:`.metadata`, :mod:`.writer` (``export_onnx``),
:mod:`.check` (onnxruntime against PyTorch; :mod:`.heads_check` for the head maps), :mod:`.timing`, :mod:`.command` (``adaanchor export``),
:mod:`.report`, :mod:`.runtime` (the optional dependencies).
"""

from .check import KEYPOINT_ATOL, SCORE_ATOL, TIE_EPS, ambiguous_keypoints, check_images, check_onnx
from .command import export_command
from .exporters import DYNAMO_MIN_OPSET, LEGACY_OPSET
from .graph import DecodedGraph, HeadsGraph, graph_outputs, head_names
from .heads_check import HEAD_RTOL, check_heads_onnx
from .report import format_export_report
from .runtime import need_onnx, session
from .writer import export_onnx

__all__ = [
    "DYNAMO_MIN_OPSET",
    "DecodedGraph",
    "HEAD_RTOL",
    "HeadsGraph",
    "KEYPOINT_ATOL",
    "LEGACY_OPSET",
    "SCORE_ATOL",
    "TIE_EPS",
    "ambiguous_keypoints",
    "check_heads_onnx",
    "check_images",
    "check_onnx",
    "export_command",
    "export_onnx",
    "format_export_report",
    "graph_outputs",
    "head_names",
    "need_onnx",
    "session",
]
