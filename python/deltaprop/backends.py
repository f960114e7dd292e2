"""Where a core network is made: the one place that knows which compiled class runs a network
on which device.

Everything above (network.py and up) calls only the methods every backend's network class
exposes — params, weight, bias, forward, output, activations, evaluate_loss, evaluate,
gradient, apply_gradient, train_step, train_epoch, optimizer_state, set_optimizer_state,
reset_optimizer_state — plus, for a device backend (``is_device``), get_params/set_params,
forward_device, snapshots and release_data (cuda_core.py). A GPU network starts from the
weights the CPU core initialises from the same seed, so a seed gives the same model on every
device.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from . import _core, cuda, vocabulary
from .cuda_core import CudaNetworkCore
from .device import Device, parse_device

__all__ = ["PRECISIONS", "make_core", "check_precision"]

#: Precisions each kind of device computes its matrix products in (the parameters, gradients and
#: optimizer state keep the model's dtype): "fp32" everywhere (IEEE products in the dtype), "bf16"
#: on the CPU (bfloat16 products summed in float32: AMX, AVX512-BF16 or portable code) and "tf32"
#: on a GPU (tensor cores). bf16 and tf32 apply to float32 models.
PRECISIONS = {"cpu": ("fp32", "bf16"), "cuda": ("fp32", "tf32")}
_FLOAT32_ONLY = ("bf16", "tf32")


def check_precision(precision: Any, device: Device, dtype: np.dtype, name: str = "precision") -> str:
    allowed = PRECISIONS[device.kind]
    if not isinstance(precision, str) or precision not in allowed:
        where = "on the CPU" if device.kind == "cpu" else "on a GPU"
        raise ValueError(f"{name}: expected one of {', '.join(repr(p) for p in allowed)} {where}, got {precision!r}")
    if precision in _FLOAT32_ONLY and np.dtype(dtype) != np.float32:
        raise ValueError(f"{name}: {precision!r} applies to float32 models, this one is {np.dtype(dtype).name}")
    return precision


def make_core(sizes: Sequence[int], hidden_activations: Sequence[str], loss: str, seed: int,
              dtype: np.dtype, device: Any = "cpu", params: Optional[np.ndarray] = None,
              precision: str = "fp32") -> Any:
    """A new core network on `device` ("cpu", "cuda", "cuda:N"): weights initialised from `seed`
    (He for the ReLU family, Glorot for the others) or copied from `params`, optimizer state
    empty. Names are checked against the core's vocabulary."""
    target = parse_device(device)
    dtype = np.dtype(dtype)
    check_precision(precision, target, dtype)
    activation_ids = [vocabulary.activation(a) for a in hidden_activations]
    loss_id = vocabulary.loss(loss)
    backend = None
    if target.kind == "cuda":
        backend = cuda.backend()  # RuntimeError saying why, before any work
        count = cuda.device_count()
        if target.index >= count:
            raise ValueError(f"device: {target} requested but this machine has {count} GPU(s)")
        _check_device_memory(backend, target, sizes, dtype)
    core = getattr(_core, f"Network_{dtype.name}")(list(sizes), activation_ids, loss_id, int(seed))
    if params is not None:
        core.params()[:] = params
    if backend is None:
        core.precision = precision
        return core
    gpu = CudaNetworkCore(backend, target.index, dtype, list(sizes), [int(a) for a in activation_ids],
                          int(loss_id), core.params())
    gpu.precision = precision
    return gpu


def _check_device_memory(backend: Any, target: Device, sizes: Sequence[int], dtype: np.dtype) -> None:
    """Parameters and their gradient must fit on the GPU: say so before the host builds them."""
    count = sum(o * i + o for i, o in zip(sizes[:-1], sizes[1:]))
    need = 2 * count * dtype.itemsize
    total = int(backend.device_info(target.index)["total_memory"])
    if need > total:
        raise MemoryError(f"not enough GPU memory for the parameters and their gradient: {need >> 20} MiB needed, "
                          f"{target} has {total >> 20} MiB")
