"""`deltaprop info` (what this build can do) and `deltaprop bench` (the microbenchmarks in the
source tree's bench/ folder)."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

__all__ = ["add_info", "add_bench", "find_bench_dir"]


def _info(args: argparse.Namespace) -> int:
    import deltaprop as dp

    for key, value in dp.build_info().items():
        print(f"{key:18s} {value}")
    return 0


def find_bench_dir() -> Optional[Path]:
    """bench/ of the source checkout this package runs from, else ./bench; None when absent."""
    candidates = [Path(__file__).resolve().parents[3] / "bench", Path.cwd() / "bench"]
    for folder in candidates:
        if (folder / "mlp.py").is_file() and (folder / "gemm.py").is_file():
            return folder
    return None


def _bench(args: argparse.Namespace) -> int:
    folder = find_bench_dir()
    if folder is None:
        raise OSError("the benchmarks are scripts in the source tree's bench/ folder, which is not "
                      "installed: run `deltaprop bench` from a deltaprop checkout")
    passed: List[str] = []
    if args.quick:
        passed.append("--quick")
    if args.json:
        passed.append("--json")
    if args.threads is not None:
        passed += ["--threads", str(args.threads)]
    names = ["gemm", "mlp"] if args.which == "all" else [args.which]
    for name in names:
        code = subprocess.call([sys.executable, str(folder / f"{name}.py"), *passed], env=dict(os.environ))
        if code != 0:
            return code
    return 0


def add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="version, SIMD level, OpenMP threads, CUDA")
    p.set_defaults(run=_info)


def add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run the microbenchmarks (GEMM, MLP training) from bench/",
                       description="Run bench/gemm.py and/or bench/mlp.py of a source checkout.")
    p.add_argument("which", nargs="?", choices=["all", "gemm", "mlp"], default="all")
    p.add_argument("--quick", action="store_true", help="small subset, short runs")
    p.add_argument("--json", action="store_true", help="results as JSON on standard output")
    p.add_argument("--threads", type=int, default=None, help="threads for every contestant")
    p.set_defaults(run=_bench)
