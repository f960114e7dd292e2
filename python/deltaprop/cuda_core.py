"""The CUDA backend behind the CPU core's method names, so the layers above (the Network wrapper,
training, io) treat both alike. Differences, by necessity: parameters live in GPU memory, so
`params()`, `weight(l)` and `bias(l)` return read-only host copies (change parameters through
`set_params`); a training set passed to `train_epoch` is uploaded once and kept on the GPU
while the same arrays keep coming (one `fit`), or read in place when it already is on the GPU.
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

import numpy as np

from . import _core
from .device import DeviceRows, device_rows, is_device_array

__all__ = ["CudaNetworkCore"]


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


class CudaNetworkCore:
    is_device = True

    def __init__(self, backend: Any, index: int, dtype: np.dtype, sizes: List[int], activation_ids: List[int],
                 loss_id: int, params: np.ndarray):
        self.backend = backend
        self.index = index
        self.dtype = np.dtype(dtype)
        self._net = getattr(backend, f"Network_{self.dtype.name}")(index, list(sizes), list(activation_ids),
                                                                   int(loss_id), np.ascontiguousarray(params))
        self._bound: Optional[Tuple[Any, ...]] = None
        self._offsets = []
        at = 0
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            self._offsets.append((at, fan_out, fan_in))
            at += fan_out * fan_in + fan_out

    # ------------------------------------------------------------------ shape and settings
    @property
    def num_params(self) -> int:
        return int(self._net.num_params)

    @property
    def sizes(self) -> List[int]:
        return list(self._net.sizes)

    @property
    def precision(self) -> str:
        return str(self._net.math)

    @precision.setter
    def precision(self, value: str) -> None:
        self._net.math = value

    @property
    def use_graphs(self) -> bool:
        return bool(self._net.use_graphs)

    @use_graphs.setter
    def use_graphs(self, value: bool) -> None:
        self._net.use_graphs = bool(value)

    @property
    def stream_data(self) -> bool:
        return bool(self._net.stream_data)

    @stream_data.setter
    def stream_data(self, value: bool) -> None:
        self._net.stream_data = bool(value)
        self._bound = None  # the next epoch binds again, in the new mode

    @property
    def streaming(self) -> bool:
        return bool(self._net.streaming)

    @property
    def epilogues(self) -> bool:
        return bool(self._net.epilogues)

    @epilogues.setter
    def epilogues(self, value: bool) -> None:
        self._net.epilogues = bool(value)

    # ------------------------------------------------------------------ parameters
    def params(self) -> np.ndarray:
        return _frozen(self._net.get_params())

    def get_params(self) -> np.ndarray:
        return self._net.get_params()

    def set_params(self, theta: np.ndarray) -> None:
        self._net.set_params(np.ascontiguousarray(theta, dtype=self.dtype))

    def weight(self, layer: int) -> np.ndarray:
        at, out, inp = self._offsets[layer]
        return _frozen(self._net.get_params()[at:at + out * inp].reshape(out, inp))

    def bias(self, layer: int) -> np.ndarray:
        at, out, inp = self._offsets[layer]
        return _frozen(self._net.get_params()[at + out * inp:at + out * inp + out])

    # ------------------------------------------------------------------ inference
    def forward(self, X: np.ndarray) -> np.ndarray:
        return self._net.forward(X, False)

    def output(self, X: np.ndarray) -> np.ndarray:
        return self._net.forward(X, True)

    def forward_device(self, X: Any, name: str, transform: bool) -> Any:
        """Inference on a GPU array, the result a DeviceArray on the same GPU (no host copy)."""
        rows = self.device_input(X, name)
        out = self.backend.DeviceArray([rows.shape[0], self.sizes[-1]], self.dtype == np.float64, self.index)
        self._net.forward_device(rows.ptr, rows.shape[0], out.ptr, transform)
        return out

    def device_input(self, X: Any, name: str) -> DeviceRows:
        rows = device_rows(X, name, self.dtype, self.index, self.backend)
        if len(rows.shape) != 2 or rows.shape[1] != self.sizes[0] or rows.shape[0] < 1:
            raise ValueError(f"{name}: expected a 2-D GPU array (n, {self.sizes[0]}) with n >= 1, "
                             f"got shape {rows.shape}")
        self.backend.synchronize(self.index)  # the producer's stream may still be writing it
        return rows

    def activations(self, X: np.ndarray) -> List[np.ndarray]:
        return list(self._net.activations(X))

    def evaluate(self, X: np.ndarray, labels: Optional[np.ndarray], values: Optional[np.ndarray]) -> Tuple[float, np.ndarray]:
        loss, logits = self._net.evaluate(X, labels, values)
        return float(loss), logits

    def evaluate_loss(self, X: np.ndarray, labels: Optional[np.ndarray], values: Optional[np.ndarray]) -> float:
        return self.evaluate(X, labels, values)[0]

    # ------------------------------------------------------------------ training
    def loss_and_grad(self, X: np.ndarray, labels: Optional[np.ndarray], values: Optional[np.ndarray],
                      l2: float, weights: Optional[np.ndarray] = None) -> Tuple[float, np.ndarray]:
        loss, grad = self._net.loss_and_grad(X, labels, values, float(l2), weights)
        return float(loss), grad

    gradient = loss_and_grad

    def train_step(self, X: np.ndarray, labels: Optional[np.ndarray], values: Optional[np.ndarray],
                   weights: Optional[np.ndarray], cfg: Any) -> float:
        return float(self._net.train_step(X, labels, values, weights, cfg))

    def train_step_sgd(self, X: np.ndarray, labels: Optional[np.ndarray], values: Optional[np.ndarray],
                       lr: float, l2: float) -> float:
        cfg = _core.OptimizerConfig()
        cfg.lr, cfg.l2 = float(lr), float(l2)
        return self.train_step(X, labels, values, None, cfg)

    def train_epoch(self, X: Any, labels: Any, values: Any, weights: Any, order: Optional[np.ndarray],
                    batch: int, cfg: Any) -> float:
        key = (X, labels, values, weights)
        if self._bound is None or any(a is not b for a, b in zip(self._bound, key)):
            self._bound = None  # a failed bind must not leave the previous data looking bound
            self._bind(X, labels, values, weights)
            self._bound = key
        return float(self._net.train_epoch_bound(order, int(batch), cfg))

    def _bind(self, X: Any, labels: Any, values: Any, weights: Any) -> None:
        if not is_device_array(X):
            self._net.bind_data(X, labels, values, weights)
            return
        rows = self.device_input(X, "X")
        n = rows.shape[0]

        def pointer(a: Any, name: str, dtype: np.dtype, shape: Tuple[int, ...]) -> int:
            if a is None:
                return 0
            desc = device_rows(a, name, dtype, self.index, self.backend)
            if desc.shape != shape:
                raise ValueError(f"{name}: expected shape {shape} on the GPU, got {desc.shape}")
            return desc.ptr

        self._net.bind_device_data(rows.ptr, pointer(labels, "y", np.dtype(np.int64), (n,)),
                                   pointer(values, "y", self.dtype, (n, self.sizes[-1])),
                                   pointer(weights, "sample_weight", self.dtype, (n,)), n)

    def release_data(self) -> None:
        self._bound = None
        self._net.release_data()

    def apply_gradient(self, grad: np.ndarray, config: Any, mass: Optional[float] = None) -> None:
        self._net.apply_gradient(np.ascontiguousarray(grad, dtype=self.dtype), config, mass)

    def save_snapshot(self) -> None:
        self._net.save_snapshot()

    def restore_snapshot(self) -> None:
        self._net.restore_snapshot()

    def params_finite(self) -> bool:
        return bool(self._net.params_finite())

    # ------------------------------------------------------------------ optimizer state
    def optimizer_state(self) -> dict:
        return dict(self._net.optimizer_state())

    def set_optimizer_state(self, steps: int, velocity: np.ndarray, m: np.ndarray, v: np.ndarray) -> None:
        as_array = lambda a: np.ascontiguousarray(a, dtype=self.dtype).reshape(-1)  # noqa: E731
        self._net.set_optimizer_state(int(steps), as_array(velocity), as_array(m), as_array(v))

    def reset_optimizer_state(self) -> None:
        self._net.reset_optimizer_state()
