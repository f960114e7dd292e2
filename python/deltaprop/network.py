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

import math
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import vocabulary
from ._locks import GuardedNetwork, ReadWriteLock
from ._validation import (all_finite, check_finite, check_fits_in_memory, choice, float_array, positive_int,
                          resolve_dtype, to_numpy, value_range)
from .backends import PRECISIONS, check_precision, make_core
from .device import as_cuda_array, is_device_array, parse_device

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


class DeviceLayer(Layer):
    """A layer of a network on a GPU: `W` and `b` are read-only host copies, fetched when read
    (change parameters with set_params: a write to a copy would be lost silently otherwise)."""

    def __init__(self, core: Any, index: int, activation: str):
        self._core, self._index, self.activation = core, index, activation

    W = property(lambda self: self._core.weight(self._index))
    b = property(lambda self: self._core.bias(self._index))


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


def _per_call(precision: Optional[str]) -> tuple:
    """The core's trailing precision argument: none for the network's own precision (the only
    one a GPU core takes)."""
    return () if precision is None else (precision,)


_NUMBER = (float, int)  # plain Python numbers (bool excluded: type() is exact)
_DEVICE_SNAPSHOT = object()  # stands for the copy a GPU network keeps of its own parameters


def _host_only(X: Any, what: str) -> None:
    if is_device_array(X):
        raise TypeError(f"X: {what} takes host (numpy) arrays; GPU arrays go to fit, forward, predict and "
                        "predict_proba (copy it to the host first)")


