"""GFLOP/s of deltaprop.kernels.gemm vs numpy `@` (OpenBLAS), interleaved, same thread count.

    deltaprop bench gemm [--quick|--tiny] [--json] [--threads N] [--dtype float32|float64|both]
                         [--precision fp32|bf16]
    (full float32: ~4 min on 2 cores)

--precision bf16: deltaprop's bf16 GEMM (float32 in and out, operands rounded to bf16 while
packed) vs PyTorch's bf16 matmul on bf16 tensors (converted before timing: its inputs are bf16
already, ours float32), float32 only; the error is against float64 products of the bf16-rounded
inputs.
"""
from __future__ import annotations

import itertools
from typing import Optional, Sequence

import numpy as np

from deltaprop import kernels as K

from . import _common as C

TRANS = {"NN": (False, False), "NT": (False, True), "TN": (True, False), "TT": (True, True)}


def cases(quick: bool, tiny: bool = False):
    """(label, trans, m, n, k): C (m, n) = op(A) (m, k) · op(B) (k, n)."""
    sq, sq_trans = ([256, 1024], ["NN", "NT"]) if quick else ([256, 512, 1024, 2048], list(TRANS))
    batches = [1, 32, 128] if quick else [1, 8, 32, 128, 256]
    widths = [(784, 512), (512, 512)] if quick else list(itertools.product([784, 512, 4096], repeat=2))
    if tiny:
        sq, sq_trans, batches, widths = [64], ["NN"], [8], [(64, 32)]
    for s, t in itertools.product(sq, sq_trans):
        yield "square", t, s, s, s
    # A dense layer fan_in -> fan_out on a batch of M rows (DESIGN.md conventions):
    for M, (fin, fout) in itertools.product(batches, widths):
        lab = f"mlp M={M} {fin}->{fout}"
        yield lab + " fwd", "NT", M, fout, fin     # Z = X Wᵀ:  X (M, fin), W (fout, fin)
        yield lab + " dW", "TN", fout, fin, M      # dW = dZᵀ X: dZ (M, fout), X (M, fin)
        yield lab + " dX", "NN", M, fin, fout      # dX = dZ W:  dZ (M, fout), W (fout, fin)


def bf16_cases(quick: bool, tiny: bool = False):
    """The bf16 shapes: squares up to 2048 and the layers of the bf16 MLP benchmark
    ([784,512,512,10] and [1024,4096,4096,10]) at batch 32, 256 and 1024."""
    if tiny:
        yield from cases(quick, tiny)
        return
    sq, sq_trans = ([1024, 2048], ["NN", "NT"]) if quick else ([256, 512, 1024, 2048], list(TRANS))
    for s, t in itertools.product(sq, sq_trans):
        yield "square", t, s, s, s
    layers = ([(256, 784, 512), (1024, 4096, 4096)] if quick else
              [(M, fin, fout) for M in (32, 256, 1024) for fin, fout in ((784, 512), (512, 512), (1024, 4096), (4096, 4096))])
    for M, fin, fout in layers:
        lab = f"mlp M={M} {fin}->{fout}"
        yield lab + " fwd", "NT", M, fout, fin
        yield lab + " dW", "TN", fout, fin, M
        yield lab + " dX", "NN", M, fin, fout


def bf16_case(label, t, m, n, k, args, rng):
    """deltaprop's bf16 GEMM vs torch's bf16 matmul (when installed)."""
    ta, tb = TRANS[t]
    A = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    B = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    out_dp = np.empty((m, n), np.float32)
    contestants = {"deltaprop": lambda: K.gemm(A, B, trans_a=ta, trans_b=tb, out=out_dp, precision="bf16")}
    if args.torch is not None:
        torch = args.torch
        a, b = torch.from_numpy(A).bfloat16(), torch.from_numpy(B).bfloat16()
        opA, opB = (a.t() if ta else a), (b.t() if tb else b)
        contestants["torch"] = lambda: torch.matmul(opA, opB)
    with C.OtherLoad() as load:
        s = C.interleaved(contestants, args.rounds, min_time=0.005 if args.tiny else 0.02 if args.quick else 0.03,
                          rewarm=True)
    a64, b64 = [_bf16_values(x) for x in (A, B)]
    ref = (a64.T if ta else a64) @ (b64.T if tb else b64)
    err = float(np.max(np.abs(out_dp - ref)) / (np.max(np.abs(ref)) + 1e-30))
    flop = 2.0 * m * n * k
    row = {"bench": "gemm", "case": label, "trans": t, "m": m, "n": n, "k": k, "dtype": "float32",
           "precision": "bf16", "threads": args.threads,
           "deltaprop_gflops": flop / C.median(s["deltaprop"]) / 1e9, "rel_err": err, "other_load": load.share}
    if "torch" in s:
        row.update(torch_gflops=flop / C.median(s["torch"]) / 1e9, ratio=C.ratio(s["torch"], s["deltaprop"]))
    return row


def _bf16_values(x: np.ndarray) -> np.ndarray:
    """float32 values rounded to bf16 (nearest even), in float64."""
    u = x.view(np.uint32).astype(np.uint64)
    return (((u + 0x7FFF + ((u >> 16) & 1)) >> 16 << 16).astype(np.uint32)).view(np.float32).astype(np.float64)


