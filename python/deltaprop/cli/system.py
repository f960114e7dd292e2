"""`deltaprop info` (what this build can do) and `deltaprop bench` (the microbenchmarks of
`deltaprop.bench`, each in a fresh interpreter)."""
from __future__ import annotations

import argparse
from typing import List

from ..bench import BENCHMARKS, run

__all__ = ["add_info", "add_bench"]


def _info(args: argparse.Namespace) -> int:
    import deltaprop as dp

    for key, value in dp.build_info().items():
        print(f"{key:18s} {value}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    passed: List[str] = []
    if args.quick:
        passed.append("--quick")
    if args.json:
        passed.append("--json")
    if args.threads is not None:
        passed += ["--threads", str(args.threads)]
    passed += args.options
    names = list(BENCHMARKS) if args.which == "all" else [args.which]
    for name in names:
        code = run(name, passed)
        if code != 0:
            return code
    return 0


def add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="version, SIMD level, OpenMP threads, CUDA")
    p.set_defaults(run=_info)


def add_bench(sub: argparse._SubParsersAction) -> None:
    listing = "\n".join(f"  {name:8s} {b.summary}" for name, b in BENCHMARKS.items())
    p = sub.add_parser("bench", help=f"run the microbenchmarks ({', '.join(BENCHMARKS)})",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Run a microbenchmark (default: all of them, one after the other) in a fresh "
                                   "interpreter without OpenBLAS/OpenMP/MKL thread variables. Peers that are not "
                                   "installed (torch, scikit-learn, threadpoolctl) are skipped with a line.",
                       epilog=f"benchmarks:\n{listing}\n\n`deltaprop bench NAME --help` lists a benchmark's "
                              f"own options (--tiny, --rounds, --dtype, ...).")
    p.add_argument("which", nargs="?", choices=["all", *BENCHMARKS], default="all", metavar="NAME",
                   help=f"all (default) or one of {', '.join(BENCHMARKS)}")
    p.add_argument("--quick", action="store_true", help="small subset, short runs")
    p.add_argument("--json", action="store_true", help="results as JSON on standard output")
    p.add_argument("--threads", type=int, default=None, help="threads for every contestant (default: all cores)")
    p.add_argument("options", nargs=argparse.REMAINDER, help="further options, passed to the benchmark")
    p.set_defaults(run=_bench)
