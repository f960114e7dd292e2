"""Shared helpers for the microbenchmarks: options, peers, thread pinning, interleaved timing,
tables and --json output."""
from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import platform
import statistics
import sys
import time
from types import ModuleType
from typing import Dict, Optional, Sequence

import numpy as np

import deltaprop as dp

from ._launch import CLEARED_NOTE, launch, needs_clean_process  # noqa: F401  (used by the benchmarks)

try:  # pins numpy's BLAS (and scikit-learn's); without it numpy's BLAS is not a fair contestant
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:
    threadpool_info = threadpool_limits = None

# Where human-readable output goes: stdout, or stderr when --json owns stdout.
OUT = sys.stdout


def default_threads() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def parser(name: str, description: str) -> argparse.ArgumentParser:
    """The shared options of benchmark `name` (as `deltaprop bench` calls it)."""
    p = argparse.ArgumentParser(prog=f"deltaprop bench {name}", description=description)
    p.add_argument("--quick", action="store_true", help="small subset, short runs")
    p.add_argument("--tiny", action="store_true", help="smallest sizes, one short round: a smoke test "
                                                       "that takes seconds (the numbers mean little)")
    p.add_argument("--threads", type=int, default=None,
                   help=f"threads for every contestant (default: this machine's cores, {default_threads()})")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds per case (default 5, quick 3)")
    p.add_argument("--json", action="store_true", help="print results as a JSON list on stdout "
                                                         "(tables go to stderr)")
    p.add_argument("--save", nargs="?", const="bench/results", default=None, metavar="DIR",
                   help="also write the JSON results to DIR/<cpu-model>-<benchmark>-<date>.json "
                        "(default DIR: bench/results), for a table across machines")
    p.set_defaults(bench_name=name)
    return p


def parse(p: argparse.ArgumentParser, argv: Optional[Sequence[str]]) -> argparse.Namespace:
    args = p.parse_args(argv)
    if args.threads is None:
        args.threads = default_threads()
    if args.threads < 1:
        p.error(f"--threads: expected an integer >= 1, got {args.threads}")
    args.quick = args.quick or args.tiny
    if args.rounds is None:
        args.rounds = 1 if args.tiny else 3 if args.quick else 5
    return args


def peer(module: str) -> Optional[ModuleType]:
    """Import an optional contestant; None when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def setup(args, peers: Optional[Dict[str, str]] = None) -> Dict[str, Optional[ModuleType]]:
    """Route output, import the optional peers (module -> the name shown when it is missing),
    pin every contestant's threads and print the environment note with one "skipped: NAME not
    installed" line per missing peer. Returns module -> the module, or None when missing."""
    global OUT
    OUT = sys.stderr if args.json else sys.stdout
    found = {module: peer(module) for module in (peers or {})}
    pin_threads(args.threads, found.get("torch"))
    note(args.threads)
    for module, name in (peers or {}).items():
        if found[module] is None:
            say(f"skipped: {name} not installed")
    return found


def say(*a) -> None:
    print(*a, file=OUT, flush=True)


def pin_threads(n: int, torch: Optional[ModuleType] = None) -> None:
    """Same thread count for every contestant: deltaprop, numpy's BLAS, torch."""
    dp.set_num_threads(n)
    if threadpool_limits is not None:
        threadpool_limits(limits=n, user_api="blas")  # global, not as a context manager
    if torch is not None:
        torch.set_num_threads(n)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def env_info(threads: int) -> dict:
    blas = [{k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for d in (threadpool_info() if threadpool_info else []) if d.get("user_api") == "blas"]
    torch = sys.modules.get("torch")
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "threads": threads,
            "deltaprop": dp.build_info(), "numpy": np.__version__, "numpy_blas": blas,
            "torch": getattr(torch, "__version__", None), "python": platform.python_version(),
            "cleared_env": os.environ.get(CLEARED_NOTE)}


def note(threads: int) -> None:
    e = env_info(threads)
    say(f"# CPU: {e['cpu']} ({e['cores']} logical cores), threads per contestant: {threads}")
    info = e["deltaprop"]
    variant = f" ({info['gemm_variant']} variant)" if info.get("gemm_variant") else ""
    say(f"# deltaprop kernels: {info['simd']}{variant} for {info['uarch']}; caches {info['caches']}; GEMM blocks "
        f"(MC, KC, NC) float32 {info['gemm_blocks_float32']} float64 {info['gemm_blocks_float64']} "
        f"from the {info['gemm_blocks_from']}")
    say(f"# deltaprop.build_info(): {e['deltaprop']}")
    for b in e["numpy_blas"]:
        say(f"# numpy {e['numpy']} BLAS: {b['internal_api']} {b['version']} "
            f"kernel={b['architecture']} threads={b['num_threads']}")
    say(f"# torch {e['torch']}; python {e['python']}" if e["torch"] else f"# python {e['python']}")
    if e["cleared_env"]:
        say(f"# removed from the environment for this run: {e['cleared_env']}")
    load = os.getloadavg()[0]
    if load > 0.5:
        say(f"# WARNING: load average {load:.2f} before starting: other processes are using the "
            f"CPU, numbers (deltaprop's OpenMP barriers especially) will be noisy")


