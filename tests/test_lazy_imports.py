"""Modules that need no heavy dependency to be imported do not import it: ``adaanchor --help`` starts without torch,
``adaanchor score`` without sklearn (0.9 s of its start), and a config without scipy.optimize (0.2 s)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = ("torch", "sklearn", "scipy.optimize", "cv2", "onnx", "onnxruntime", "timm")
PROBE = f"""
import json, sys
seen = {{}}
for name in ("adaanchor", "adaanchor.cli", "adaanchor.metrics.score", "adaanchor.config"):
    __import__(name)
    seen[name] = [m for m in {HEAVY!r} if m in sys.modules]
print(json.dumps(seen))
"""


def test_heavy_modules_are_imported_where_used():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True, timeout=60)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["adaanchor"] == [] and seen["adaanchor.cli"] == []
    assert seen["adaanchor.metrics.score"] == []
    assert seen["adaanchor.config"] == ["torch"]  # the config derives its keys from the backbone and strategy classes
