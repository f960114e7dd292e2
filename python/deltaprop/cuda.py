"""`deltaprop.cuda`: is a GPU usable, and the CUDA backend module behind ``device="cuda"``.

The backend is its own extension module (``deltaprop._cuda``), built only when CUDA and cuBLASLt
were found at install time (``DELTAPROP_CUDA=ON pip install ".[cuda]"``), so the CPU package never
depends on CUDA. Its cuBLASLt comes from the ``nvidia-cublas`` wheel or the CUDA toolkit; it is
preloaded here (as torch preloads its CUDA libraries) so no LD_LIBRARY_PATH is needed.
"""
from __future__ import annotations

import ctypes
import glob
import importlib.util
import os
from typing import Any, Dict, List, Optional

__all__ = ["is_available", "device_count", "devices", "why_unavailable", "is_built", "backend"]

_module: Any = None
_import_error: Optional[str] = None


def _preload_cublaslt() -> None:
    """Load libcublasLt from the nvidia-cublas wheel, when installed, before the backend needs it."""
    try:
        import nvidia.cu13 as wheel  # type: ignore[import-not-found]
    except ImportError:
        return
    for folder in getattr(wheel, "__path__", []):
        for path in sorted(glob.glob(os.path.join(folder, "lib", "libcublasLt.so.*"))):
            try:
                ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
                return
            except OSError:
                continue


def _load() -> Any:
    global _module, _import_error
    if _module is None and _import_error is None:
        _preload_cublaslt()
        try:
            from . import _cuda  # type: ignore[attr-defined]
            _module = _cuda
        except ImportError as exc:
            _import_error = str(exc)
    return _module


def is_built() -> bool:
    """True when this installation includes the CUDA backend."""
    return _load() is not None


def device_count() -> int:
    """Number of usable CUDA devices (0 without the backend, a driver or a GPU)."""
    module = _load()
    return int(module.device_count()) if module is not None else 0


def is_available() -> bool:
    """True when ``device="cuda"`` can be used."""
    return device_count() > 0


def why_unavailable() -> str:
    """Why ``device="cuda"`` cannot be used here ('' when it can)."""
    module = _load()
    if module is None:
        if importlib.util.find_spec(f"{__package__}._cuda") is not None:  # built, but it does not load
            return f"the CUDA backend failed to load: {_import_error}"
        return ("this deltaprop was built without CUDA; reinstall with "
                "DELTAPROP_CUDA=ON pip install \"deltaprop[cuda]\" on a machine with nvcc")
    reason = module.why_unavailable()
    return f"no usable CUDA device: {reason}" if reason else ""


def devices() -> List[Dict[str, Any]]:
    """One dict per visible GPU: index, name, compute capability, multiprocessors, memory."""
    module = _load()
    result = []
    for index in range(device_count()):
        info = dict(module.device_info(index))
        info["index"] = index
        result.append(info)
    return result


def backend() -> Any:
    """The backend module, or RuntimeError saying why ``device="cuda"`` is not possible."""
    reason = why_unavailable()
    if reason:
        raise RuntimeError(f"device: 'cuda' requested but {reason}")
    return _module
