"""A stand-in for the CUDA backend module (deltaprop._cuda) built on the CPU core, so the Python
layers above a GPU network (devices, moving models, read-only layer copies, snapshots, training-set
binding, the estimators' device round trip) are tested on machines without a GPU. It mirrors the
backend's method names; it is not a model of its numerics (those are tested on a GPU)."""
from __future__ import annotations

import types

import numpy as np

from deltaprop import _core


class FakeNetwork:
    stream_data = False
    streaming = False

    def __init__(self, device, sizes, acts, loss, params, dtype="float32"):
        self.cpu = getattr(_core, f"Network_{dtype}")(sizes, acts, loss, 0)
        self.cpu.params()[:] = params
        self.num_params, self.sizes, self.device = self.cpu.num_params, list(sizes), device
        self.math, self.use_graphs, self.epilogues = "fp32", True, True
        self.snapshot = None
        self.data = None

    def get_params(self): return self.cpu.params().copy()
    def set_params(self, theta): self.cpu.params()[:] = theta
    def forward(self, X, transform): return self.cpu.output(X) if transform else self.cpu.forward(X)
    def activations(self, X): return self.cpu.activations(X)
    def evaluate(self, X, labels, values): return self.cpu.evaluate(X, labels, values)
    def loss_and_grad(self, X, labels, values, l2, weights): return self.cpu.gradient(X, labels, values, l2, weights)
    def train_step(self, X, labels, values, weights, cfg): return self.cpu.train_step(X, labels, values, weights, cfg)
    def apply_gradient(self, grad, cfg, mass): self.cpu.apply_gradient(grad, cfg, mass)
    def bind_data(self, X, labels, values, weights): self.data = (X, labels, values, weights)
    def release_data(self): self.data = None
    def train_epoch_bound(self, order, batch, cfg): return self.cpu.train_epoch(*self.data, order, batch, cfg)
    def optimizer_state(self): return self.cpu.optimizer_state()
    def set_optimizer_state(self, *state): self.cpu.set_optimizer_state(*state)
    def reset_optimizer_state(self): self.cpu.reset_optimizer_state()
    def save_snapshot(self): self.snapshot = self.get_params()
    def restore_snapshot(self): self.set_params(self.snapshot)
    def params_finite(self): return bool(np.isfinite(self.get_params()).all())


def module() -> types.SimpleNamespace:
    return types.SimpleNamespace(
        Network_float32=lambda *a: FakeNetwork(*a, dtype="float32"),
        Network_float64=lambda *a: FakeNetwork(*a, dtype="float64"),
        device_count=lambda: 1, why_unavailable=lambda: "", synchronize=lambda index: None,
        pointer_device=lambda ptr: 0, runtime_version=lambda: 13000, cublaslt_version=lambda: 130100,
        device_info=lambda index: {"name": "Stand-in GPU", "compute_capability": (9, 0), "multiprocessors": 1,
                                   "total_memory": 8 << 30})
