"""The training loop behind `MLP.fit`: epochs of shuffled minibatches run inside the core (one
call per epoch, the GIL released, Ctrl-C honoured at batch boundaries), validation after each
epoch, a progress bar when verbose (see progress.py)."""
from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, Optional, Tuple

import numpy as np

from ._validation import finite_float, positive_int
from .history import History
from .progress import EpochProgress

if TYPE_CHECKING:
    from .model import MLP

OPTIMIZERS = ("sgd",)


def fit(net: "MLP", X: Any, y: Any, *, epochs: int = 10, batch_size: int = 32, optimizer: str = "sgd",
        lr: float = 0.01, l2: float = 0.0, validation_data: Optional[Tuple[Any, Any]] = None,
        shuffle: bool = True, seed: Optional[int] = None, verbose: bool = False) -> History:
    """Train `net` with minibatch SGD and return its History.

    X: (n, sizes[0]); y: targets as for the model's loss. Each epoch visits every row once, in
    a fresh random order when shuffle (seeded by `seed`, default the model's seed) or in row
    order otherwise; the last batch of an epoch may be smaller. l2 adds l2/2 · Σ‖W‖² to the loss.
    """
    X, labels, values = net._data(X, y)
    epochs = positive_int(epochs, "epochs", minimum=0)
    batch_size = positive_int(batch_size, "batch_size")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer: expected one of {', '.join(repr(o) for o in OPTIMIZERS)}, got {optimizer!r}")
    lr = finite_float(lr, "lr", positive=True)
    l2 = finite_float(l2, "l2", nonnegative=True)
    val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data: expected a pair (X_val, y_val)")
        Xv = net._inputs(validation_data[0], "validation_data[0]")
        net._targets(validation_data[1], Xv.shape[0], "validation_data[1]")
        val = (Xv, validation_data[1])

    n = X.shape[0]
    rng = np.random.default_rng(net.seed if seed is None else seed)
    history = History()
    progress = EpochProgress(epochs, enabled=verbose)
    start = time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(n).astype(np.int64) if shuffle else None
        loss = float(net._net.train_epoch_sgd(X, labels, values, order, batch_size, lr, l2))
        if not math.isfinite(loss):
            raise FloatingPointError(f"training diverged at epoch {epoch + 1}: the loss became {loss} "
                                     f"(try a smaller lr, currently {lr})")
        history.train_loss.append(loss)
        if val is not None:
            scores = net.evaluate(*val)
            history.val_loss.append(scores["loss"])
            if "accuracy" in scores:
                history.val_accuracy.append(scores["accuracy"])
        history.epochs = epoch + 1
        progress.update(history, n * (epoch + 1) / max(time.perf_counter() - start, 1e-9))
    progress.close()
    history.seconds = time.perf_counter() - start
    history.samples_per_sec = n * history.epochs / history.seconds if history.seconds > 0 else 0.0
    return history
