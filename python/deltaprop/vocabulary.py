"""The core's names, read once: activations, losses, optimizer kinds, and which output
activation goes with each loss.

The compiled core defines them (pybind11 enums `_core.Activation`, `_core.Loss`,
`_core.OptimizerKind` and `_core.output_activation(loss)`); everything in Python — the model,
the kernels, ONNX export, the scikit-learn estimators — asks this module rather than typing a
table of its own, so a name added to the core appears everywhere at once.
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

from . import _core
from ._validation import choice

__all__ = ["ACTIVATIONS", "LOSSES", "OPTIMIZER_KINDS", "OUTPUT_ACTIVATIONS",
           "activation", "loss", "optimizer_kind", "output_activation"]


def _members(enum: Any) -> Dict[str, Any]:
    """name -> member of a pybind11 enum, in the order of their values."""
    return dict(sorted(enum.__members__.items(), key=lambda item: int(item[1])))


_ACTIVATION = _members(_core.Activation)
_LOSS = _members(_core.Loss)
_OPTIMIZER_KIND = _members(_core.OptimizerKind)

#: Hidden-layer activation names, in the core's order.
ACTIVATIONS: Tuple[str, ...] = tuple(_ACTIVATION)
#: Loss names, in the core's order.
LOSSES: Tuple[str, ...] = tuple(_LOSS)
#: Update rules the core implements ("sgd", "adam").
OPTIMIZER_KINDS: Tuple[str, ...] = tuple(_OPTIMIZER_KIND)
#: The activation of the output layer for each loss ("softmax", "sigmoid", "identity").
OUTPUT_ACTIVATIONS: Dict[str, str] = {name: str(_core.output_activation(member))
                                      for name, member in _LOSS.items()}


def activation(name: Any, arg: str = "activation") -> Any:
    """The core's member for an activation name; ValueError naming `arg` for any other value."""
    return _ACTIVATION[choice(name, arg, ACTIVATIONS)]


def loss(name: Any, arg: str = "loss") -> Any:
    """The core's member for a loss name; ValueError naming `arg` for any other value."""
    return _LOSS[choice(name, arg, LOSSES)]


def optimizer_kind(name: str) -> Any:
    """The core's member for an update rule ("sgd" or "adam")."""
    return _OPTIMIZER_KIND[choice(name, "kind", OPTIMIZER_KINDS)]


def output_activation(loss_name: str) -> str:
    """The output layer's activation for a loss: softmax, sigmoid or identity."""
    return OUTPUT_ACTIVATIONS[choice(loss_name, "loss", LOSSES)]
