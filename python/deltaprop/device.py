"""Where a model runs: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``, and arrays that already live on a
GPU (anything exposing ``__cuda_array_interface__``: PyTorch CUDA tensors, CuPy, Numba), which
the CUDA backend reads in place instead of copying."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional, Tuple

import numpy as np

__all__ = ["Device", "parse_device", "DeviceRows", "device_rows", "is_device_array", "DLPackView", "as_cuda_array"]


@dataclass(frozen=True)
class Device:
    kind: str   # "cpu" or "cuda"
    index: int  # the GPU's ordinal (0 for the CPU)

    def __str__(self) -> str:
        return "cpu" if self.kind == "cpu" else f"cuda:{self.index}"


def parse_device(device: Any) -> Device:
    """``"cpu"``, ``"cuda"`` (= ``"cuda:0"``), ``"cuda:N"`` or a Device; ValueError otherwise."""
    if isinstance(device, Device):
        return device
    text = str(device) if hasattr(device, "type") and hasattr(device, "index") else device  # torch.device
    if not isinstance(text, str):
        raise TypeError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    match = re.fullmatch(r"(cpu|cuda)(?::(\d+))?", text.strip().lower())
    if not match or (match.group(1) == "cpu" and match.group(2) not in (None, "0")):
        raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if match.group(1) == "cpu":
        return Device("cpu", 0)
    return Device("cuda", int(match.group(2) or 0))


def is_device_array(obj: Any) -> bool:
    """A GPU array: it has __cuda_array_interface__, or it is a DLPack producer on a CUDA device
    (JAX, for one)."""
    if isinstance(obj, np.ndarray):
        return False
    if hasattr(obj, "__cuda_array_interface__"):
        return True
    try:
        return hasattr(obj, "__dlpack__") and int(obj.__dlpack_device__()[0]) == _DLPACK_CUDA
    except Exception:  # noqa: BLE001 - not a DLPack producer after all
        return False


_DLPACK_CUDA = 2


class DLPackView:
    """A DLPack producer's CUDA tensor seen through __cuda_array_interface__: its capsule is kept
    (not consumed), so the producer's memory lives as long as this view."""

    def __init__(self, obj: Any, backend: Any):
        self.capsule = obj.__dlpack__()
        info = backend.describe_dlpack(self.capsule)
        if not info["typestr"]:
            raise TypeError("X: a DLPack tensor of a type deltaprop does not read (expected float32/float64, int64)")
        itemsize = np.dtype(info["typestr"]).itemsize
        strides = None if info["strides"] is None else tuple(s * itemsize for s in info["strides"])
        self.shape = tuple(info["shape"])
        self.__cuda_array_interface__ = {"shape": self.shape, "typestr": info["typestr"],
                                         "data": (info["ptr"], False), "strides": strides, "version": 3}


def as_cuda_array(obj: Any, backend: Any) -> Any:
    """`obj` itself when it speaks __cuda_array_interface__, else a DLPackView of it."""
    return obj if hasattr(obj, "__cuda_array_interface__") else DLPackView(obj, backend)


@dataclass
class DeviceRows:
    """A C-contiguous array in GPU memory, described by its interface (kept alive by `owner`)."""
    ptr: int
    shape: Tuple[int, ...]
    dtype: np.dtype
    device: int
    owner: Any


def device_rows(obj: Any, name: str, dtype: Optional[np.dtype], device_index: int, backend: Any) -> DeviceRows:
    """Describe a GPU array for the backend, or raise a clear error: wrong dtype, layout or GPU.
    Never copies: converting is the caller's explicit choice."""
    try:
        iface = obj.__cuda_array_interface__
    except Exception as exc:  # e.g. a torch tensor that requires grad
        raise TypeError(f"{name}: cannot read this GPU array in place ({exc})") from exc
    shape = tuple(int(s) for s in iface["shape"])
    typestr = np.dtype(iface["typestr"])
    if dtype is not None and typestr != dtype:
        raise TypeError(f"{name}: expected a {dtype.name} GPU array, got {typestr.name} "
                        f"(convert it on the GPU first, e.g. x.to(torch.{dtype.name}))")
    strides = iface.get("strides")
    if strides is not None:
        expected = []
        step = typestr.itemsize
        for extent in reversed(shape):
            expected.append(step)
            step *= extent
        if tuple(strides) != tuple(reversed(expected)) and int(np.prod(shape)) > 1:
            raise ValueError(f"{name}: expected a C-contiguous GPU array, got strides {tuple(strides)} "
                             "(call .contiguous() first)")
    ptr = int(iface["data"][0])
    located = backend.pointer_device(ptr) if ptr else device_index
    if located != device_index:
        where = "host memory" if located == -1 else f"cuda:{located}"
        raise ValueError(f"{name}: the array is on {where} but the model is on cuda:{device_index}; "
                         "move one of them first (no silent copies)")
    return DeviceRows(ptr, shape, typestr, device_index, obj)
