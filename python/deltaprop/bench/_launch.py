"""Running a benchmark in a fresh interpreter without the environment variables that fix a BLAS
kernel or a thread pool's size: OpenBLAS reads them when numpy is first imported and OpenMP
runtimes when they start, so a process that has them set cannot undo them. Every benchmark then
gives each contestant the same thread count itself (--threads)."""
from __future__ import annotations

import os
import subprocess
import sys
from typing import Dict, Mapping, Optional, Sequence

# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE make a current numpy pick a slower kernel on some machines;
# the *_NUM_THREADS / OMP_THREAD_LIMIT caps would keep a contestant below the --threads it is given.
CLEARED = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS",
           "OMP_NUM_THREADS", "OMP_THREAD_LIMIT", "MKL_NUM_THREADS")
# Set in the child: what was removed ("NAME=value ..."), for the benchmark's header.
CLEARED_NOTE = "DELTAPROP_BENCH_CLEARED"

__all__ = ["CLEARED", "CLEARED_NOTE", "clean_environment", "launch", "needs_clean_process"]


def needs_clean_process(env: Mapping[str, str] = os.environ) -> bool:
    return any(name in env for name in CLEARED)


def clean_environment(env: Mapping[str, str]) -> Dict[str, str]:
    """A copy of `env` without CLEARED, noting what was removed under CLEARED_NOTE."""
    removed = [f"{name}={env[name]}" for name in CLEARED if name in env]
    clean = {k: v for k, v in env.items() if k not in CLEARED}
    if removed:
        clean[CLEARED_NOTE] = " ".join(removed)
    return clean


def launch(module: str, argv: Optional[Sequence[str]] = None) -> int:
    """Run `python -m module *argv` (argv None: this process's arguments) in a clean environment;
    returns its exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    return subprocess.call([sys.executable, "-m", module, *argv], env=clean_environment(os.environ))
