"""`Network`: the bottom of deltaprop's Python side, the one object that holds a core network.

The package is layered so that imports only go down, never in a circle:

    model.py (MLP, the user's facade)        sklearn.py, gradcheck.py, cli/
        |            |             |
    training/     io.py       onnx_export.py        (each works on a Network)
        |            |             |
    network.py (Network: core object, lock, parameters, inference, gradients, optimizer state)
        |
    backends.py (make_core: the one place a core network is made), vocabulary.py, _locks.py,
    _validation.py, _core

A Network owns the core object behind its readers/writer lock and is the only code that touches
it: parameter views (`layers`, `get_params`, `set_params`) stay here, so a backend whose
parameters are not numpy memory (CUDA) changes this file and backends.py only. Its methods take
arrays already checked by `check_inputs` / `check_targets` / `check_data` (C-contiguous, of the
network's dtype and shape), which is what the layers above call first.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import vocabulary
from ._locks import GuardedNetwork, ReadWriteLock
from ._validation import (all_finite, check_finite, check_fits_in_memory, choice, float_array, positive_int,
                          resolve_dtype, to_numpy)
from .backends import make_core

__all__ = ["Network", "Layer", "layer_sizes", "hidden_activation_names"]


class Layer:
    """One dense layer: `W` (fan_out, fan_in) and `b` (fan_out,) are writable views of the
    network's parameters; writing to them changes the model."""

    def __init__(self, W: np.ndarray, b: np.ndarray, activation: str):
        self.W = W
        self.b = b
        self.activation = activation

    def __repr__(self) -> str:
        return f"Layer(in={self.W.shape[1]}, out={self.W.shape[0]}, activation={self.activation!r})"


