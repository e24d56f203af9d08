"""Peak memory of reading a large COCO keypoints file.

Writes a COCO-style person-keypoints JSON of about ``--mb`` megabytes (17 integer keypoints, a box, an
area and a 30-point segmentation polygon per annotation, as in COCO's own files; the images are not
written), then reads it with :func:`adaanchor.data.readers.coco.read_coco` in a fresh Python process and
records that process's peak resident set size (``VmHWM`` of ``/proc/self/status``; ``ru_maxrss`` is not
used because it keeps the parent's size across fork and exec), the resident size after the imports (the
baseline) and after the read with the result still held.

    python benchmarks/reader_memory.py [--mb 50] [--label after] [--out benchmarks/results/reader_memory.json]

The source tree measured is whatever ``adaanchor`` the current ``PYTHONPATH`` imports, so the same script
measures an older checkout for a before / after comparison. Results are merged into ``--out`` by label.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol import provenance  # noqa: E402

from adaanchor.atomic import write_text_atomic  # noqa: E402
from adaanchor.cli.argtypes import positive  # noqa: E402

CHILD = r"""
import gc, json, sys, time
def status_mb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
rss_mb = lambda: status_mb("VmRSS")
from adaanchor.data.readers.coco import read_coco
from adaanchor.data.spec import load_spec
spec = load_spec("coco")
gc.collect()
base = rss_mb()
t = time.perf_counter()
res = read_coco(sys.argv[1], spec, check_image_size=False) if "check_image_size" in read_coco.__code__.co_varnames else read_coco(sys.argv[1], spec)
secs = time.perf_counter() - t
gc.collect()
held = rss_mb()
peak = status_mb("VmHWM")  # this process image's high-water mark (ru_maxrss would count the forking parent)
print(json.dumps({"instances": len(res.instances), "skipped": len(res.skipped), "baseline_mb": base,
                  "peak_mb": peak, "held_mb": held, "seconds": secs}))
"""


def write_coco(path: Path, target_mb: float, seed: int = 0) -> dict:
    """A COCO person-keypoints file of about ``target_mb`` MB; returns its counts."""
    rng = np.random.default_rng(seed)
    per_ann = 900  # bytes of JSON per annotation (measured for this layout), images about 1 per 3 annotations
    n_ann = int(target_mb * 1e6 / per_ann)
    n_img = max(1, n_ann // 3)
    images = [{"id": i + 1, "file_name": f"{i + 1:012d}.jpg", "width": 640, "height": 480, "license": 1,
               "coco_url": f"http://images.example/{i + 1:012d}.jpg", "date_captured": "2013-11-14 17:02:52"}
              for i in range(n_img)]
    anns = []
    for a in range(n_ann):
        x, y = rng.uniform(0, 400), rng.uniform(0, 200)
        w, h = rng.uniform(40, 240), rng.uniform(80, 280)
        v = rng.choice([0, 1, 2], 17, p=[0.3, 0.1, 0.6])
        kx, ky = rng.integers(int(x), int(x + w), 17), rng.integers(int(y), int(y + h), 17)
        kp = []
        for j in range(17):
            kp += [int(kx[j]) if v[j] else 0, int(ky[j]) if v[j] else 0, int(v[j])]
        poly = np.round(np.stack([rng.uniform(x, x + w, 30), rng.uniform(y, y + h, 30)], 1).reshape(-1), 2).tolist()
        anns.append({"segmentation": [poly], "num_keypoints": int((v > 0).sum()), "area": round(float(w * h * 0.6), 4),
                     "iscrowd": 0, "keypoints": kp, "image_id": int(rng.integers(1, n_img + 1)),
                     "bbox": [round(x, 2), round(y, 2), round(w, 2), round(h, 2)], "category_id": 1, "id": a + 1})
    data = {"info": {"description": "generated"}, "images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "person", "supercategory": "person"}]}
    write_text_atomic(path, json.dumps(data))
    return {"annotations": n_ann, "images": n_img, "file_mb": path.stat().st_size / 1e6}


def measure(path: Path) -> dict:
    """Run the read in a fresh interpreter (so that nothing else is in its peak) and return its numbers."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD, str(path)], check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=positive, default=50.0)
    ap.add_argument("--label", default="after")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "reader_memory.json"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "person_keypoints.json"
        t = time.perf_counter()
        counts = write_coco(path, a.mb)
        gen = time.perf_counter() - t
        r = measure(path)
    r.update(counts)
    r["read_mb"] = r["peak_mb"] - r["baseline_mb"]
    r["ratio_to_file"] = r["read_mb"] / r["file_mb"]
    r["generate_seconds"] = gen
    r.update(provenance())  # the commit and the machine of this label's measurement
    out = Path(a.out)
    doc = json.loads(out.read_text()) if out.is_file() else {}
    if not isinstance(doc, dict) or any(not isinstance(v, dict) or "peak_mb" not in v for v in doc.values()):
        # another results file (speed.json) was merged into
        sys.exit(f"error: {out}: not a reader_memory results file (labels of measurements); give another --out")
    doc[a.label] = r
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, json.dumps(doc, indent=2) + "\n")
    print(json.dumps({a.label: r}, indent=2))


if __name__ == "__main__":
    main()
