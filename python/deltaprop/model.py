"""`deltaprop.MLP`: a multilayer perceptron whose parameters live in the C++ core.

The network is z(l) = W(l) a(l-1) + b(l), a(l) = g(z(l)) (row-major batches: Z = X Wᵀ + b); the
output activation follows from the loss (softmax for cross_entropy, sigmoid for
binary_cross_entropy, identity for mse).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from ._locks import GuardedNetwork
from ._validation import (check_finite, check_fits_in_memory, choice, finite_float, float_array, positive_int, resolve_dtype,
                          to_numpy)
from .history import History
from .kernels import ACTIVATIONS

LOSSES = {"cross_entropy": 0, "mse": 1, "binary_cross_entropy": 2}

__all__ = ["MLP", "Layer", "LOSSES"]


class Layer:
    """One dense layer: `W` (fan_out, fan_in) and `b` (fan_out,) are writable views of the
    network's parameters; writing to them changes the model."""

    def __init__(self, W: np.ndarray, b: np.ndarray, activation: str):
        self.W = W
        self.b = b
        self.activation = activation

    def __repr__(self) -> str:
        return f"Layer(in={self.W.shape[1]}, out={self.W.shape[0]}, activation={self.activation!r})"


class MLP:
    """A fully-connected network trained by backpropagation.

    Parameters
    ----------
    sizes : widths of every layer, input first, e.g. ``[784, 256, 10]`` (at least two, each >= 1).
    activation : hidden-layer activation, one of identity, sigmoid, tanh, relu, leaky_relu, or a
        list with one name per hidden layer.
    loss : ``cross_entropy`` (labels: integer class indices 0..C-1, or probability rows),
        ``mse`` (0.5 · mean squared error) or ``binary_cross_entropy`` (targets 0/1, on logits).
    dtype : ``float32`` (default) or ``float64``.
    seed : weight initialisation seed (He for the ReLU family, Glorot for the others).
    """

    def __init__(self, sizes: Sequence[int], activation: Union[str, Sequence[str]] = "relu",
                 loss: str = "cross_entropy", dtype: Any = "float32", seed: int = 0):
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
            raise TypeError(f"sizes: expected a list of layer widths, got {sizes!r}")
        if len(sizes) < 2:
            raise ValueError(f"sizes: expected at least 2 layer widths (input and output), got {list(sizes)!r}")
        self.sizes = [positive_int(s, f"sizes[{i}]") for i, s in enumerate(sizes)]
        hidden = len(self.sizes) - 2
        if isinstance(activation, str):
            acts = [activation] * hidden
        elif isinstance(activation, (list, tuple)):
            acts = list(activation)
            if len(acts) != hidden:
                raise ValueError(f"activation: expected {hidden} names (one per hidden layer), got {len(acts)}")
        else:
            raise TypeError(f"activation: expected a name or a list of names, got {activation!r}")
        self.hidden_activations = [choice(a, "activation", list(ACTIVATIONS)) for a in acts]
        self.activation = activation if isinstance(activation, str) else list(acts)
        self.loss = choice(loss, "loss", list(LOSSES))
        self.dtype = resolve_dtype(dtype)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed: expected an integer >= 0, got {seed!r}")
        self.seed = int(seed)
        core_class = getattr(_core, f"Network_{self.dtype.name}")
        self._net = GuardedNetwork(core_class(self.sizes, [ACTIVATIONS[a] for a in self.hidden_activations],
                                              LOSSES[self.loss], self.seed))
        self._bind_views()
        # The name of each output (a 1-D str array) when the labels were names, else None.
        self.classes: Optional[np.ndarray] = None

    def _bind_views(self) -> None:
        out_act = {"cross_entropy": "softmax", "mse": "identity", "binary_cross_entropy": "sigmoid"}[self.loss]
        acts = self.hidden_activations + [out_act]
        self._params = self._net.params()
        self.layers = [Layer(self._net.weight(i), self._net.bias(i), acts[i]) for i in range(len(self.sizes) - 1)]

    # ----------------------------------------------------------------- inputs and targets
    def _inputs(self, X: Any, name: str = "X") -> np.ndarray:
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

    def _targets(self, y: Any, n: int, name: str = "y") -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
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

    def _data(self, X: Any, y: Any) -> Tuple[np.ndarray, Optional[np.ndarray], Optional[np.ndarray]]:
        X = self._inputs(X, "X")
        labels, values = self._targets(y, X.shape[0], "y")
        return X, labels, values

    # ----------------------------------------------------------------- inference
    def forward(self, X: Any) -> np.ndarray:
        """Output of the last layer before its activation (the logits), shape (n, sizes[-1])."""
        X = self._inputs(X)
        check_fits_in_memory(X.shape[0] * self.sizes[-1], self.dtype.itemsize, "X", "the output")
        return self._net.forward(X)

    def activations(self, X: Any) -> List[np.ndarray]:
        """Every layer's output a(1) … a(L) for inspecting the learned representation; a(l) has
        shape (n, sizes[l]); the last is the network's output (after softmax/sigmoid)."""
        X = self._inputs(X)
        check_fits_in_memory(X.shape[0] * sum(self.sizes[1:]), self.dtype.itemsize, "X", "the activations")
        return list(self._net.activations(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (softmax rows for cross_entropy, sigmoid per output for
        binary_cross_entropy); for mse, the predicted values. Shape (n, sizes[-1])."""
        X = self._inputs(X)
        check_fits_in_memory(X.shape[0] * self.sizes[-1], self.dtype.itemsize, "X", "the output")
        return self._net.output(X)

    def predict(self, X: Any) -> np.ndarray:
        """cross_entropy: int64 labels (n,); binary_cross_entropy: int64 0/1 (n, out);
        mse: predicted values (n, out)."""
        if self.loss == "cross_entropy":
            return np.argmax(self.forward(X), axis=1).astype(np.int64)
        if self.loss == "binary_cross_entropy":
            return (self.forward(X) > 0).astype(np.int64)
        return self.predict_proba(X)

    def evaluate(self, X: Any, y: Any) -> Dict[str, float]:
        """{"loss": mean loss (without L2)} plus "accuracy" for the classification losses."""
        X, labels, values = self._data(X, y)
        result = {"loss": float(self._net.evaluate_loss(X, labels, values))}
        if self.loss != "mse":
            logits = self._net.forward(X)
            if self.loss == "cross_entropy":
                truth = labels if labels is not None else np.argmax(values, axis=1)
                result["accuracy"] = float(np.mean(np.argmax(logits, axis=1) == truth))
            else:
                result["accuracy"] = float(np.mean((logits > 0) == (values > 0.5)))
        return result

    # ----------------------------------------------------------------- training
    def loss_and_grad(self, X: Any, y: Any, l2: float = 0.0) -> Tuple[float, np.ndarray]:
        """Mean loss + l2/2 · Σ‖W‖² and its gradient as one flat vector in get_params() order."""
        X, labels, values = self._data(X, y)
        l2 = finite_float(l2, "l2", nonnegative=True)
        loss, grad = self._net.loss_and_grad(X, labels, values, l2)
        return float(loss), grad

    def train_step(self, X: Any, y: Any, lr: float = 0.01, l2: float = 0.0) -> float:
        """One fused minibatch SGD step (forward, loss, backward, W -= lr·(dW + l2·W),
        b -= lr·db). Returns the batch loss before the update."""
        X, labels, values = self._data(X, y)
        lr = finite_float(lr, "lr", positive=True)
        l2 = finite_float(l2, "l2", nonnegative=True)
        return float(self._net.train_step_sgd(X, labels, values, lr, l2))

    def fit(self, X: Any, y: Any, epochs: int = 10, batch_size: int = 32, optimizer: str = "sgd",
            lr: float = 0.01, l2: float = 0.0, validation_data: Optional[Tuple[Any, Any]] = None,
            shuffle: bool = True, seed: Optional[int] = None, verbose: bool = False, **options: Any) -> History:
        """Minibatch training; see `deltaprop.training.fit` (options: validation_split,
        lr_schedule, early_stopping, callbacks, sample_weight, class_weight, warm_start,
        checkpoint, checkpoint_every, resume)."""
        from .training import fit
        return fit(self, X, y, epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr, l2=l2,
                   validation_data=validation_data, shuffle=shuffle, seed=seed, verbose=verbose, **options)

    def partial_fit(self, X: Any, y: Any, **options: Any) -> History:
        """One more epoch over (X, y), continuing the optimizer state of the previous fit."""
        return self.fit(X, y, **{"epochs": 1, **options, "warm_start": True})

    # ----------------------------------------------------------------- parameters
    @property
    def num_params(self) -> int:
        return int(self._net.num_params)

    def get_params(self) -> np.ndarray:
        """A copy of all parameters as one flat vector: layer by layer, W row-major, then b."""
        with self._net.lock.read:
            return self._params.copy()

    def set_params(self, theta: Any) -> None:
        """Overwrite all parameters from a flat vector in get_params() order."""
        theta = float_array(theta, "theta", self.dtype, allow_int=True)
        if theta.ndim != 1 or theta.shape[0] != self.num_params:
            raise ValueError(f"theta: expected a flat vector of {self.num_params} parameters, got shape {theta.shape}")
        check_finite(theta, "theta")
        with self._net.lock.write:
            self._params[:] = theta

    def copy(self, dtype: Any = None) -> "MLP":
        """An independent copy (optionally converted to another dtype)."""
        twin = MLP(self.sizes, self.activation, self.loss, self.dtype if dtype is None else dtype, self.seed)
        with self._net.lock.read:
            twin._params[:] = self._params
        twin.classes = None if self.classes is None else self.classes.copy()
        return twin

    def save(self, path: Any) -> None:
        """Write the model to `path` (an .npz file, no pickle), atomically."""
        from .io import save
        save(self, path)

    def to_onnx(self, path: Any = None) -> Any:
        """Export as an ONNX graph (Gemm + activations; output as predict_proba) and write it to
        `path` when given; returns the onnx ModelProto. Needs the `onnx` extra."""
        from .onnx_export import to_onnx
        return to_onnx(self, path)

    def __getstate__(self) -> dict:
        return {"sizes": self.sizes, "activation": self.activation, "loss": self.loss,
                "dtype": self.dtype.name, "seed": self.seed, "params": self.get_params(), "classes": self.classes}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["sizes"], state["activation"], state["loss"], state["dtype"], state["seed"])
        self._params[:] = state["params"]
        self.classes = state.get("classes")

    def __repr__(self) -> str:
        return (f"MLP(sizes={self.sizes}, activation={self.activation!r}, loss={self.loss!r}, "
                f"dtype={self.dtype.name!r}, params={self.num_params})")
