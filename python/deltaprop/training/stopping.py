"""Stop rules of the epoch driver besides `deltaprop.EarlyStopping` (callbacks.py).

A stop rule has `update(history, network) -> bool` (True: stop after this epoch) and
`finish(history, network)` (at the end of the run).
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np

from ..history import History
from ..network import Network

__all__ = ["NoImprovement"]


class NoImprovement:
    """scikit-learn's stopping rule (tol, n_iter_no_change): an epoch whose `value(history)` does
    not beat the best so far by more than `tol` adds one to a count, any other resets it; when
    the count exceeds `patience`, `on_plateau()` is asked first (True: it acted, e.g. lowered
    the learning rate, and the count restarts) and training stops otherwise.

    maximize: larger values are better (a validation score) instead of smaller (a loss).
    keep_best: copy the weights at each new best and go back to them at the end. best / count /
    best_params continue an earlier run.
    """

    def __init__(self, value: Callable[[History], float], tol: float, patience: int, *, maximize: bool = False,
                 on_plateau: Optional[Callable[[], bool]] = None, keep_best: bool = False,
                 best: Optional[float] = None, count: int = 0, best_params: Optional[np.ndarray] = None):
        # patience may be math.inf (never stop: scikit-learn's n_iter_no_change=np.inf)
        self.value, self.tol = value, float(tol)
        self.patience = math.inf if patience == math.inf else int(patience)
        self.sign = 1.0 if maximize else -1.0     # compared as a score: larger is better
        self.on_plateau, self.keep_best = on_plateau, keep_best
        self._best = -math.inf if best is None else self.sign * float(best)   # as a score
        self.count = int(count)
        self.best_params = best_params
        self.stopped = False

    @property
    def best(self) -> float:
        """The best value so far (-inf / inf before any)."""
        return self.sign * self._best

    def update(self, history: History, network: Network) -> bool:
        score = self.sign * float(self.value(history))
        if score < self._best + self.tol:
            self.count += 1
        else:
            self.count = 0
        if score > self._best:
            self._best = score
            if self.keep_best:
                self.best_params = network.get_params()
        if self.count > self.patience:
            if self.on_plateau is not None and self.on_plateau():
                self.count = 0
                return False
            self.stopped = True
            return True
        return False

    def finish(self, history: History, network: Network) -> None:
        if self.keep_best and self.best_params is not None:
            network.set_params(self.best_params)
