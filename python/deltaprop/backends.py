"""Where a core network is made: the one place that knows which compiled class runs a network
on which device.

Everything above (network.py and up) calls only the methods every backend's network class
exposes — params, weight, bias, forward, output, activations, evaluate, evaluate_loss, gradient,
apply_gradient, train_step, train_epoch, optimizer_state, set_optimizer_state, reset_optimizer_state — so a new
backend (a CUDA network class) plugs in here and nowhere else.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import _core, vocabulary
from ._validation import choice

__all__ = ["DEVICES", "make_core"]

#: Devices a network can live on in this build.
DEVICES = ("cpu",)


def make_core(sizes: Sequence[int], hidden_activations: Sequence[str], loss: str, seed: int,
              dtype: np.dtype, device: str = "cpu") -> Any:
    """A new core network: weights initialised from `seed` (He for the ReLU family, Glorot for
    the others), optimizer state empty. Names are checked against the core's vocabulary."""
    choice(device, "device", DEVICES)
    core_class = getattr(_core, f"Network_{np.dtype(dtype).name}")
    return core_class(list(sizes), [vocabulary.activation(a) for a in hidden_activations],
                      vocabulary.loss(loss), int(seed))
