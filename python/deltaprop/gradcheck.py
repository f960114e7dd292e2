"""Gradient checking: the core's analytic gradient against central differences, in float64."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ._validation import finite_float, positive_int
from .model import MLP  # gradcheck sits above the facade it checks


def gradcheck(net: MLP, X: Any, y: Any, eps: float = 1e-6, l2: float = 0.0,
              max_params: Optional[int] = None, seed: int = 0, floor: float = 1e-3,
              precision: str = "fp64") -> float:
    """Max relative error between `net.loss_and_grad` and central differences
    (L(θ + eps·e_i) − L(θ − eps·e_i)) / (2·eps), both on a float64 copy of `net`.

    A float64 tool: the copy computes in float64 whatever the model's own precision (a bf16
    model's backpropagation is checked as maths, not its rounding); precision="fp64" is the only
    value (central differences at eps = 1e-6 would drown in bf16's 4e-3 rounding).

    The error of parameter i is |g_i − n_i| / max(|g_i|, |n_i|, floor): relative for gradients
    above `floor`, absolute below it (where central differences carry ~1e-10 of round-off).
    max_params checks a random subset of that many parameters (all by default).
    """
    if precision != "fp64":
        raise ValueError(f"precision: gradcheck compares gradients in float64 only, expected 'fp64', got "
                         f"{precision!r} (bf16 products are too coarse for finite differences)")
    eps = finite_float(eps, "eps", positive=True)
    floor = finite_float(floor, "floor", positive=True)
    twin = net.network.copy(dtype="float64")
    X, labels, values = twin.check_data(X, y)
    l2 = finite_float(l2, "l2", nonnegative=True)
    _, analytic = twin.loss_and_grad(X, labels, values, l2)

    def loss(theta: np.ndarray) -> float:
        twin.set_params(theta)
        weights = sum(float(np.sum(layer.W * layer.W)) for layer in twin.layers)
        return twin.mean_loss(X, labels, values) + 0.5 * l2 * weights

    theta = twin.get_params()
    indices = np.arange(theta.size)
    if max_params is not None and positive_int(max_params, "max_params") < theta.size:
        indices = np.random.default_rng(seed).choice(theta.size, size=max_params, replace=False)
    worst = 0.0
    for i in indices:
        saved = theta[i]
        theta[i] = saved + eps
        up = loss(theta)
        theta[i] = saved - eps
        down = loss(theta)
        theta[i] = saved
        numeric = (up - down) / (2.0 * eps)
        error = abs(analytic[i] - numeric) / max(abs(analytic[i]), abs(numeric), floor)
        worst = max(worst, error)
    return float(worst)
