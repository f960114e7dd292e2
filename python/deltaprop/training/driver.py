"""The epoch loop: one driver for `MLP.fit`, the scikit-learn estimators and data-parallel
trainers.

An `EpochDriver` runs epochs on a `Network` until a stop; each epoch it asks

- `order(epoch)` for the order in which to visit the rows (None: row order),
- the schedule for the learning rate, the optimizer for the core's step settings,
- `run_epoch` to take the epoch's steps: `in_core_epoch` (every batch inside the core, one call,
  the GIL released) or a `BatchwiseEpoch` (the batches from Python, a `step` per batch: the seam
  for steps the core cannot take alone, such as a gradient summed across processes),

then checks that loss and weights are finite (else it restores the epoch's starting weights),
validates, and hands the History to the callbacks and then to the stop rules (EarlyStopping,
NoImprovement, anything with `update(history, network) -> stop` and `finish(history,
network)`). A `TrainingState` records everything after each epoch, and a checkpoint is written
when due.
"""
from __future__ import annotations

import math
import time
import warnings
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence

import numpy as np

from ..history import History
from ..network import Network
from ..optimizers import Constant, Optimizer, Schedule

__all__ = ["EpochDriver", "TrainingData", "Checkpoint", "ShuffledOrder", "in_core_epoch", "BatchwiseEpoch"]

OrderFn = Callable[[int], Optional[np.ndarray]]
Callback = Callable[[History], Any]


class TrainingData(NamedTuple):
    """Checked training rows: X (n, in), class labels (n,) or target values (n, out), optional
    per-row weights (n,)."""

    X: np.ndarray
    labels: Optional[np.ndarray]
    values: Optional[np.ndarray]
    weights: Optional[np.ndarray] = None

    @property
    def n(self) -> int:
        return int(self.X.shape[0])


class Checkpoint(NamedTuple):
    """`save()` every `every` epochs, and at the end or a stop."""

    save: Callable[[], None]
    every: int = 1


class ShuffledOrder:
    """A fresh random permutation of the n rows each epoch, from a seeded generator whose state
    is part of the training state."""

    def __init__(self, n: int, seed: int):
        self.n = n
        self.rng = np.random.default_rng(seed)

    def __call__(self, epoch: int) -> np.ndarray:
        return self.rng.permutation(self.n).astype(np.int64)

    def state_dict(self) -> Dict[str, Any]:
        return self.rng.bit_generator.state

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.rng.bit_generator.state = state


def in_core_epoch(network: Network, data: TrainingData, order: Optional[np.ndarray], batch_size: int,
                  config: Any) -> float:
    """All the epoch's steps inside the core: one call."""
    return network.train_epoch(data.X, data.labels, data.values, data.weights, order, batch_size, config)


def _core_step(network: Network, batch: TrainingData, config: Any) -> float:
    return network.train_step(batch.X, batch.labels, batch.values, batch.weights, config)


class BatchwiseEpoch:
    """The epoch's batches gathered in Python, `step(network, batch, config) -> batch loss` for
    each (default: the core's train_step, which gives what in_core_epoch gives). The epoch's
    loss is the mean over rows, batches weighted by their rows (or weight sums; by_rows: by their
    rows even with sample weights, as scikit-learn's loss_curve_ is)."""

    def __init__(self, step: Optional[Callable[[Network, TrainingData, Any], float]] = None, *,
                 by_rows: bool = False):
        self.step = _core_step if step is None else step
        self.by_rows = by_rows

    def __call__(self, network: Network, data: TrainingData, order: Optional[np.ndarray], batch_size: int,
                 config: Any) -> float:
        total = mass = 0.0
        for r0 in range(0, data.n, batch_size):
            rows = slice(r0, r0 + batch_size) if order is None else order[r0:r0 + batch_size]
            batch = TrainingData(*(None if a is None else np.ascontiguousarray(a[rows]) for a in data))
            batch_mass = (float(batch.n) if batch.weights is None or self.by_rows
                          else float(np.sum(batch.weights, dtype=np.float64)))
            total += float(self.step(network, batch, config)) * batch_mass
            mass += batch_mass
        return total / mass if mass > 0 else 0.0