def bench_case(label, t, m, n, k, dtype, args, rng):
    ta, tb = TRANS[t]
    A = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)   # stored as the kernel wants
    B = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    opA, opB = (A.T if ta else A), (B.T if tb else B)                 # numpy gets .T views
    out_dp, out_np = np.empty((m, n), dtype), np.empty((m, n), dtype)
    run_dp = lambda: K.gemm(A, B, trans_a=ta, trans_b=tb, out=out_dp)  # noqa: E731
    run_np = lambda: np.matmul(opA, opB, out=out_np)                  # noqa: E731
    contestants = {"deltaprop": run_dp}
    if args.numpy:
        contestants["numpy"] = {"fn": run_np, "settle": C.SETTLE_BLAS}
    with C.OtherLoad() as load:
        s = C.interleaved(contestants, args.rounds, min_time=0.005 if args.tiny else 0.02 if args.quick else 0.03,
                          rewarm=True)
    if not args.numpy:
        run_np()  # untimed: the reference for the error column
    err = float(np.max(np.abs(out_dp - out_np)) / (np.max(np.abs(out_np)) + 1e-30))
    flop = 2.0 * m * n * k
    row = {"bench": "gemm", "case": label, "trans": t, "m": m, "n": n, "k": k,
           "dtype": np.dtype(dtype).name, "threads": args.threads,
           "deltaprop_gflops": flop / C.median(s["deltaprop"]) / 1e9, "rel_err": err,
           "other_load": load.share}
    if args.numpy:
        row.update(numpy_gflops=flop / C.median(s["numpy"]) / 1e9, ratio=C.ratio(s["numpy"], s["deltaprop"]))
    return row


def main(argv: Optional[Sequence[str]] = None) -> int:
    if C.needs_clean_process():
        return C.launch(__spec__.name, argv)
    p = C.parser("gemm", __doc__.split("\n\n")[0])
    p.add_argument("--dtype", choices=["float32", "float64", "both"], default=None,
                   help="default float32; both takes twice as long")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                   help="bf16: deltaprop's bf16 GEMM vs torch's bf16 matmul (float32 arrays)")
    args = C.parse(p, argv)
    if args.precision == "bf16":
        return bf16_main(args)
    C.setup(args)
    # numpy itself is a dependency; timing it fairly needs its BLAS pinned to --threads.
    args.numpy = C.threadpool_limits is not None
    if not args.numpy:
        C.say("skipped: numpy's BLAS (threadpoolctl not installed, which gives it the same thread count)")
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype or "float32"]
    rng = np.random.default_rng(0)
    cols = [("case", "case", "{}"), ("trans", "op", "{}"), ("m", "M", "{}"), ("n", "N", "{}"),
            ("k", "K", "{}"), ("deltaprop_gflops", "deltaprop GF/s", "{:.1f}"),
            ("numpy_gflops", "numpy GF/s", "{:.1f}"), ("ratio", "dp/numpy", "{:.2f}"),
            ("rel_err", "rel err", "{:.1e}"), ("other_load", "others", "{:.0%}")]
    rows = []
    for dtype in dtypes:
        C.say(f"\n## gemm {dtype}, {args.threads} threads, medians of {args.rounds} interleaved rounds")
        part = [C.least_disturbed(lambda: bench_case(*c, dtype, args, rng), tries=1 if args.quick else 3)
                for c in cases(args.quick, args.tiny)]
        tol = 1e-4 if dtype == "float32" else 1e-12
        for r in part:
            if r["rel_err"] > tol:
                C.say(f"WARNING: {r['case']} {r['trans']} {dtype}: deltaprop differs from numpy "
                      f"(max rel err {r['rel_err']:.1e})")
        C.table(part, cols)
        rows += part
    C.emit_json(args, rows)
    return 0


def bf16_main(args) -> int:
    args.torch = C.setup(args, {"torch": "torch"})["torch"]
    rng = np.random.default_rng(0)
    cols = [("case", "case", "{}"), ("trans", "op", "{}"), ("m", "M", "{}"), ("n", "N", "{}"),
            ("k", "K", "{}"), ("deltaprop_gflops", "deltaprop GF/s", "{:.1f}"),
            ("torch_gflops", "torch GF/s", "{:.1f}"), ("ratio", "dp/torch", "{:.2f}"),
            ("rel_err", "rel err", "{:.1e}"), ("other_load", "others", "{:.0%}")]
    C.say(f"\n## gemm bf16 products (deltaprop level {dp_bf16_level()}), {args.threads} threads, "
          f"medians of {args.rounds} interleaved rounds")
    rows = [C.least_disturbed(lambda: bf16_case(*c, args, rng), tries=1 if args.quick else 3)
            for c in bf16_cases(args.quick, args.tiny)]
    for r in rows:
        if r["rel_err"] > 1e-5:
            C.say(f"WARNING: {r['case']} {r['trans']} bf16: deltaprop differs from the bf16 reference "
                  f"(max rel err {r['rel_err']:.1e})")
    C.table(rows, cols)
    C.emit_json(args, rows)
    return 0


def dp_bf16_level() -> str:
    import deltaprop as dp
    return dp.build_info()["bf16"]


if __name__ == "__main__":
    raise SystemExit(main())
