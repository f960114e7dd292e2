"""The state of one `fit` call between epochs: optimizer and schedule, the shuffling RNG, sample
weights, validation split, early stopping, callbacks and checkpoints.

Everything that decides the next epoch is recorded on the model (`net._training`, written by
`save`) after every epoch, so that `fit(resume=path)` replays an interrupted run bit for bit.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ._validation import check_finite, finite_float, float_array, positive_int, to_numpy
from .callbacks import EarlyStopping
from .history import History
from .optimizers import Cosine, Optimizer, make_optimizer, make_schedule

if TYPE_CHECKING:
    from .model import MLP

Callback = Callable[[History], Any]


def sample_weights(net: "MLP", labels: Optional[np.ndarray], n: int, sample_weight: Any,
                   class_weight: Any) -> Optional[np.ndarray]:
    """Per-row weights (n,) in the model's dtype, or None when all rows weigh the same."""
    weights = None
    if sample_weight is not None:
        weights = float_array(sample_weight, "sample_weight", net.dtype, allow_int=True).reshape(-1)
        if to_numpy(sample_weight, "sample_weight").ndim > 1 or weights.shape[0] != n:
            raise ValueError(f"sample_weight: expected shape ({n},), got {np.shape(sample_weight)}")
        check_finite(weights, "sample_weight")
        if (weights < 0).any():
            raise ValueError("sample_weight: expected weights >= 0, got negative values")
    if class_weight is not None:
        if labels is None:
            raise ValueError("class_weight: needs integer class labels (cross_entropy with 1-D y)")
        classes = net.sizes[-1]
        if isinstance(class_weight, str) and class_weight == "balanced":
            counts = np.bincount(labels, minlength=classes).astype(np.float64)
            table = np.where(counts > 0, n / (np.count_nonzero(counts) * np.maximum(counts, 1)), 0.0)
        elif isinstance(class_weight, dict):
            table = np.ones(classes)
            for cls, w in class_weight.items():
                if isinstance(cls, bool) or not isinstance(cls, (int, np.integer)) or not 0 <= cls < classes:
                    raise ValueError(f"class_weight: keys must be class indices in [0, {classes - 1}], got {cls!r}")
                table[cls] = finite_float(w, f"class_weight[{cls}]", nonnegative=True)
        else:
            raise TypeError(f"class_weight: expected a dict {{class: weight}} or 'balanced', got {class_weight!r}")
        per_row = table[labels].astype(net.dtype)
        weights = per_row if weights is None else weights * per_row
    if weights is not None and not weights.sum() > 0:
        raise ValueError("sample_weight: the weights must not all be zero")
    return weights


