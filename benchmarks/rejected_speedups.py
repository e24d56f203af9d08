"""Speed-ups that were tried for the two unmet rows of ``speed.py`` and not taken, measured again on demand.

    python benchmarks/rejected_speedups.py [--reps 30] [--threads 2] [--out benchmarks/results] [--name STEM]

Each row times the code as it is (``current``) against the alternative (``alternative``), interleaved (every
repetition runs both, in alternating order), and reports the medians, the median paired ratio
alternative / current (below 1: the alternative is faster) and the largest difference between their results:

- ``heads_backward``: the backward of the anchor heads of the tiny training step (``speed.py``'s ``train_tiny``
  batch, AdaAnchor). Current: autograd's backward of the stacked 1x1 heads, where the offset and local-offset
  gradients are dense maps of which 97-99 % are zeros (their L1 losses read a few cells). Alternative: the same
  gradients from the listed cells only (a gather of the features there and a scatter-add into the feature
  gradient), as a sparse backward would compute them.
- ``onnx_deconvs``: the three transposed convolutions of the ResNet-50 model at 256x192, batch 1, in onnxruntime.
  Current: ``ConvTranspose`` nodes. Alternative: ``MatMul`` + ``Col2Im`` (opset 18), the matrix-product form the
  PyTorch model runs (:mod:`adaanchor.models.deconv`).
- ``take_rows`` and ``take_rows_in_step``: the anchor encode's pick of the labelled rows of the three heads.
  Current: indexing by (image, type) pairs (:func:`adaanchor.strategies.assign_targets.take_rows`). Alternative:
  one ``index_select`` of channel planes through a view of the storage the stacked heads share
  (:func:`_take_rows_planes`). Timed alone, and within whole training steps of the tiny setup (``step_phases.py``'s
  step, the alternative patched in for every other step); there the result column is empty.

Writes ``STEM.json`` and ``STEM.md`` (default ``rejected_speedups``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from script_exit import results_place_problem, run_main  # noqa: E402
from speed import TINY, Row, _batch, _system, machine, write_results  # noqa: E402
from speed import measure as speed_measure  # noqa: E402
from speed_timers import patched  # noqa: E402

from adaanchor.cli.argtypes import int_at_least  # noqa: E402
from adaanchor.strategies import compute_loss  # noqa: E402
from adaanchor.strategies.assign_targets import labelled_rows, take_rows  # noqa: E402

Pair = tuple[Callable[[], Any], Callable[[], Any]]


def heads_backward() -> Pair:
    """(current, alternative) backward of the anchor heads; each returns (feature grad, weight grad)."""
    model, strategy, cfg = _system(TINY, "adaanchor")
    images, kp, vis = _batch(TINY, TINY["batch"], strategy.num_keypoints)
    dense = model.features(images).detach().contiguous()
    b, c, h, w = dense.shape
    names = list(model.heads_from(dense, dense).keys())
    weight = torch.cat([model.heads[n].weight.detach().view(-1, c) for n in names])
    bias = torch.cat([model.heads[n].bias.detach() for n in names])
    sizes = [model.heads[n].out_channels for n in names]
    with torch.no_grad():
        outs = dict(zip(names, torch.baddbmm(bias.view(1, -1, 1), weight.expand(b, -1, -1),
                                             dense.view(b, c, h * w)).split(sizes, 1)))
        outs = {n: o.reshape(b, -1, h, w) for n, o in outs.items()}
        targets = strategy.encode(outs, kp, vis).targets
    # The gradients the losses give each head's output, taken once from a real backward.
    leaves = {n: o.clone().requires_grad_(True) for n, o in outs.items()}
    compute_loss(leaves, targets, strategy.losses, float(cfg.strategy.focal_gamma))["loss"].backward()
    grads = [leaves[n].grad.reshape(b, -1, h * w) for n in names]
    points = [(targets[n].index, leaves[n].grad.reshape(-1)[targets[n].index]) for n in names[1:]]

    def current():
        d = dense.view(b, c, h * w).requires_grad_(True)
        wt = weight.clone().requires_grad_(True)
        y = torch.baddbmm(bias.view(1, -1, 1), wt.expand(b, -1, -1), d)
        torch.autograd.backward(y.split(sizes, 1), grads)
        return d.grad, wt.grad

    def alternative():
        w_parts = weight.split(sizes, 0)
        g_dense = torch.bmm(w_parts[0].t().expand(b, -1, -1), grads[0])
        g_w = [torch.bmm(grads[0], dense.view(b, c, h * w).transpose(1, 2)).sum(0)]
        rows = dense.view(b, c, h * w).transpose(1, 2).reshape(b * h * w, c)  # features per cell
        acc = torch.zeros(b * h * w, c)
        for (index, values), wp, ch in zip(points, w_parts[1:], sizes[1:]):
            img = index.div(ch * h * w, rounding_mode="floor")
            rest = index - img * ch * h * w
            chan = rest.div(h * w, rounding_mode="floor")
            cell = img * h * w + rest - chan * h * w
            acc.index_add_(0, cell, wp.index_select(0, chan) * values[:, None])
            g_w.append(torch.zeros(ch, c).index_add_(0, chan, rows.index_select(0, cell) * values[:, None]))
        g_dense += acc.view(b, h * w, c).transpose(1, 2)
        return g_dense, torch.cat(g_w)

    return current, alternative


class _ColTranspose(torch.nn.Module):
    """A transposed convolution (stride 2, kernel 4, padding 1) as matrix product + ``fold`` at a fixed input size
    (the exported graph then has ``MatMul`` + ``Col2Im``)."""

    def __init__(self, conv: torch.nn.ConvTranspose2d, hw: tuple[int, int]):
        super().__init__()
        self.conv, self.hw = conv, hw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = self.hw
        cin, cout = self.conv.in_channels, self.conv.out_channels
        cols = torch.matmul(self.conv.weight.reshape(cin, cout * 16).t(), x.reshape(1, cin, h * w))
        return F.fold(cols, (2 * h, 2 * w), (4, 4), padding=(1, 1), stride=(2, 2))


def onnx_deconvs() -> Pair:
    """(current, alternative): the ResNet-50 head's three deconvolutions in onnxruntime; each returns the output."""
    import onnxruntime as ort

    torch.manual_seed(0)
    layers, cols = [], []
    for cin, hw in ((2048, (8, 6)), (256, (16, 12)), (256, (32, 24))):
        conv = torch.nn.ConvTranspose2d(cin, 256, 4, 2, 1, bias=False)
        tail = [torch.nn.BatchNorm2d(256), torch.nn.ReLU()]
        layers += [conv, *tail]
        cols += [_ColTranspose(conv, hw), *tail]
    plain, col = torch.nn.Sequential(*layers).eval(), torch.nn.Sequential(*cols).eval()
    x = torch.randn(1, 2048, 8, 6)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = torch.get_num_threads(), 1
    runs = []
    for net in (plain, col):
        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():  # the session holds the graph
            warnings.simplefilter("ignore")
            path = Path(tmp) / "layers.onnx"
            torch.onnx.export(net, (x,), str(path), opset_version=18, dynamo=False)
            sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        feed = {sess.get_inputs()[0].name: x.numpy()}
        runs.append(lambda s=sess, f=feed: torch.from_numpy(s.run(None, f)[0]))
    return runs[0], runs[1]


