"""A training whose loss runs away without becoming NaN: said once, while it trains.

Non-finite losses are skipped and stop a run (engine/train.py), and an evaluation's errors beyond the input's
diagonal are warned of; a finite divergence with no evaluation was said nowhere (``train.lr=1e3``: the logged loss
went 5.8 -> 4,500 and the run ended with exit 0). The logged loss is noisy from row to row, so only a rise far
beyond anything training noise does counts: :data:`FACTOR` times the lowest loss seen so far (the first step's, then
every logged row's: a run can diverge before its first row).
"""

from __future__ import annotations

import math
import sys
from typing import Any

#: How far above its lowest logged value the loss must rise to be called diverging.
FACTOR = 100.0


def watch_loss(run: Any, loss: float) -> None:
    """Record ``loss`` (a logged row's, averaged over ranks) in ``run.loss_low``; warn once (rank 0) when it exceeds
    :data:`FACTOR` times the lowest value logged before."""
    if not math.isfinite(loss):
        return
    low = run.loss_low
    if low is not None and low > 0 and loss > FACTOR * low and not run.loss_warned:
        run.loss_warned = True
        if run.info.is_main:
            print(f"warning: the training loss is {loss:.4g} at step {run.step}, {loss / low:.0f} times its lowest "
                  f"value so far ({low:.4g}): the training is diverging? (a lower train.lr, or train.grad_clip)",
                  file=sys.stderr)
    run.loss_low = loss if low is None else min(low, loss)


__all__ = ["FACTOR", "watch_loss"]
