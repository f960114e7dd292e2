"""The microbenchmarks: deltaprop against its peers (numpy's BLAS, PyTorch, scikit-learn) on the
same machine, interleaved, with the same thread count.

    deltaprop bench NAME [options]            # pip install ".[bench]" (torch: ".[torch]")
    python -m deltaprop.bench NAME [options]

A benchmark is one module here with `main(argv=None) -> int` and one entry in BENCHMARKS. It runs
in a fresh interpreter without the OpenBLAS/OpenMP/MKL variables that would bias it (`_launch`);
a peer that is not installed is skipped with one line and the rest runs."""
from __future__ import annotations

import importlib
from typing import NamedTuple, Optional, Sequence

from ._launch import launch

__all__ = ["Benchmark", "BENCHMARKS", "run", "run_here"]


class Benchmark(NamedTuple):
    module: str   # importable, with main(argv=None) -> int
    summary: str  # one line for `deltaprop bench --help`


BENCHMARKS = {
    "gemm": Benchmark("deltaprop.bench.gemm", "GEMM GFLOP/s vs numpy's BLAS: squares and MLP layer shapes"),
    "mlp": Benchmark("deltaprop.bench.mlp", "MLP training samples/s and predict latency vs PyTorch and scikit-learn"),
    "sklearn": Benchmark("deltaprop.bench.sklearn_fit", "deltaprop.sklearn vs sklearn.neural_network fit time"),
    "gpu": Benchmark("deltaprop.bench.gpu", "CUDA backend training and inference vs PyTorch CUDA on the same GPU"),
    "compare": Benchmark("deltaprop.bench.compare", "two settings of deltaprop (blocks, variant, level, step team, "
                                                    "threads), call by call, on a step's products"),
}


def _entry(name: str) -> Benchmark:
    if name not in BENCHMARKS:
        raise ValueError(f"name: expected one of {', '.join(BENCHMARKS)}, got {name!r}")
    return BENCHMARKS[name]


def run(name: str, argv: Sequence[str] = ()) -> int:
    """Run benchmark `name` with its command-line options `argv` in a fresh interpreter; returns
    its exit status."""
    return launch(_entry(name).module, argv)


def run_here(name: str, argv: Optional[Sequence[str]] = None) -> int:
    """Run benchmark `name` in this process (it still starts a fresh one when the environment
    holds a variable that would bias it)."""
    return int(importlib.import_module(_entry(name).module).main(argv) or 0)
