"""Per-epoch hooks of `MLP.fit`.

A callback is any callable taking the History after each epoch; returning True (or raising
StopIteration) ends training after that epoch. EarlyStopping is a stop rule of the epoch driver
(training/driver.py): `update(history, network)` after each epoch, `finish(history, network)`
at the end.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Dict, Optional

import numpy as np

from ._validation import finite_float, positive_int

if TYPE_CHECKING:
    from .history import History
    from .network import Network

__all__ = ["EarlyStopping"]

MONITORS = ("auto", "loss", "val_loss", "val_accuracy")


class EarlyStopping:
    """Stop when the monitored metric has not improved by more than `min_delta` for `patience`
    epochs in a row; with restore_best_weights, the model ends with the weights of its best epoch.

    monitor: 'auto' (val_loss with validation data, else the training loss), 'loss', 'val_loss'
    or 'val_accuracy' (maximised; the others are minimised).
    """

    def __init__(self, patience: int = 10, min_delta: float = 0.0, restore_best_weights: bool = True,
                 monitor: str = "auto"):
        self.patience = positive_int(patience, "patience", minimum=0)
        self.min_delta = finite_float(min_delta, "min_delta", nonnegative=True)
        if not isinstance(restore_best_weights, bool):
            raise TypeError(f"restore_best_weights: expected True or False, got {restore_best_weights!r}")
        self.restore_best_weights = restore_best_weights
        if monitor not in MONITORS:
            raise ValueError(f"monitor: expected one of {', '.join(repr(m) for m in MONITORS)}, got {monitor!r}")
        self.monitor = monitor
        self.reset()

    def reset(self) -> None:
        self.best: float = math.inf
        self.best_epoch = 0
        self.wait = 0
        self.best_params: Optional[np.ndarray] = None
        self.stopped = False

    def _value(self, history: "History") -> float:
        monitor = self.monitor
        if monitor == "auto":
            monitor = "val_loss" if history.val_loss else "loss"
        series = {"loss": history.train_loss, "val_loss": history.val_loss,
                  "val_accuracy": history.val_accuracy}[monitor]
        if not series:
            raise ValueError(f"monitor: {monitor!r} needs validation data (validation_data or validation_split)")
        return -series[-1] if monitor == "val_accuracy" else series[-1]

    def update(self, history: "History", net: "Network") -> bool:
        """Record the epoch just finished; True when training should stop."""
        value = self._value(history)
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, history.epochs, 0
            if self.restore_best_weights:
                self.best_params = net.get_params()
            return False
        self.wait += 1
        self.stopped = self.wait >= self.patience
        return self.stopped

    def restore(self, net: "Network") -> None:
        if self.restore_best_weights and self.best_params is not None:
            net.set_params(self.best_params)

    def finish(self, history: "History", net: "Network") -> None:
        """At the end of a fit: note the stopped and best epochs, go back to the best weights."""
        history.stopped_epoch = history.epochs if self.stopped else 0
        history.best_epoch = self.best_epoch
        self.restore(net)

    def state_dict(self) -> Dict[str, Any]:
        return {"best": self.best if math.isfinite(self.best) else None, "best_epoch": self.best_epoch,
                "wait": self.wait}

    def load_state_dict(self, state: Dict[str, Any], best_params: Optional[np.ndarray]) -> None:
        self.best = math.inf if state["best"] is None else float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        self.wait = int(state["wait"])
        self.best_params = best_params

    def __repr__(self) -> str:
        return (f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, "
                f"restore_best_weights={self.restore_best_weights}, monitor={self.monitor!r})")