def _channel_planes(x: torch.Tensor) -> torch.Tensor | None:
    """``x (B, C, ...)`` as rows of channel planes, ``(R, plane)`` (channel ``c`` of image ``b`` at row
    ``b * x.stride(0) // plane + c``), a view from its first element; None unless its planes are contiguous and its
    images a whole number of planes apart."""
    if x.dim() < 3 or 0 in x.shape[:2]:
        return None
    plane = x[0, 0].numel()
    if plane == 0 or x.stride(1) != plane or not x[0, 0].is_contiguous() or x.stride(0) % plane:
        return None
    total = x.stride(0) // plane
    return None if total < x.shape[1] else x.as_strided(((x.shape[0] - 1) * total + x.shape[1], plane), (plane, 1))


def _take_rows_planes(x: torch.Tensor, rows: torch.Tensor, per_row: int = 1) -> torch.Tensor:
    """:func:`take_rows` by one ``index_select`` of channel planes where the layout allows it."""
    flat = _channel_planes(x)
    if flat is None:
        return take_rows(x, rows, per_row)
    b, kc, *rest = x.shape
    k, total = kc // per_row, x.stride(0) // flat.shape[1]
    first = rows.div(k, rounding_mode="floor") * total + rows.remainder(k) * per_row
    return flat.index_select(0, (first.unsqueeze(1) + torch.arange(per_row)).view(-1)).view(1, -1, *rest)


