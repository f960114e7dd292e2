"""deltaprop: fast multilayer perceptrons with a C++17/OpenMP core.

    import deltaprop as dp
    net = dp.MLP([784, 256, 10], activation="relu", loss="cross_entropy")
    net.fit(X, y, epochs=10, batch_size=64, lr=0.1)
"""
from __future__ import annotations

import os
from typing import Any, Dict

# Idle OpenMP threads spin before they sleep. libgomp's default (300,000 rounds: milliseconds)
# keeps them burning the cores between calls, which starves the caller's own code and everything
# else on a busy machine; a few thousand rounds still bridge the gaps inside a training step.
# Read when the OpenMP runtime starts (loading _core below); a value set by the user wins.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")

from . import _core, cuda, kernels  # noqa: E402
from ._validation import positive_int
from .gradcheck import gradcheck
from .history import History
from .io import ModelFormatError
from .model import MLP, Layer, load
from .callbacks import EarlyStopping
from .optimizers import SGD, Adam, AdamW

__version__: str = _core.__version__

__all__ = ["MLP", "Layer", "History", "ModelFormatError", "SGD", "Adam", "AdamW", "EarlyStopping",
           "kernels", "load", "gradcheck",
           "set_num_threads", "get_num_threads", "set_simd_level", "build_info", "__version__"]


def set_num_threads(n: int) -> None:
    """Use n threads in the core's parallel kernels (default: OMP_NUM_THREADS or the cores)."""
    _core.set_num_threads(positive_int(n, "n"))


def get_num_threads() -> int:
    """Threads the core's kernels use."""
    return int(_core.get_num_threads())


def set_simd_level(level: str) -> None:
    """Use the kernels of `level` ("generic", "avx2" or "avx512"; at most what the CPU supports)
    from now on. The environment variable DELTAPROP_SIMD does the same at import time."""
    _core.set_simd_level(level)


def _describe_caches(cpu: Dict[str, Any]) -> str:
    parts = []
    for name in ("l1d", "l2", "l3"):
        c = cpu[name]
        if c["size"]:
            size = f"{c['size'] >> 20} MiB" if c["size"] >= 16 << 20 else f"{c['size'] >> 10} KiB"
            shared = f", shared by {c['shared_by']}" if c["shared_by"] > 1 else ""
            parts.append(f"{name.upper()} {size} {c['ways']}-way{shared}")
    return "; ".join(parts)


def build_info() -> Dict[str, Any]:
    """What this build can do and where it runs: version, the CPU (model, microarchitecture, the
    caches of one core), SIMD level in use (and the CPU's best), OpenMP, threads, GEMM register
    tile and cache blocks (and where they came from), the CUDA backend and its GPUs (or why none
    can be used), and the bf16 GEMM level that precision="bf16" runs on ("amx", "avx512bf16" or
    "generic") with the levels this CPU supports. DELTAPROP_SIMD=generic|avx2|avx512 lowers the
    level at import; DELTAPROP_GEMM_BLOCKS=model|MC,KC,NC replaces the cache blocks of every
    level; DELTAPROP_GEMM_ORDER=rows|columns forces the order of the blocks' tile loops (auto: from
    the L2 size); DELTAPROP_GEMM_VARIANT=intel|zen4 picks the vendor family whose GEMM choices
    the avx512 and avx2 levels use (the CPU's vendor decides by default; gemm_variant names the
    active level's: "intel", "zen4" at avx512, "zen3" at avx2); DELTAPROP_BF16=generic|avx512bf16|amx picks the bf16
    level (a SIMD level below avx512 keeps bf16 on the generic code). pin_threads: the kernels'
    OpenMP workers are pinned off their caller's CPU (DELTAPROP_PIN_THREADS=0, or OMP_PROC_BIND /
    OMP_PLACES / GOMP_CPU_AFFINITY, leave placement to the system). step_team: a training step
    runs as one parallel region of all threads, the products sharing it (DELTAPROP_STEP_TEAM=1;
    off by default: a region per product; the results are the same bits)."""
    cpu = _core.cpu_info()
    reason = _core.amx_unavailable_reason()
    return {
        "version": __version__,
        "simd": _core.simd_level(),
        "simd_max": _core.cpu_max_simd_level(),
        "openmp": bool(_core.openmp_enabled()),
        "num_threads": get_num_threads(),
        "pin_threads": bool(_core.worker_pinning()),
        "step_team": bool(_core.step_team()),
        "gemm_tile_float32": tuple(_core.gemm_tile("float32")),
        "gemm_tile_float64": tuple(_core.gemm_tile("float64")),
        "cpu": cpu["model"] or cpu["vendor"],
        "uarch": cpu["uarch"],
        "gemm_variant": _core.gemm_arch_variant(),
        "caches": _describe_caches(cpu),
        "gemm_blocks_float32": tuple(_core.gemm_blocks("float32")),
        "gemm_blocks_float64": tuple(_core.gemm_blocks("float64")),
        "gemm_blocks_from": _core.gemm_blocks_source(),
        "gemm_loop_order": _core.gemm_loop_order(),
        "bf16": _core.bf16_level(),
        "bf16_levels": list(_core.bf16_levels()),
        "bf16_tile": tuple(_core.bf16_tile()),
        **({"amx_unavailable": reason} if reason else {}),
        "cuda": cuda.is_built(),
        "cuda_devices": [f"cuda:{d['index']} {d['name']} (sm_{d['compute_capability'][0]}{d['compute_capability'][1]}, "
                         f"{d['total_memory'] >> 30} GiB)" for d in cuda.devices()] or cuda.why_unavailable(),
    }