def time_per_call(fn, min_time: float) -> float:
    """Seconds per call of fn(), calling it until at least min_time has elapsed."""
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / calls


# Seconds to sleep after a contestant's sample before the next one starts, so that its idle
# worker threads stop spinning: OpenBLAS's (numpy, scikit-learn) busy-wait about 2^28 cycles
# (~0.1 s) and, measured here, slow deltaprop's OpenMP threads ~10x meanwhile; libgomp's (deltaprop,
# torch) spin a few ms.
SETTLE_BLAS, SETTLE_OMP = 0.15, 0.02


def interleaved(contestants: dict, rounds: int, min_time: float, warmup: int = 1,
                rewarm: bool = False) -> dict:
    """contestants: name -> fn, or dict(fn=..., setup=None, settle=SETTLE_OMP). Warm each up,
    then run A B C A B C ... for `rounds` rounds, each sample at least min_time seconds (plus one
    untimed call first if rewarm). setup() (e.g. set the thread count) runs untimed before each
    sample, and `settle` seconds of sleep follow it. Returns name -> seconds per call, per round."""
    spec = {k: dict({"setup": None, "settle": SETTLE_OMP}, **(v if isinstance(v, dict) else {"fn": v}))
            for k, v in contestants.items()}

    def sample(c, timed=True):
        if c["setup"]:
            c["setup"]()
        if rewarm or not timed:
            for _ in range(warmup if not timed else 1):
                c["fn"]()
        t = time_per_call(c["fn"], min_time) if timed else None
        time.sleep(c["settle"])
        return t

    for c in spec.values():
        sample(c, timed=False)
    samples = {k: [] for k in spec}
    for _ in range(rounds):
        for k, c in spec.items():
            samples[k].append(sample(c))
    return samples


class OtherLoad:
    """Context manager: the share of the machine's CPU time that other processes (and the
    hypervisor's steal) took while the block ran, from /proc/stat and /proc/self/stat. Above a
    few % the numbers are disturbed; OpenMP barriers suffer most."""
    share = None

    @staticmethod
    def _read():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        with open("/proc/self/stat") as f:
            me = f.read().rsplit(")", 1)[1].split()
        # total, idle (idle + iowait), this process (utime + stime of all its threads)
        return sum(v[:8]), v[3] + v[4], int(me[11]) + int(me[12])

    def __enter__(self):
        try:
            self._start = self._read()
        except (OSError, ValueError, IndexError):
            self._start = None
        return self

    def __exit__(self, *exc):
        if self._start is not None:
            total, idle, me = (b - a for a, b in zip(self._start, self._read()))
            if total > 0:
                self.share = max(0.0, (total - idle - me) / total)
        return False


def least_disturbed(measure, tries: int = 3, threshold: float = 0.10) -> dict:
    """Call measure() (returning a row with "other_load") again, after a pause, while other
    processes took more than `threshold` of the CPU; return the least disturbed row."""
    best = None
    for attempt in range(tries):
        if attempt:
            time.sleep(2.0)
        row = measure()
        if best is None or (row.get("other_load") or 0) < (best.get("other_load") or 0):
            best = row
        if (best.get("other_load") or 0) <= threshold:
            break
    return best


def median(xs):
    return statistics.median(xs)


def ratio(num: list, den: list) -> float:
    """Median of the per-round ratios num/den of two time lists (speed-up of den over num
    when these are times: ratio(t_ref, t_ours) > 1 means ours is faster)."""
    return statistics.median(a / b for a, b in zip(num, den))


def table(rows: list, columns: list) -> None:
    """columns: (key, header, format) triples; missing values print as '-'."""
    cells = [[h for _, h, _ in columns]]
    for r in rows:
        cells.append(["-" if r.get(k) is None else fmt.format(r[k]) for k, _, fmt in columns])
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    for j, c in enumerate(cells):
        say("  ".join(x.rjust(w) for x, w in zip(c, widths)))
        if j == 0:
            say("  ".join("-" * w for w in widths))
    say()


def emit_json(args, rows: list) -> None:
    if not args.json and not getattr(args, "save", None):
        return
    out = [dict(bench="env", **env_info(args.threads))] + rows
    if args.json:
        json.dump(out, sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
    if getattr(args, "save", None):
        name = re.sub(r"[^A-Za-z0-9]+", "-", cpu_model()).strip("-") or "cpu"
        bench = getattr(args, "bench_name", "bench")
        os.makedirs(args.save, exist_ok=True)
        stem = os.path.join(args.save, f"{name}-{bench}-{time.strftime('%Y-%m-%d')}")
        path, n = f"{stem}.json", 1
        while os.path.exists(path):  # a later run that day keeps the earlier ones
            n += 1
            path = f"{stem}-{n}.json"
        with open(path, "x") as fh:
            json.dump(out, fh, indent=1, default=str)
        say(f"# saved {path}")