def take_rows_pair() -> Pair:
    """(current, alternative) pick of the labelled rows of the three heads; each returns the picks."""
    model, strategy, _ = _system(TINY, "adaanchor")
    images, kp, vis = _batch(TINY, TINY["batch"], strategy.num_keypoints)
    with torch.no_grad():
        out = model(images)
    rows = labelled_rows((vis > 0).permute(0, 2, 1))
    heads = (("conf", 1), ("offset", 2), ("local", 2))
    return (lambda: [take_rows(out[n], rows, c) for n, c in heads],
            lambda: [_take_rows_planes(out[n], rows, c) for n, c in heads])


def take_rows_in_step() -> Pair:
    """(current, alternative) whole tiny training steps of AdaAnchor, the alternative pick patched in; each returns
    None (the steps are not compared: they train the same model on, one after the other)."""
    from step_phases import _stepper

    import adaanchor.strategies.anchor as anchor

    step = _stepper(TINY, "adaanchor")

    return patched(anchor, "take_rows", take_rows, step), patched(anchor, "take_rows", _take_rows_planes, step)


ROWS: dict[str, tuple[str, Callable[[], Pair]]] = {
    "heads_backward": ("anchor heads' backward, tiny batch 32: dense (current) vs listed cells only", heads_backward),
    "onnx_deconvs": ("ResNet-50 head's 3 deconvolutions in onnxruntime, b1: ConvTranspose vs MatMul + Col2Im",
                     onnx_deconvs),
    "take_rows": ("encode's labelled-row pick of 3 heads, alone: pair indexing vs index_select of planes",
                  take_rows_pair),
    "take_rows_in_step": ("the same within whole tiny AdaAnchor training steps", take_rows_in_step),
}


def _difference(a: Any, b: Any) -> float | None:
    """The largest absolute difference between two results (tensors or sequences of them); None for no results."""
    if a is None:
        return None
    if isinstance(a, torch.Tensor):
        return float((a.float() - b.float()).abs().max())
    return max(_difference(x, y) for x, y in zip(a, b, strict=True))


def measure(pair: Pair, reps: int, warmup: int = 3) -> dict[str, Any]:
    """``speed.py``'s interleaved timing of the pair (medians in ms, the median paired ratio alternative / current
    and its range), and the largest difference between their results."""
    current, alternative = pair
    diff = _difference(current(), alternative())
    row = Row("", lambda: {"current": current, "alternative": alternative},
              {"alternative / current": ("alternative", "current")})
    res = speed_measure(row, reps, warmup)
    r = res["ratios"]["alternative / current"]
    return {"ms": res["ms"], "ratio": r["median"], "ratio_range": [r["min"], r["max"]], "max_abs_difference": diff,
            "reps": reps}


def _fmt(diff: float | None) -> str:
    return "" if diff is None else f"{diff:.2g}"


def to_markdown(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = ["# Speed-ups tried and not taken", "",
             f"Machine: {m['processor']}, {m['cpu_count']} cores, torch {m['torch']}, {m['threads']} threads, CPU; "
             f"commit {m['commit']}. Medians of interleaved repetitions; the ratio is the median paired "
             "alternative / current (below 1: the alternative is faster).", "",
             "| row | what | current ms | alternative ms | alternative / current (range) | max abs difference |",
             "|---|---|---|---|---|---|"]
    for name, r in res["rows"].items():
        lo, hi = r["ratio_range"]
        lines.append(f"| {name} | {ROWS[name][0]} | {r['ms']['current']:.2f} | {r['ms']['alternative']:.2f} | "
                     f"{r['ratio']:.3f} ({lo:.2f}-{hi:.2f}) | {_fmt(r['max_abs_difference'])} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS))
    p.add_argument("--reps", type=int_at_least(1), default=30)
    p.add_argument("--threads", type=int_at_least(1), default=2)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    p.add_argument("--name", default="rejected_speedups")
    a = p.parse_args(argv)
    if (why := results_place_problem(a.out, a.name)) is not None:  # before the work, not after it
        p.error(why)
    return run_main(lambda: measure_and_write(a), "nothing was written", resume=False)


def measure_and_write(a: argparse.Namespace) -> int:
    """The rows of the parsed options ``a``, written under ``--out``."""
    torch.set_num_threads(a.threads)
    res: dict[str, Any] = {"machine": machine(a.threads), "rows": {}}
    for name in a.rows:
        res["rows"][name] = measure(ROWS[name][1](), a.reps)
        r = res["rows"][name]
        print(f"{name}: current {r['ms']['current']:.2f} ms, alternative {r['ms']['alternative']:.2f} ms, "
              f"ratio {r['ratio']:.2f}", flush=True)
    write_results(a.out, a.name, res, to_markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
