"""Optimizers and learning-rate schedules for `MLP.fit`.

The updates run in the C++ core (cpp/kernels/optimizers.cpp) on the flat parameter vector; the
optimizer state (velocity, Adam moments, step count) lives there too. These classes only hold
hyperparameters. A schedule gives each epoch's learning rate.

    net.fit(X, y, optimizer=dp.SGD(lr=0.1, momentum=0.9, nesterov=True, schedule="cosine"))
    net.fit(X, y, optimizer=dp.AdamW(lr=1e-3, weight_decay=0.01))
    net.fit(X, y, optimizer="adam", lr=1e-3)
"""
from __future__ import annotations

import math
from typing import Any, Dict, Optional, Union

from . import _core, vocabulary
from ._validation import finite_float, positive_int

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Schedule", "Constant", "InvScaling", "Adaptive",
           "StepDecay", "Cosine", "make_optimizer", "make_schedule", "plain_sgd_config", "OPTIMIZER_NAMES",
           "SCHEDULE_NAMES"]


# ------------------------------------------------------------------------------ schedules
class Schedule:
    """Learning rate of each epoch: `lr(base_lr, epoch, samples_seen)` with epoch counted from 0;
    `epoch_end(loss)` lets a schedule react to the epoch's training loss."""

    name = "schedule"

    def lr(self, base_lr: float, epoch: int, samples_seen: int) -> float:
        raise NotImplementedError

    def plan(self, epochs: int) -> None:
        """Told how many epochs the run has in all, before the first (Cosine's default t_max)."""

    def epoch_end(self, loss: float) -> None:
        """Called with each epoch's training loss."""

    def state_dict(self) -> Dict[str, Any]:
        return {}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore what state_dict returned (checkpoints)."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """The same learning rate every epoch."""

    name = "constant"

    def lr(self, base_lr: float, epoch: int, samples_seen: int) -> float:
        return base_lr


class InvScaling(Schedule):
    """scikit-learn's 'invscaling': base_lr / (samples_seen + 1) ** power_t, where samples_seen
    counts the training rows visited before the epoch."""

    name = "invscaling"

    def __init__(self, power_t: float = 0.5):
        self.power_t = finite_float(power_t, "power_t", nonnegative=True)

    def lr(self, base_lr: float, epoch: int, samples_seen: int) -> float:
        return base_lr / (samples_seen + 1) ** self.power_t


class Adaptive(Schedule):
    """scikit-learn's 'adaptive': the rate stays put while the training loss improves; after more
    than `patience` epochs in a row without a decrease of at least `tol`, it is divided by 5
    (`factor` = 0.2), as long as it is above `min_lr`. patience=None: only `decay()` lowers it
    (the scikit-learn estimators let their stopping rule decide when)."""

    name = "adaptive"

    def __init__(self, patience: Optional[int] = 2, tol: float = 1e-4, factor: float = 0.2,
                 min_lr: float = 1e-6):
        self.patience = None if patience is None else positive_int(patience, "patience", minimum=0)
        self.tol = finite_float(tol, "tol", nonnegative=True)
        self.factor = finite_float(factor, "factor", positive=True)
        if self.factor >= 1:
            raise ValueError(f"factor: expected a number in (0, 1), got {factor}")
        self.min_lr = finite_float(min_lr, "min_lr", nonnegative=True)
        self._scale, self._best, self._bad = 1.0, math.inf, 0
        self._rate = math.inf   # the rate last handed out

    def lr(self, base_lr: float, epoch: int, samples_seen: int) -> float:
        self._rate = base_lr * self._scale
        return self._rate

    def decay(self) -> bool:
        """Lower the rate by `factor` now; False (and no change) when it is already at or below
        min_lr."""
        if self._rate <= self.min_lr:
            return False
        self._scale *= self.factor
        self._rate *= self.factor
        return True

    def epoch_end(self, loss: float) -> None:
        if self.patience is None:
            return
        self._bad = self._bad + 1 if loss > self._best - self.tol else 0
        self._best = min(self._best, loss)
        if self._bad > self.patience:
            self.decay()
            self._bad = 0

    def state_dict(self) -> Dict[str, Any]:
        return {"scale": self._scale, "best": self._best if math.isfinite(self._best) else None, "bad": self._bad}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self._scale = float(state["scale"])
        self._best = math.inf if state["best"] is None else float(state["best"])
        self._bad = int(state["bad"])


class StepDecay(Schedule):
    """base_lr · gamma ** (epoch // step_size)."""

    name = "step"

    def __init__(self, step_size: int = 10, gamma: float = 0.1):
        self.step_size = positive_int(step_size, "step_size")
        self.gamma = finite_float(gamma, "gamma", positive=True)

    def lr(self, base_lr: float, epoch: int, samples_seen: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class Cosine(Schedule):
    """Cosine annealing from base_lr to min_lr over `t_max` epochs (default: the fit's epochs):
    min_lr + (base_lr - min_lr) · (1 + cos(π · epoch / t_max)) / 2, then min_lr."""

    name = "cosine"

    def __init__(self, t_max: Optional[int] = None, min_lr: float = 0.0):
        self.t_max = None if t_max is None else positive_int(t_max, "t_max")
        self.min_lr = finite_float(min_lr, "min_lr", nonnegative=True)
        self._default_t_max = 1

    def plan(self, epochs: int) -> None:
        self._default_t_max = max(epochs, 1)

    def lr(self, base_lr: float, epoch: int, samples_seen: int) -> float:
        t_max = self.t_max or self._default_t_max
        progress = min(epoch, t_max) / t_max
        return self.min_lr + (base_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


SCHEDULE_NAMES = {"constant": Constant, "invscaling": InvScaling, "adaptive": Adaptive,
                  "step": StepDecay, "cosine": Cosine}


def make_schedule(schedule: Union[None, str, Schedule], name: str = "lr_schedule") -> Schedule:
    if schedule is None:
        return Constant()
    if isinstance(schedule, Schedule):
        return schedule
    if isinstance(schedule, str) and schedule in SCHEDULE_NAMES:
        return SCHEDULE_NAMES[schedule]()
    raise ValueError(f"{name}: expected one of {', '.join(repr(s) for s in SCHEDULE_NAMES)} or a "
                     f"deltaprop.optimizers.Schedule, got {schedule!r}")


# ------------------------------------------------------------------------------ optimizers
def plain_sgd_config(lr: float, l2: float = 0.0) -> Any:
    """The core's OptimizerConfig of plain SGD (no momentum): its fused step."""
    cfg = _core.OptimizerConfig()
    cfg.kind = vocabulary.optimizer_kind("sgd")
    cfg.lr = lr
    cfg.l2 = l2
    return cfg


class Optimizer:
    """Hyperparameters of an update rule. clip_norm: clip the gradient's global L2 norm to this
    value before the update (None: off). schedule: a Schedule or its name."""

    kind = vocabulary.optimizer_kind("sgd")   # the core's update rule
    name = "optimizer"

    def __init__(self, lr: float, weight_decay: float, clip_norm: Optional[float],
                 schedule: Union[None, str, Schedule]):
        self.lr = finite_float(lr, "lr", positive=True)
        self.weight_decay = finite_float(weight_decay, "weight_decay", nonnegative=True)
        self.clip_norm = None if clip_norm is None else finite_float(clip_norm, "clip_norm", positive=True)
        self.schedule = make_schedule(schedule, "schedule")

    def config(self, lr: Optional[float] = None, l2: float = 0.0, l2_per_sample: bool = False) -> Any:
        """The core's OptimizerConfig for one epoch at learning rate `lr` (default self.lr)."""
        cfg = _core.OptimizerConfig()
        cfg.kind = self.kind
        cfg.lr = self.lr if lr is None else lr
        cfg.weight_decay = self.weight_decay
        cfg.l2 = l2
        cfg.l2_per_sample = l2_per_sample
        cfg.clip_norm = self.clip_norm or 0.0
        self._fill(cfg)
        return cfg

    def _fill(self, cfg: Any) -> None:
        raise NotImplementedError

    def describe(self) -> Dict[str, Any]:
        """Hyperparameters as plain values (saved in checkpoints)."""
        out = {k: v for k, v in vars(self).items() if k != "schedule"}
        out["name"] = self.name
        out["schedule"] = self.schedule.name
        return out

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum, as torch.optim.SGD:
    v = momentum·v + g; p -= lr·(nesterov ? g + momentum·v : v). weight_decay is decoupled
    (p *= 1 - lr·weight_decay, weights only); the coupled L2 penalty is fit's `l2`."""

    kind = vocabulary.optimizer_kind("sgd")
    name = "sgd"

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, clip_norm: Optional[float] = None,
                 schedule: Union[None, str, Schedule] = None):
        super().__init__(lr, weight_decay, clip_norm, schedule)
        self.momentum = finite_float(momentum, "momentum", nonnegative=True)
        if self.momentum >= 1:
            raise ValueError(f"momentum: expected a number in [0, 1), got {momentum}")
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov: expected True or False, got {nesterov!r}")
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov: Nesterov momentum needs momentum > 0")
        self.nesterov = nesterov

    def _fill(self, cfg: Any) -> None:
        cfg.momentum = self.momentum
        cfg.nesterov = self.nesterov


class Adam(Optimizer):
    """Adam as torch.optim.Adam (bias-corrected moments, eps added to sqrt(v̂)). weight_decay is
    decoupled, which makes it AdamW (torch.optim.AdamW), applied to weights only."""

    kind = vocabulary.optimizer_kind("adam")
    name = "adam"

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.0, clip_norm: Optional[float] = None,
                 schedule: Union[None, str, Schedule] = None):
        super().__init__(lr, weight_decay, clip_norm, schedule)
        for value, arg in ((beta1, "beta1"), (beta2, "beta2")):
            number = finite_float(value, arg, nonnegative=True)
            if number >= 1:
                raise ValueError(f"{arg}: expected a number in [0, 1), got {value}")
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.eps = finite_float(eps, "eps", positive=True)

    def _fill(self, cfg: Any) -> None:
        cfg.beta1, cfg.beta2, cfg.eps = self.beta1, self.beta2, self.eps


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.01, as torch.optim.AdamW)."""

    name = "adamw"

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.01, clip_norm: Optional[float] = None,
                 schedule: Union[None, str, Schedule] = None):
        super().__init__(lr, beta1, beta2, eps, weight_decay, clip_norm, schedule)


OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adam", "adamw")


def make_optimizer(optimizer: Union[str, Optimizer], lr: float) -> Optimizer:
    """An Optimizer from fit's arguments: an object is used as is; a name gets fit's lr
    ('momentum' and 'nesterov' are SGD with momentum 0.9)."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if optimizer == "sgd":
        return SGD(lr=lr)
    if optimizer in ("momentum", "nesterov"):
        return SGD(lr=lr, momentum=0.9, nesterov=optimizer == "nesterov")
    if optimizer == "adam":
        return Adam(lr=lr)
    if optimizer == "adamw":
        return AdamW(lr=lr)
    raise ValueError(f"optimizer: expected one of {', '.join(repr(o) for o in OPTIMIZER_NAMES)} or a "
                     f"deltaprop.SGD/Adam/AdamW object, got {optimizer!r}")
