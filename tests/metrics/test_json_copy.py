"""``json_copy`` is ``copy.deepcopy`` on the data the AP copies before pycocotools writes into it: equal values, no
mutable part shared with the original, the same sharing inside the copy, other types copied as deepcopy does."""

from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np

from adaanchor.metrics.coco import json_copy


def _same_shape(a, b, seen=None) -> bool:
    """``a`` and ``b`` are equal with the same types, and the same objects shared at the same places."""
    seen = {} if seen is None else seen
    if type(a) is not type(b):
        return False
    if isinstance(a, (dict, list, np.ndarray)):
        if id(a) in seen or -id(b) in seen:  # a shared object on one side is shared on the other
            return seen.get(id(a)) is b and seen.get(-id(b)) is a
        seen[id(a)], seen[-id(b)] = b, a
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same_shape(a[k], b[k], seen) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same_shape(x, y, seen) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return a == b or (a != a and b != b)


def _mutables(x, out=None) -> list:
    out = [] if out is None else out
    if isinstance(x, (dict, list, np.ndarray)):
        if any(x is o for o in out):
            return out
        out.append(x)
    if isinstance(x, dict):
        for v in x.values():
            _mutables(v, out)
    elif isinstance(x, (list, tuple)):
        for v in x:
            _mutables(v, out)
    return out


def test_json_copy_is_deepcopy():
    ann = {"id": 1, "keypoints": [1.0, 2, 2] * 3, "bbox": [0, 0, 4.5, 3], "area": 13.5, "iscrowd": 0, "name": "a"}
    shared = [1.0, 2.0]
    data = {"images": [{"id": 1, "file_name": "x.png", "width": 10, "height": 10}],
            "annotations": [ann, ann, {"id": 2, "keypoints": shared, "seg": shared, "n": None, "t": True}],
            "extra": (shared, 3), "arr": np.arange(3.0), "od": OrderedDict(a=[1]), "np": [np.float64(1.5)],
            "nan": float("nan"), 7: "int key", ("k", 1): "tuple key"}
    data["self"] = data
    got, want = json_copy(data), copy.deepcopy(data)
    assert _same_shape(got, want)
    assert _same_shape(json_copy([ann, ann, [ann]]), copy.deepcopy([ann, ann, [ann]]))
    originals = {id(x) for x in _mutables(data)}
    assert not any(id(x) in originals for x in _mutables(got))


def test_json_copy_of_atoms_and_empty():
    for v in (0, 1.5, "s", True, None, [], {}):
        assert _same_shape(json_copy(v), copy.deepcopy(v))
