"""The root conftest's helpers under a unique module name: ``conftest`` alone is ambiguous once a test
folder has a conftest.py of its own (tests/predict)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_root = _load(Path(__file__).with_name("conftest.py"), "adaanchor_tests_root_conftest")
TINY_SYNTH = _root.TINY_SYNTH
write_face_csv = _root.write_face_csv
write_video = _load(Path(__file__).parent / "predict" / "conftest.py", "adaanchor_tests_predict_conftest").write_video
predict_in_background = _load(Path(__file__).parent / "predict" / "conftest.py",
                              "adaanchor_tests_predict_conftest_bg").predict_in_background
one_step_demo_run = _root.one_step_demo_run


def load_benchmark(script: str):
    """A script of ``benchmarks/`` (``"step_phases"``) as a module, its folder on the path for its own imports;
    registered as ``<script>_bench`` so that dataclasses and pickling find it."""
    import sys

    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(f"{script}_bench", folder / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