class Network:
    """A core network with its architecture, behind a readers/writer lock.

    sizes: widths of every layer, input first. hidden_activations: one name per hidden layer.
    loss: cross_entropy | mse | binary_cross_entropy | poisson (it fixes the output activation). dtype:
    float32 or float64. seed: weight initialisation. device: "cpu", "cuda" or "cuda:N".
    precision: "fp32", "bf16" (float32 models on the CPU: bfloat16 products, float32 sums) or
    "tf32" (float32 products on a GPU's tensor cores). training_state is not kept here: training
    owns it (training/state.py).
    """

    def __init__(self, sizes: Sequence[int], hidden_activations: Sequence[str], loss: str = "cross_entropy",
                 dtype: Any = "float32", seed: int = 0, device: Any = "cpu", precision: str = "fp32"):
        self.sizes = layer_sizes(sizes)
        self.hidden_activations = hidden_activation_names(list(hidden_activations), len(self.sizes) - 2)
        self.loss = choice(loss, "loss", vocabulary.LOSSES)
        self.output_activation = vocabulary.output_activation(self.loss)
        self.dtype = resolve_dtype(dtype)
        self.seed = _seed(seed)
        target = parse_device(device)
        self.precision = check_precision(precision, target, self.dtype)
        self.lock = ReadWriteLock()
        self._adopt_core(make_core(self.sizes, self.hidden_activations, self.loss, self.seed, self.dtype, target,
                                   precision=self.precision), str(target))

    def _adopt_core(self, core: Any, device: str) -> None:
        self._core = GuardedNetwork(core, self.lock)
        self.device = device
        self.on_device = bool(getattr(core, "is_device", False))
        # The live flat view of a CPU network (never handed out); a GPU network has none.
        self._params = None if self.on_device else self._core.params()
        acts = self.hidden_activations + [self.output_activation]
        if self.on_device:
            self.layers = [DeviceLayer(core, i, acts[i]) for i in range(len(self.sizes) - 1)]
        else:
            self.layers = [Layer(self._core.weight(i), self._core.bias(i), acts[i]) for i in range(len(self.sizes) - 1)]

    def to(self, device: Any, precision: Optional[str] = None) -> None:
        """Move the parameters and the optimizer state to `device` (the model stays usable on
        failure: nothing changes until the new core exists)."""
        target = parse_device(device)
        if precision is None:  # keep it where the target computes in it (tf32 is GPU-only)
            precision = self.precision if self.precision in PRECISIONS[target.kind] else "fp32"
        precision = check_precision(precision, target, self.dtype)
        if str(target) == self.device:
            if precision != self.precision:
                with self.lock.write:
                    self._core.core.precision = precision
                self.precision = precision
            return
        with self.lock.write:
            raw = self._core.core
            params = raw.get_params() if self.on_device else self._params.copy()
            state = raw.optimizer_state()
            core = make_core(self.sizes, self.hidden_activations, self.loss, self.seed, self.dtype, target,
                             params=params, precision=precision)
            core.set_optimizer_state(int(state["steps"]), *[np.ascontiguousarray(state[k], dtype=self.dtype)
                                                             for k in ("velocity", "adam_m", "adam_v")])
            self._adopt_core(core, str(target))
            self.precision = precision

    def set_precision(self, precision: Any) -> None:
        """Compute the matrix products in `precision` from now on, where the network is (see
        PRECISIONS in backends.py); the parameters are not touched."""
        self.to(self.device, precision)

    def inference_precision(self, precision: Any) -> Optional[str]:
        """None (the network's own precision) or a checked per-call one: on the CPU "fp32" or
        "bf16" (float32); a GPU network computes in its own precision only."""
        if precision is None:
            return None
        precision = check_precision(precision, parse_device(self.device), self.dtype)
        if self.on_device:
            if precision != self.precision:
                raise ValueError(f"precision: a model on {self.device} predicts in its own precision "
                                 f"({self.precision!r}); change it with .to({self.device!r}, {precision!r})")
            return None
        return precision

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
                       self.seed, self.device, self.precision if dtype is None else "fp32")
        twin.set_params(self.get_params())
        return twin

    # ----------------------------------------------------------------- checked inputs
    def check_inputs(self, X: Any, name: str = "X") -> np.ndarray:
        """X as a C-contiguous (n >= 1, sizes[0]) array of finite values in the network's dtype.
        A GPU array (``__cuda_array_interface__``) passes through to a GPU network, which reads
        it in place after checking its dtype, shape and device."""
        if type(X) is np.ndarray and X.dtype == self.dtype and X.ndim == 2 and X.flags.c_contiguous \
                and X.shape[0] > 0 and X.shape[1] == self.sizes[0]:
            check_finite(X, name)  # already in shape: one-sample latency is a few microseconds
            return X
        if is_device_array(X):
            X = self._as_cuda_array(X, name)
            self._check_device_array(X, name)
            return X
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

    def _as_cuda_array(self, X: Any, name: str) -> Any:
        if not self.on_device:
            raise TypeError(f"{name}: a GPU array was given to a model on the CPU; move the model with "
                            f".to('cuda') or copy the array to the host (no silent copies)")
        return as_cuda_array(X, self._core.core.backend)

    def _check_device_array(self, X: Any, name: str) -> None:
        if not self.on_device:
            raise TypeError(f"{name}: a GPU array was given to a model on the CPU; move the model with "
                            f".to('cuda') or copy the array to the host (no silent copies)")
        self._core.core.device_input(X, name)  # dtype, layout, shape and device, or a clear error

    def check_targets(self, y: Any, n: int, name: str = "y") -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        """(class labels, None) or (None, target matrix (n, out)) as the core wants them."""
        if is_device_array(y):  # on the GPU: shapes and dtypes are checked when it is bound
            if not self.on_device:
                raise TypeError(f"{name}: a GPU array was given to a model on the CPU")
            y = self._as_cuda_array(y, name)
            labels = self.loss == "cross_entropy" and len(y.__cuda_array_interface__["shape"]) == 1
            return (y, None) if labels else (None, y)
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
            lo, hi = value_range(arr)
            if lo < 0 or hi >= out:
                raise ValueError(f"{name}: class indices must lie in [0, {out - 1}], got values in [{lo}, {hi}]")
            return np.ascontiguousarray(arr, dtype=np.int64), None
        values = float_array(arr, name, self.dtype, allow_int=True)
        if values.ndim == 1 and out == 1:
            values = values.reshape(n, 1)
        if values.shape != (n, out):
            raise ValueError(f"{name}: expected shape ({n}, {out}), got {arr.shape}")
        check_finite(values, name)
        if self.loss == "poisson" and (values < 0).any():
            raise ValueError(f"{name}: expected counts or rates >= 0 for poisson, got values down to {values.min()}")
        if self.loss not in ("mse", "poisson") and ((values < 0).any() or (values > 1).any()):
            raise ValueError(f"{name}: expected targets in [0, 1] for {self.loss}, got values in "
                             f"[{values.min()}, {values.max()}]")
        return None, values

    def check_data(self, X: Any, y: Any, names: Tuple[str, str] = ("X", "y")
                   ) -> Tuple[np.ndarray, Optional[np.ndarray], Optional[np.ndarray]]:
        """(X, labels, values): checked inputs and targets."""
        X = self.check_inputs(X, names[0])
        if is_device_array(X) != is_device_array(y):
            raise TypeError(f"{names[0]}, {names[1]}: give both on the GPU or both on the host")
        labels, values = self.check_targets(y, int(X.shape[0]), names[1])
        return X, labels, values

    # ----------------------------------------------------------------- inference (shared lock)
    # `precision`: None (the network's own) or a per-call one, checked by inference_precision.
    def forward(self, X: np.ndarray, precision: Optional[str] = None) -> np.ndarray:
        """Logits (n, sizes[-1]): the last layer's output before its activation."""
        if is_device_array(X):
            return self._core.forward_device(X, "X", False)
        check_fits_in_memory(X.shape[0] * self.sizes[-1], self.dtype.itemsize, "X", "the output")
        return self._core.forward(X, *_per_call(precision))

    def output(self, X: np.ndarray, precision: Optional[str] = None) -> np.ndarray:
        """The network's output (after softmax / sigmoid / identity), (n, sizes[-1])."""
        if is_device_array(X):
            return self._core.forward_device(X, "X", True)
        check_fits_in_memory(X.shape[0] * self.sizes[-1], self.dtype.itemsize, "X", "the output")
        return self._core.output(X, *_per_call(precision))

    def activations(self, X: np.ndarray, precision: Optional[str] = None) -> List[np.ndarray]:
        """a(1) … a(L), a(l) of shape (n, sizes[l])."""
        _host_only(X, "activations")
        check_fits_in_memory(X.shape[0] * sum(self.sizes[1:]), self.dtype.itemsize, "X", "the activations")
        return list(self._core.activations(X, *_per_call(precision)))

    def mean_loss(self, X: np.ndarray, labels: Optional[np.ndarray], values: Optional[np.ndarray],
                  precision: Optional[str] = None) -> float:
        """The mean loss, without any L2 term."""
        _host_only(X, "the loss")
        return float(self._core.evaluate_loss(X, labels, values, *_per_call(precision)))

    def evaluate(self, X: np.ndarray, labels: Optional[np.ndarray], values: Optional[np.ndarray],
                 precision: Optional[str] = None) -> Dict[str, float]:
        """{"loss": mean loss (without L2)} plus "accuracy" for the classification losses, from one
        forward pass."""
        _host_only(X, "evaluate")
        check_fits_in_memory(X.shape[0] * self.sizes[-1], self.dtype.itemsize, "X", "the output")
        loss, logits = self._core.evaluate(X, labels, values, *_per_call(precision))
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
        _host_only(X, "loss_and_grad")
        loss, grad = self._core.gradient(X, labels, values, l2, weights)
        return float(loss), grad

    def tree_gradient(self, X: np.ndarray, labels: Optional[np.ndarray], values: Optional[np.ndarray],
                      weights: Optional[np.ndarray], masses: np.ndarray, micro_batch: int, first: int, total: int,
                      out: np.ndarray, stats: np.ndarray, bounds: Optional[np.ndarray] = None,
                      places: Optional[np.ndarray] = None, mass_in_backprop: bool = False) -> None:
        """The gradient sums of the micro-batches first, first + 1, ... (`micro_batch` rows each
        of X, the last may hold fewer) of a batch of `total` micro-batches, added in the fixed tree
        of deltaprop.distributed.tree, in one core call: into `out` (the network's dtype, reused
        by the caller) the sums of the largest whole subtrees inside those micro-batches (rows of
        num_params, or segment s of node j at places[s] + j·(bounds[s+1] - bounds[s])); each
        micro-batch's (loss sum, mass) into stats (micro-batches, 2). masses: each micro-batch's
        rows or weight sum (float64). Bitwise the same as loss_and_grad per micro-batch, times
        its mass, added in the tree. mass_in_backprop: each micro-batch's mass folded into
        backpropagation instead (no pass over the gradient; equal to rounding only)."""
        _host_only(X, "tree_gradient")
        if self.on_device:
            raise TypeError("tree_gradient: computes on the host; this network is on a GPU")
        self._core.tree_gradient(X, labels, values, weights, masses, micro_batch, first, total, out, stats,
                                 bounds, places, mass_in_backprop)

    def apply_gradient_sum(self, grad_sum: np.ndarray, config: Any, mass: float) -> None:
        """apply_gradient(grad_sum / mass, config, mass) without a copy: grad_sum (the network's
        dtype) is divided in place and is scratch afterwards; mass > 0."""
        if self.on_device:
            grad_sum /= grad_sum.dtype.type(mass)
            self._core.apply_gradient(grad_sum, config, mass)
            return
        self._core.apply_gradient_sum(grad_sum, config, mass)

    def apply_gradient_sum_part(self, grad_part: np.ndarray, start: int, config: Any, mass: float,
                                addend: Optional[np.ndarray] = None) -> bool:
        """apply_gradient_sum on the parameters [start, start + len(grad_part)) alone, from their
        part of the sum (grad_part, + addend where given: the sum's last addition, rounded on its
        own, fused into the update), when the update is element by element (plain SGD, no L2 term
        for this batch): they get the bits of the whole update, so processes can each update a
        part and exchange parameters. Counts the step; returns False and changes nothing otherwise."""
        if self.on_device:
            raise TypeError("apply_gradient_sum_part: updates on the host; this network is on a GPU")
        return bool(self._core.apply_gradient_sum_part(grad_part, start, config, mass, addend))

    def apply_gradient(self, grad: np.ndarray, config: Any, mass: Optional[float] = None) -> None:
        """One optimizer step from `grad`, the gradient of the data loss alone (loss_and_grad with
        l2 = 0, e.g. summed across processes): the core adds config's L2 term (over `mass`, the
        batch's rows or weight sum, when l2 is per sample), clips, decays and updates, exactly as
        train_step would."""
        self._core.apply_gradient(grad, config, mass)

    def fast_sgd_step(self, X: Any, y: Any, lr: Any, l2: Any) -> Optional[float]:
        """model.train_step's common call without the general checks: a C-contiguous ndarray X
        of this network's dtype and width, int64 class labels (cross-entropy), plain numbers, a
        host network. Still checked, in one pass of the core each: X finite, labels in range,
        lr > 0 and l2 >= 0 finite. None: anything else (the checked path then words the error).
        At small batches the general checks cost as much as a tenth of the step."""
        if (type(X) is not np.ndarray or type(y) is not np.ndarray or type(lr) not in _NUMBER
                or type(l2) not in _NUMBER or self.loss != "cross_entropy" or self.on_device):
            return None
        if (X.dtype != self.dtype or X.ndim != 2 or X.shape[1] != self.sizes[0] or not X.flags.c_contiguous
                or y.dtype != np.int64 or y.shape != (X.shape[0],) or not y.flags.c_contiguous or X.shape[0] == 0):
            return None
        if not (math.isfinite(lr) and lr > 0 and math.isfinite(l2) and l2 >= 0):
            return None
        lo, hi = value_range(y)
        if lo < 0 or hi >= self.sizes[-1] or not all_finite(X):
            return None
        return float(self._core.train_step_sgd(X, y, None, float(lr), float(l2)))

    def train_step(self, X: np.ndarray, labels: Optional[np.ndarray], values: Optional[np.ndarray],
                   weights: Optional[np.ndarray], config: Any) -> float:
        """One optimizer step on one batch (config: the core's OptimizerConfig); the batch loss
        before the update."""
        _host_only(X, "train_step")
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
            return self._core.core.get_params() if self.on_device else self._params.copy()

    def set_params(self, theta: Any, *, allow_nonfinite: bool = False) -> None:
        """Overwrite all parameters from a flat vector in get_params() order (NaN and inf are
        refused unless allow_nonfinite, for optimizers that probe such points)."""
        theta = float_array(theta, "theta", self.dtype, allow_int=True)
        if theta.ndim != 1 or theta.shape[0] != self.num_params:
            raise ValueError(f"theta: expected a flat vector of {self.num_params} parameters, got shape {theta.shape}")
        if not allow_nonfinite:
            check_finite(theta, "theta")
        with self.lock.write:
            if self.on_device:
                self._core.core.set_params(theta)
            else:
                self._params[:] = theta

    @contextmanager
    def writable_params(self) -> Iterator[np.ndarray]:
        """The live flat parameter vector (get_params() order) under the write lock, for a caller
        that fills parts of it in place (the data-parallel parameter exchange): no copy."""
        if self.on_device:
            raise TypeError("writable_params: the parameters live on a GPU")
        with self.lock.write:
            yield self._params

    def params_finite(self) -> bool:
        """True when no parameter is NaN or inf (read in place: no copy)."""
        with self.lock.read:
            return self._core.core.params_finite() if self.on_device else all_finite(self._params)

    def snapshot(self) -> Any:
        """The parameters as they are now, for `restore` (on a GPU the copy stays on the GPU)."""
        if self.on_device:
            self._core.save_snapshot()
            return _DEVICE_SNAPSHOT
        return self.get_params()

    def restore(self, snapshot: Any) -> None:
        """Back to the parameters of `snapshot` (the latest one taken, for a GPU network)."""
        if snapshot is _DEVICE_SNAPSHOT:
            self._core.restore_snapshot()
        else:
            self.set_params(snapshot, allow_nonfinite=True)

    def core_for_options(self) -> Any:
        """The raw GPU core, for its diagnostic switches (graphs, epilogues), taken under the lock."""
        with self.lock.write:
            return self._core.core

    def release_training_data(self) -> None:
        """Free what a GPU network keeps of the training set between epochs (the end of a fit)."""
        if self.on_device:
            self._core.release_data()

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
