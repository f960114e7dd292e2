"""The training loop behind `MLP.fit`: epochs of shuffled minibatches run inside the core (one
call per epoch, the GIL released, Ctrl-C honoured at batch boundaries), validation after each
epoch, a progress bar when verbose (see progress.py)."""
from __future__ import annotations

import math
import time
import warnings
from typing import TYPE_CHECKING, Any, Optional, Tuple

import numpy as np

from ._validation import choice, finite_float, positive_int
from .history import History
from .progress import EpochProgress
from .training_run import TrainingRun, sample_weights, split_validation

if TYPE_CHECKING:
    from .model import MLP

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")  # or a deltaprop.SGD/Adam/AdamW object


def fit(net: "MLP", X: Any, y: Any, *, epochs: int = 10, batch_size: int = 32, optimizer: str = "sgd",
        lr: float = 0.01, l2: float = 0.0, validation_data: Optional[Tuple[Any, Any]] = None,
        shuffle: bool = True, seed: Optional[int] = None, verbose: bool = False,
        validation_split: float = 0.0, lr_schedule: Any = None, early_stopping: Any = None,
        callbacks: Any = None, sample_weight: Any = None, class_weight: Any = None,
        warm_start: bool = False, checkpoint: Any = None, checkpoint_every: int = 1,
        resume: Any = None, on_divergence: str = "raise") -> History:
    """Train `net` and return its History.

    X: (n, sizes[0]); y: targets as for the model's loss. Each epoch visits every row once, in
    a fresh random order when shuffle (seeded by `seed`, default the model's seed) or in row
    order otherwise; the last batch of an epoch may be smaller. l2 adds l2/2 · Σ‖W‖² to the loss.

    optimizer: 'sgd' (plain SGD, fused into the backward pass), 'momentum', 'nesterov', 'adam',
    'adamw' (all at `lr`) or a deltaprop.SGD / Adam / AdamW object (its own lr). lr_schedule:
    'constant', 'invscaling', 'adaptive', 'step', 'cosine' or a deltaprop.optimizers.Schedule.
    validation_split: a seeded random fraction of the rows held out as validation data.
    early_stopping: True or a deltaprop.EarlyStopping(patience, min_delta, restore_best_weights).
    callbacks: callables taking the History after each epoch; True or StopIteration stops.
    sample_weight (n,) / class_weight ({class: weight} or 'balanced'): weighted mean loss.
    warm_start: keep the optimizer state, RNG and epoch count of the previous fit (the weights
    are always kept). checkpoint: save the model with its optimizer and training state there
    every `checkpoint_every` epochs (and at the end); resume: continue the run saved at that path
    until `epochs` epochs in all, exactly as if it had not stopped. KeyboardInterrupt (Ctrl-C)
    stops at a batch boundary, leaves the model usable and propagates; `net.history_` then
    holds the History so far. When the loss or the weights become NaN or inf, the weights of the
    last finite epoch are restored and training stops: on_divergence='raise' (default) raises
    FloatingPointError, 'warn' issues a RuntimeWarning and returns the History so far.
    """
    X, labels, values = net._data(X, y)
    epochs = positive_int(epochs, "epochs", minimum=0)
    batch_size = positive_int(batch_size, "batch_size")
    lr = finite_float(lr, "lr", positive=True)
    l2 = finite_float(l2, "l2", nonnegative=True)
    on_divergence = choice(on_divergence, "on_divergence", ("raise", "warn"))
    val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data: expected a pair (X_val, y_val)")
        Xv = net._inputs(validation_data[0], "validation_data[0]")
        net._targets(validation_data[1], Xv.shape[0], "validation_data[1]")
        val = (Xv, validation_data[1])
    seed = net.seed if seed is None else positive_int(seed, "seed", minimum=0)
    weights = sample_weights(net, labels, X.shape[0], sample_weight, class_weight)
    if validation_split:
        if val is not None:
            raise ValueError("validation_split: give validation_data or validation_split, not both")
        train_rows, val_rows = split_validation(X.shape[0], validation_split, seed)
        val = (X[val_rows], labels[val_rows] if labels is not None else values[val_rows])
        X = np.ascontiguousarray(X[train_rows])
        labels = None if labels is None else np.ascontiguousarray(labels[train_rows])
        values = None if values is None else np.ascontiguousarray(values[train_rows])
        weights = None if weights is None else np.ascontiguousarray(weights[train_rows])
    run = TrainingRun(net, X, labels, values, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
                      lr=lr, l2=l2, lr_schedule=lr_schedule, shuffle=shuffle, seed=seed, weights=weights,
                      early_stopping=early_stopping, callbacks=callbacks, checkpoint=checkpoint,
                      checkpoint_every=checkpoint_every, resume=resume, warm_start=warm_start)

    n = X.shape[0]
    history = run.history
    progress = EpochProgress(epochs, enabled=verbose)
    start = time.perf_counter()
    try:
        _epochs(net, run, history, val, progress, n, start, on_divergence)
    except KeyboardInterrupt:
        history.interrupted = True
        net.history_ = history
        raise
    finally:
        progress.close()
    run.finish(history)
    history.seconds = time.perf_counter() - start
    history.samples_per_sec = n * history.epochs / history.seconds if history.seconds > 0 else 0.0
    return history


def _epochs(net: "MLP", run: TrainingRun, history: History, val: Any, progress: EpochProgress, n: int,
            start: float, on_divergence: str = "raise") -> None:
    lr = run.optimizer.lr
    for epoch in range(run.epoch, run.end_epoch):
        snapshot = net.get_params()  # the last finite weights, put back if this epoch diverges
        loss = run.train_epoch(run.order())
        if not math.isfinite(loss) or not np.isfinite(net.get_params()).all():
            _restore_after_divergence(net, snapshot)
            message = (f"training diverged at epoch {epoch + 1}: the loss became {loss} (try a smaller "
                       f"lr, currently {lr}); the weights of the last finite epoch were restored")
            if on_divergence == "raise":
                raise FloatingPointError(message)
            warnings.warn(message, RuntimeWarning, stacklevel=4)
            break
        history.train_loss.append(loss)
        if val is not None:
            scores = net.evaluate(*val)
            history.val_loss.append(scores["loss"])
            if "accuracy" in scores:
                history.val_accuracy.append(scores["accuracy"])
        history.epochs = epoch + 1
        progress.update(history, n * (epoch + 1 - run.start_epoch) / max(time.perf_counter() - start, 1e-9))
        if run.epoch_end(history):
            break


def _restore_after_divergence(net: "MLP", snapshot: np.ndarray) -> None:
    """Back to the weights before the diverged epoch; the optimizer state (momentum, Adam
    moments) saw the non-finite gradients, so it starts afresh."""
    with net._net.lock.write:
        net._params[:] = snapshot
    net._net.reset_optimizer_state()
