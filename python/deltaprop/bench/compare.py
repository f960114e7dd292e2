"""Two settings of deltaprop against each other on this machine, call by call.

    deltaprop bench compare --a blocks=table --b blocks=model [--nets 784,512,512,10] [--batches 32,128]
    settings: blocks=table|model|MC,KC,NC  variant=auto|intel|zen4|zen3  order=auto|rows|columns
              simd=generic|avx2|avx512  step_team=0|1  threads=N

Each timed call under setting A is followed by one under B (each after an untimed call that warms
it), so both see the same machine state; the result is the median of the per-pair ratios with a
95% bootstrap interval. On a shared VM whose speed drifts by 2x within minutes, rounds of many
calls per setting can still differ by +-5% from the drift alone; pairs of adjacent calls resolve
about +-0.5%. Measured per network and batch: every product of a training step (forward, weight
gradient, delta; through deltaprop.kernels.gemm, as the step calls them) and train_step itself.
"""
from __future__ import annotations

import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

import deltaprop as dp
from deltaprop import _core

from . import _common as C

SETTINGS = ("blocks", "variant", "order", "simd", "step_team", "threads")


def parse_setting(text: str) -> Tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or key not in SETTINGS or not value:
        raise ValueError(f"setting: expected KEY=VALUE with KEY one of {', '.join(SETTINGS)}, got {text!r}")
    return key, value


def apply(setting: Tuple[str, str]) -> None:
    key, value = setting
    if key == "blocks":
        _core.set_gemm_blocks(value)
    elif key == "variant":
        _core.set_gemm_variant(value)
    elif key == "order":
        _core.set_gemm_loop_order(value)
    elif key == "simd":
        dp.set_simd_level(value)
    elif key == "step_team":
        _core.set_step_team(value not in ("0", "off", "false"))
    else:
        dp.set_num_threads(int(value))


def paired(fn: Callable[[], object], a: Tuple[str, str], b: Tuple[str, str], pairs: int,
           rng: np.random.Generator) -> dict:
    """Median seconds per call under a and b, and the speed-up of b (t_a / t_b) with its 95%
    bootstrap interval."""
    clock = time.perf_counter
    ta, tb = np.empty(pairs), np.empty(pairs)
    for i in range(pairs):
        apply(a)
        fn()
        t0 = clock()
        fn()
        ta[i] = clock() - t0
        apply(b)
        fn()
        t0 = clock()
        fn()
        tb[i] = clock() - t0
    r = ta / tb
    boot = np.median(rng.choice(r, (300, r.size)), axis=1)
    return {"a_us": float(np.median(ta)) * 1e6, "b_us": float(np.median(tb)) * 1e6,
            "speedup": float(np.median(r)), "low": float(np.percentile(boot, 2.5)),
            "high": float(np.percentile(boot, 97.5)), "pairs": pairs}


def step_products(sizes: List[int], batch: int, rng: np.random.Generator) -> Dict[str, Callable[[], object]]:
    """The products a training step of `sizes` at `batch` rows runs, as deltaprop.kernels.gemm
    calls on arrays of those shapes (the weight update: beta = 1)."""
    def randn(*shape):
        return rng.standard_normal(shape).astype(np.float32)
    calls = {}
    for layer in range(len(sizes) - 1):
        fan_in, fan_out = sizes[layer], sizes[layer + 1]
        X, W, dZ = randn(batch, fan_in), randn(fan_out, fan_in), randn(batch, fan_out)
        Z, dX, W_new = np.empty((batch, fan_out), np.float32), np.empty((batch, fan_in), np.float32), W.copy()
        name = f"layer {layer + 1} {fan_in}->{fan_out}"
        calls[f"{name} fwd"] = lambda X=X, W=W, Z=Z: dp.kernels.gemm(X, W, trans_b=True, out=Z)
        calls[f"{name} dW"] = lambda X=X, dZ=dZ, W=W_new: dp.kernels.gemm(dZ, X, trans_a=True, alpha=-1e-3, beta=1.0, out=W)
        if layer:
            calls[f"{name} dX"] = lambda dZ=dZ, W=W, dX=dX: dp.kernels.gemm(dZ, W, out=dX)
    return calls


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = C.parser("compare", __doc__.split("\n\n")[0])
    p.add_argument("--a", required=True, help="the reference setting, KEY=VALUE")
    p.add_argument("--b", required=True, help="the setting compared with it, KEY=VALUE")
    p.add_argument("--nets", default="784,512,512,10", help="networks, ';'-separated layer widths")
    p.add_argument("--batches", default="32,128", help="batch sizes, comma-separated")
    p.add_argument("--pairs", type=int, default=None, help="pairs of calls per case (default 300, quick 60)")
    args = C.parse(p, argv)
    try:
        a, b = parse_setting(args.a), parse_setting(args.b)
        nets = [[int(w) for w in net.split(",")] for net in args.nets.split(";")]
        batches = [int(x) for x in args.batches.split(",")]
    except ValueError as e:
        p.error(str(e))
    if any(len(net) < 2 or min(net) < 1 for net in nets) or min(batches) < 1:
        p.error("--nets / --batches: expected positive integers, a network of 2 widths or more")
    pairs = args.pairs or (5 if args.tiny else 60 if args.quick else 300)
    C.setup(args)
    try:  # a bad value is refused here, with the core's words
        apply(b)
        apply(a)
    except (ValueError, TypeError) as e:
        p.error(f"--a / --b: {e}")
    C.say(f"# A: {args.a}   B: {args.b}   ({pairs} pairs of calls per case; speed-up = t_A / t_B)")
    rng = np.random.default_rng(0)
    rows = []
    for sizes in nets:
        for batch in batches:
            cases = step_products(sizes, batch, rng)
            X = rng.standard_normal((batch, sizes[0])).astype(np.float32)
            y = rng.integers(0, sizes[-1], batch)
            net = dp.MLP(sizes, seed=0)
            cases["train_step"] = lambda net=net, X=X, y=y: net.train_step(X, y, lr=1e-3)
            for name, fn in cases.items():
                row = {"bench": "compare", "a": args.a, "b": args.b, "net": str(sizes), "batch": batch,
                       "case": name, **paired(fn, a, b, pairs, rng)}
                rows.append(row)
    C.table(rows, [("net", "network", "{}"), ("batch", "batch", "{}"), ("case", "case", "{}"),
                   ("a_us", "A µs", "{:.1f}"), ("b_us", "B µs", "{:.1f}"), ("speedup", "B speed-up", "{:.3f}"),
                   ("low", "95% low", "{:.3f}"), ("high", "95% high", "{:.3f}")])
    C.emit_json(args, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