def layer_sizes(sizes: Any) -> List[int]:
    """The widths of every layer, input first: at least two, each an integer >= 1."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise TypeError(f"sizes: expected a list of layer widths, got {sizes!r}")
    if len(sizes) < 2:
        raise ValueError(f"sizes: expected at least 2 layer widths (input and output), got {list(sizes)!r}")
    return [positive_int(s, f"sizes[{i}]") for i, s in enumerate(sizes)]


def hidden_activation_names(activation: Union[str, Sequence[str]], hidden: int) -> List[str]:
    """One activation name per hidden layer from a name (checked even when there is no hidden
    layer) or a list of `hidden` names."""
    if isinstance(activation, str):
        return [choice(activation, "activation", vocabulary.ACTIVATIONS)] * hidden
    if not isinstance(activation, (list, tuple)):
        raise TypeError(f"activation: expected a name or a list of names, got {activation!r}")
    if len(activation) != hidden:
        raise ValueError(f"activation: expected {hidden} names (one per hidden layer), got {len(activation)}")
    return [choice(a, "activation", vocabulary.ACTIVATIONS) for a in activation]


def _seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected an integer >= 0, got {seed!r}")
    return int(seed)


class Network:
    """A core network with its architecture, behind a readers/writer lock.

    sizes: widths of every layer, input first. hidden_activations: one name per hidden layer.
    loss: cross_entropy | mse | binary_cross_entropy (it fixes the output activation). dtype:
    float32 or float64. seed: weight initialisation. training_state is not kept here: training
    owns it (training/state.py).
    """

    def __init__(self, sizes: Sequence[int], hidden_activations: Sequence[str], loss: str = "cross_entropy",
                 dtype: Any = "float32", seed: int = 0, device: str = "cpu"):
        self.sizes = layer_sizes(sizes)
        self.hidden_activations = hidden_activation_names(list(hidden_activations), len(self.sizes) - 2)
        self.loss = choice(loss, "loss", vocabulary.LOSSES)
        self.output_activation = vocabulary.output_activation(self.loss)
        self.dtype = resolve_dtype(dtype)
        self.seed = _seed(seed)
        self.device = device
        self._core = GuardedNetwork(make_core(self.sizes, self.hidden_activations, self.loss, self.seed,
                                              self.dtype, device))
        self.lock: ReadWriteLock = self._core.lock
        self._params = self._core.params()  # the live flat view; never handed out
        acts = self.hidden_activations + [self.output_activation]
        self.layers = [Layer(self._core.weight(i), self._core.bias(i), acts[i]) for i in range(len(self.sizes) - 1)]

    @property
    def num_params(self) -> int:
        return int(self._core.num_params)

    def same_architecture(self, other: "Network") -> bool:
        return (self.sizes, self.hidden_activations, self.loss, self.dtype) == \
            (other.sizes, other.hidden_activations, other.loss, other.dtype)

    def describe(self) -> str:
        return (f"sizes {self.sizes}, activations {self.hidden_activations}, loss {self.loss!r}, "
                f"dtype {self.dtype.name}")

    def copy(self, dtype: Any = None) -> "Network":
        """An independent network with these parameters (optionally in another dtype); its
        optimizer state starts empty."""
        twin = Network(self.sizes, self.hidden_activations, self.loss, self.dtype if dtype is None else dtype,
                       self.seed, self.device)
        with self.lock.read:
            twin._params[:] = self._params
        return twin

    # ----------------------------------------------------------------- checked inputs
    def check_inputs(self, X: Any, name: str = "X") -> np.ndarray:
        """X as a C-contiguous (n >= 1, sizes[0]) array of finite values in the network's dtype."""
        X = float_array(X, name, self.dtype, allow_int=True)
        if X.ndim == 1 and self.sizes[0] > 1 and X.shape[0] == self.sizes[0]:
            raise ValueError(f"{name}: expected a 2-D array (n, {self.sizes[0]}); for one sample use X.reshape(1, -1)")
        if X.ndim != 2:
            raise ValueError(f"{name}: expected a 2-D array (n, {self.sizes[0]}), got shape {X.shape}")
        if X.shape[0] == 0:
            raise ValueError(f"{name}: expected at least 1 row, got shape {X.shape}")
        if X.shape[1] != self.sizes[0]:
            raise ValueError(f"{name}: expected {self.sizes[0]} features (columns), got {X.shape[1]} (shape {X.shape})")
        check_finite(X, name)
        return X

    def check_targets(self, y: Any, n: int, name: str = "y") -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        """(class labels, None) or (None, target matrix (n, out)) as the core wants them."""
        arr = to_numpy(y, name)
        out = self.sizes[-1]
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"{name}: expected numeric targets, got dtype {arr.dtype.name!r}")
        if arr.shape[:1] != (n,):
            raise ValueError(f"{name}: expected {n} rows (one per row of X), got shape {arr.shape}")
        if self.loss == "cross_entropy" and arr.ndim == 1:
            if arr.dtype.kind == "f":
                check_finite(arr, name)
                if (arr != np.round(arr)).any():
                    raise ValueError(f"{name}: expected integer class indices 0..{out - 1}, got non-integral values")
            lo, hi = arr.min(), arr.max()
            if lo < 0 or hi >= out:
                raise ValueError(f"{name}: class indices must lie in [0, {out - 1}], got values in [{lo}, {hi}]")
            return np.ascontiguousarray(arr, dtype=np.int64), None
        values = float_array(arr, name, self.dtype, allow_int=True)
        if values.ndim == 1 and out == 1:
            values = values.reshape(n, 1)
        if values.shape != (n, out):
            raise ValueError(f"{name}: expected shape ({n}, {out}), got {arr.shape}")
        check_finite(values, name)
        if self.loss != "mse" and ((values < 0).any() or (values > 1).any()):
            raise ValueError(f"{name}: expected targets in [0, 1] for {self.loss}, got values in "
                             f"[{values.min()}, {values.max()}]")
        return None, values

    def check_data(self, X: Any, y: Any, names: Tuple[str, str] = ("X", "y")
                   ) -> Tuple[np.ndarray, Optional[np.ndarray], Optional[np.ndarray]]:
        """(X, labels, values): checked inputs and targets."""
        X = self.check_inputs(X, names[0])
        labels, values = self.check_targets(y, X.shape[0], names[1])
        return X, labels, values

    # ----------------------------------------------------------------- inference (shared lock)
    def forward(self, X: np.ndarray) -> np.ndarray:
        """Logits (n, sizes[-1]): the last layer's output before its activation."""
        check_fits_in_memory(X.shape[0] * self.sizes[-1], self.dtype.itemsize, "X", "the output")
        return self._core.forward(X)

    def output(self, X: np.ndarray) -> np.ndarray:
        """The network's output (after softmax / sigmoid / identity), (n, sizes[-1])."""
        check_fits_in_memory(X.shape[0] * self.sizes[-1], self.dtype.itemsize, "X", "the output")
        return self._core.output(X)

    def activations(self, X: np.ndarray) -> List[np.ndarray]:
        """a(1) … a(L), a(l) of shape (n, sizes[l])."""
        check_fits_in_memory(X.shape[0] * sum(self.sizes[1:]), self.dtype.itemsize, "X", "the activations")
        return list(self._core.activations(X))

    def mean_loss(self, X: np.ndarray, labels: Optional[np.ndarray], values: Optional[np.ndarray]) -> float:
        """The mean loss, without any L2 term."""
        return float(self._core.evaluate_loss(X, labels, values))

    def evaluate(self, X: np.ndarray, labels: Optional[np.ndarray], values: Optional[np.ndarray]) -> Dict[str, float]:
        """{"loss": mean loss (without L2)} plus "accuracy" for the classification losses, from one
        forward pass."""
        check_fits_in_memory(X.shape[0] * self.sizes[-1], self.dtype.itemsize, "X", "the output")
        loss, logits = self._core.evaluate(X, labels, values)
        result = {"loss": float(loss)}
        if self.loss == "cross_entropy":
            truth = labels if labels is not None else np.argmax(values, axis=1)
            result["accuracy"] = float(np.mean(np.argmax(logits, axis=1) == truth))
        elif self.loss == "binary_cross_entropy":
            result["accuracy"] = float(np.mean((logits > 0) == (values > 0.5)))
        return result

    # ----------------------------------------------------------------- gradients and steps (exclusive)
    def loss_and_grad(self, X: np.ndarray, labels: Optional[np.ndarray], values: Optional[np.ndarray],
                      l2: float = 0.0, weights: Optional[np.ndarray] = None) -> Tuple[float, np.ndarray]:
        """Mean (weighted) loss + l2/2 · Σ‖W‖² and its gradient, flat, in get_params() order."""
        loss, grad = self._core.gradient(X, labels, values, l2, weights)
        return float(loss), grad

    def apply_gradient(self, grad: np.ndarray, config: Any, mass: Optional[float] = None) -> None:
        """One optimizer step from `grad`, the gradient of the data loss alone (loss_and_grad with
        l2 = 0, e.g. summed across processes): the core adds config's L2 term (over `mass`, the
        batch's rows or weight sum, when l2 is per sample), clips, decays and updates, exactly as
        train_step would."""
        self._core.apply_gradient(grad, config, mass)

    def train_step(self, X: np.ndarray, labels: Optional[np.ndarray], values: Optional[np.ndarray],
                   weights: Optional[np.ndarray], config: Any) -> float:
        """One optimizer step on one batch (config: the core's OptimizerConfig); the batch loss
        before the update."""
        return float(self._core.train_step(X, labels, values, weights, config))

    def train_epoch(self, X: np.ndarray, labels: Optional[np.ndarray], values: Optional[np.ndarray],
                    weights: Optional[np.ndarray], order: Optional[np.ndarray], batch_size: int, config: Any) -> float:
        """A step per batch over all rows in `order` (None: row order), inside the core with the
        GIL released; Ctrl-C is honoured between batches. The mean loss of the epoch."""
        return float(self._core.train_epoch(X, labels, values, weights, order, batch_size, config))

    # ----------------------------------------------------------------- parameters
    def get_params(self) -> np.ndarray:
        """A copy of all parameters as one flat vector: layer by layer, W row-major, then b."""
        with self.lock.read:
            return self._params.copy()

    def set_params(self, theta: Any, *, allow_nonfinite: bool = False) -> None:
        """Overwrite all parameters from a flat vector in get_params() order (NaN and inf are
        refused unless allow_nonfinite, for optimizers that probe such points)."""
        theta = float_array(theta, "theta", self.dtype, allow_int=True)
        if theta.ndim != 1 or theta.shape[0] != self.num_params:
            raise ValueError(f"theta: expected a flat vector of {self.num_params} parameters, got shape {theta.shape}")
        if not allow_nonfinite:
            check_finite(theta, "theta")
        with self.lock.write:
            self._params[:] = theta

    def params_finite(self) -> bool:
        """True when no parameter is NaN or inf (read in place: no copy)."""
        with self.lock.read:
            return all_finite(self._params)

    # ----------------------------------------------------------------- optimizer state (in the core)
    def optimizer_state(self) -> Dict[str, Any]:
        """{"steps", "velocity", "adam_m", "adam_v"}: copies; a vector is empty until used."""
        return self._core.optimizer_state()

    def set_optimizer_state(self, state: Dict[str, Any]) -> None:
        """Restore what optimizer_state() returned."""
        vectors = [np.ascontiguousarray(state[key], dtype=self.dtype) for key in ("velocity", "adam_m", "adam_v")]
        self._core.set_optimizer_state(int(state["steps"]), *vectors)

    def reset_optimizer_state(self) -> None:
        self._core.reset_optimizer_state()