def split_validation(n: int, fraction: Any, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """(train rows, validation rows): a seeded random `fraction` of the rows held out."""
    fraction = finite_float(fraction, "validation_split")
    if not 0 < fraction < 1:
        raise ValueError(f"validation_split: expected a fraction in (0, 1), got {fraction}")
    n_val = int(round(n * fraction))
    if n_val < 1 or n_val >= n:
        raise ValueError(f"validation_split: {fraction} of {n} rows leaves no training or no validation rows")
    order = np.random.default_rng([seed, 0x5eed]).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


class TrainingRun:
    """Drives the epochs of one fit: `order()`, `train_epoch(order)`, then `epoch_end(history)`
    (True: stop), and `finish(history)` at the end."""

    def __init__(self, net: "MLP", X: np.ndarray, labels: Optional[np.ndarray], values: Optional[np.ndarray],
                 *, epochs: int, batch_size: int, optimizer: Union[str, Optimizer], lr: float, l2: float,
                 l2_per_sample: bool = False, lr_schedule: Any = None, shuffle: bool, seed: int,
                 weights: Optional[np.ndarray] = None, early_stopping: Any = None,
                 callbacks: Optional[Sequence[Callback]] = None, checkpoint: Any = None,
                 checkpoint_every: int = 1, resume: Any = None, warm_start: bool = False):
        self.net, self.X, self.labels, self.values, self.weights = net, X, labels, values, weights
        self.batch_size, self.shuffle, self.l2, self.l2_per_sample = batch_size, shuffle, l2, l2_per_sample
        self.optimizer = make_optimizer(optimizer, lr)
        self.schedule = self.optimizer.schedule if lr_schedule is None else make_schedule(lr_schedule)
        self.early = _early_stopping(early_stopping)
        self.callbacks = _callbacks(callbacks)
        self.checkpoint = None if checkpoint is None else os.fspath(checkpoint)
        self.checkpoint_every = positive_int(checkpoint_every, "checkpoint_every")
        if not isinstance(warm_start, bool):
            raise TypeError(f"warm_start: expected True or False, got {warm_start!r}")
        self.rng = np.random.default_rng(seed)
        self.history = History()
        self.epoch = 0          # epochs completed, counting those of a resumed or warm-started run
        self.samples_seen = 0
        if resume is not None:
            from .io import restore
            restore(net, resume)
            self._load(net._training or {}, with_history=True)
            self.end_epoch = max(epochs, self.epoch)  # `epochs` counts the whole run
        else:
            if warm_start and getattr(net, "_training", None):
                self._load(net._training, with_history=False)
            else:
                net._net.reset_optimizer_state()
                if self.early is not None:
                    self.early.reset()
            self.end_epoch = self.epoch + epochs
        self.start_epoch = self.epoch
        if isinstance(self.schedule, Cosine):
            self.schedule._default_t_max = max(self.end_epoch, 1)

    # ------------------------------------------------------------------ per epoch
    def order(self) -> Optional[np.ndarray]:
        return self.rng.permutation(self.X.shape[0]).astype(np.int64) if self.shuffle else None

    def train_epoch(self, order: Optional[np.ndarray]) -> float:
        lr = self.schedule.lr(self.optimizer.lr, self.epoch, self.samples_seen)
        cfg = self.optimizer.config(lr, self.l2, self.l2_per_sample)
        # Plain SGD takes the core's fused step inside train_epoch.
        loss = self.net._net.train_epoch(self.X, self.labels, self.values, self.weights, order,
                                         self.batch_size, cfg)
        self.samples_seen += self.X.shape[0]
        self.history.lr.append(float(lr))
        return float(loss)

    def epoch_end(self, history: History) -> bool:
        """Schedule, early stopping, callbacks and checkpoint after an epoch; True: stop."""
        self.epoch += 1
        history.epochs = self.epoch
        self.schedule.epoch_end(history.train_loss[-1])
        stop = self.early.update(history, self.net) if self.early is not None else False
        for callback in self.callbacks:
            try:
                stop = bool(callback(history)) or stop
            except StopIteration:
                stop = True
        self._record()
        if self.checkpoint and (self.epoch % self.checkpoint_every == 0 or stop or self.epoch == self.end_epoch):
            self.net.save(self.checkpoint)
        return stop

    def finish(self, history: History) -> None:
        if self.early is not None:
            history.stopped_epoch = self.epoch if self.early.stopped else 0
            history.best_epoch = self.early.best_epoch
            self.early.restore(self.net)
        self._record()

    # ------------------------------------------------------------------ state
    def _record(self) -> None:
        training: Dict[str, Any] = {
            "epoch": self.epoch, "samples_seen": self.samples_seen,
            "rng": self.rng.bit_generator.state, "schedule": self.schedule.state_dict(),
            "optimizer": self.optimizer.describe(), "history": self.history.state_dict(),
        }
        if self.early is not None:
            training["early_stopping"] = self.early.state_dict()
            if self.early.best_params is not None:
                training["best_params"] = self.early.best_params
        self.net._training = training

    def _load(self, training: Dict[str, Any], with_history: bool) -> None:
        try:
            self.epoch = int(training.get("epoch", 0))
            self.samples_seen = int(training.get("samples_seen", 0))
            if training.get("rng"):
                self.rng.bit_generator.state = training["rng"]
            if training.get("schedule"):
                self.schedule.load_state_dict(training["schedule"])
            if self.early is not None and training.get("early_stopping"):
                self.early.load_state_dict(training["early_stopping"], training.get("best_params"))
            if with_history and training.get("history"):
                self.history.load_state_dict(training["history"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"resume: the saved training state does not fit this run ({exc})") from exc


def _early_stopping(value: Any) -> Optional[EarlyStopping]:
    if value is None or value is False:
        return None
    if value is True:
        return EarlyStopping()
    if isinstance(value, EarlyStopping):
        return value
    raise TypeError(f"early_stopping: expected True, False or a deltaprop.EarlyStopping, got {value!r}")


def _callbacks(value: Optional[Sequence[Callback]]) -> List[Callback]:
    if value is None:
        return []
    items = [value] if callable(value) else list(value)
    for i, cb in enumerate(items):
        if not callable(cb):
            raise TypeError(f"callbacks[{i}]: expected a callable taking the History, got {cb!r}")
    return items