class EpochDriver:
    """Runs the epochs of one training run on `network`; see the module docstring.

    epoch / samples_seen count what came before (a resumed or continued run); history collects
    this run's epochs. on_divergence: 'raise' (FloatingPointError), 'warn' (RuntimeWarning and
    stop) or None (no check: the caller looks at the weights itself).
    """

    def __init__(self, network: Network, data: TrainingData, *, optimizer: Optimizer, batch_size: int,
                 schedule: Optional[Schedule] = None, l2: float = 0.0, l2_per_sample: bool = False,
                 order: Optional[OrderFn] = None, run_epoch: Callable[..., float] = in_core_epoch,
                 validation: Optional[Callable[[], Dict[str, float]]] = None, stop_rules: Sequence[Any] = (),
                 callbacks: Sequence[Callback] = (), checkpoint: Optional[Checkpoint] = None,
                 on_divergence: Optional[str] = "raise", state: Any = None, progress: Any = None,
                 epoch: int = 0, samples_seen: int = 0, history: Optional[History] = None):
        self.network, self.data = network, data
        self.optimizer = optimizer
        self.schedule = Constant() if schedule is None else schedule
        self.batch_size, self.l2, self.l2_per_sample = batch_size, l2, l2_per_sample
        self.order = order
        self.run_epoch = run_epoch
        self.validation = validation
        self.stop_rules: List[Any] = list(stop_rules)
        self.callbacks: List[Callback] = list(callbacks)
        self.checkpoint = checkpoint
        self.on_divergence = on_divergence
        self.state = state
        self.progress = progress
        self.epoch, self.samples_seen = epoch, samples_seen
        self.history = History() if history is None else history
        self.end_epoch = epoch

    def run(self, end_epoch: int) -> History:
        """Epochs until `end_epoch` epochs in all (counting earlier ones) or a stop rule says so;
        KeyboardInterrupt marks the History interrupted and propagates."""
        self.end_epoch = end_epoch
        self.schedule.plan(end_epoch)
        first, start = self.epoch, time.perf_counter()
        try:
            while self.epoch < end_epoch:
                if self._epoch(first, start):
                    break
        except KeyboardInterrupt:
            self.history.interrupted = True
            raise
        finally:
            if self.progress is not None:
                self.progress.close()
            self.network.release_training_data()
        for rule in self.stop_rules:
            rule.finish(self.history, self.network)
        self._record()
        history = self.history
        history.seconds = time.perf_counter() - start
        history.samples_per_sec = self.data.n * history.epochs / history.seconds if history.seconds > 0 else 0.0
        return history

    def _epoch(self, first: int, start: float) -> bool:
        """One epoch and what follows it; True: stop."""
        history, network = self.history, self.network
        snapshot = network.snapshot() if self.on_divergence else None  # the last finite weights
        lr = self.schedule.lr(self.optimizer.lr, self.epoch, self.samples_seen)
        config = self.optimizer.config(lr, self.l2, self.l2_per_sample)
        order = None if self.order is None else self.order(self.epoch)
        loss = float(self.run_epoch(network, self.data, order, self.batch_size, config))
        self.samples_seen += self.data.n
        history.lr.append(float(lr))
        if self.on_divergence and (not math.isfinite(loss) or not network.params_finite()):
            self._diverged(snapshot, loss)
            return True
        history.train_loss.append(loss)
        if self.validation is not None:
            scores = self.validation()
            history.val_loss.append(scores["loss"])
            if "accuracy" in scores:
                history.val_accuracy.append(scores["accuracy"])
        self.epoch += 1
        history.epochs = self.epoch
        if self.progress is not None:
            rate = self.data.n * (self.epoch - first) / max(time.perf_counter() - start, 1e-9)
            self.progress.update(history, rate)
        self.schedule.epoch_end(loss)
        stop = False
        for callback in self.callbacks:
            try:
                stop = bool(callback(history)) or stop
            except StopIteration:
                stop = True
        for rule in self.stop_rules:
            stop = bool(rule.update(history, network)) or stop
        self._record()
        every = self.checkpoint.every if self.checkpoint else 0
        if every and (self.epoch % every == 0 or stop or self.epoch == self.end_epoch):
            self.checkpoint.save()
        return stop

    def _diverged(self, snapshot: Any, loss: float) -> None:
        """Back to the weights before the epoch; the optimizer state (momentum, Adam moments) saw
        the non-finite gradients, so it starts afresh."""
        self.network.restore(snapshot)
        self.network.reset_optimizer_state()
        message = (f"training diverged at epoch {self.epoch + 1}: the loss became {loss} (try a smaller "
                   f"lr, currently {self.optimizer.lr}); the weights of the last finite epoch were restored")
        if self.on_divergence == "raise":
            raise FloatingPointError(message)
        warnings.warn(message, RuntimeWarning, stacklevel=5)

    def _record(self) -> None:
        if self.state is not None:
            self.state.capture(self)
