"""MLP training samples/s and one-sample inference latency: deltaprop vs PyTorch (CPU) vs
scikit-learn, interleaved, same thread count, float32, ReLU, softmax cross-entropy, plain SGD.

    deltaprop bench mlp [--quick|--tiny] [--json] [--threads N] [--rounds R] [--precision fp32|bf16]

--precision bf16: deltaprop with precision="bf16" (bf16 products, float32 master weights) against
deltaprop float32 and PyTorch under torch.autocast("cpu", torch.bfloat16), in the same rounds.
"""
from __future__ import annotations

import contextlib
import time
import warnings
from typing import Optional, Sequence

import numpy as np

import deltaprop as dp

from . import _common as C

# The optional peers, set by main(): None when not installed (skipped with a line).
torch = None
MLPClassifier = None

LR = 0.01
MNIST = [784, 512, 512, 10]
TINY = [32, 16, 4]  # --tiny: a smoke test of every code path in seconds


def cases(quick: bool, tiny: bool = False, precision: str = "fp32"):
    """(sizes, batch, rows in the synthetic data set: one epoch over them is one timed call)."""
    if tiny:
        yield TINY, 8, 64
        return
    if precision == "bf16":  # the shapes bf16 is for: wide layers, large batches
        for b, n in [(32, 4096), (256, 8192)]:
            yield MNIST, b, n
        yield [1024, 4096, 4096, 10], 256, 1024
        yield [1024, 4096, 4096, 10], 1024, (1024 if quick else 2048)
        return
    for b, n in [(1, 256), (8, 1024), (32, 4096), (128, 8192), (256, 8192)]:
        yield MNIST, b, n
    yield [784, 128, 10], 64, 16384
    yield [1024, 4096, 4096, 10], 256, (512 if quick else 1024)


def dataset(sizes, n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], n, dtype=np.int64)
    return X, y


def torch_model(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def dp_steps(sizes, batches, precision):
    net = dp.MLP(sizes, activation="relu", loss="cross_entropy", seed=0, precision=precision)

    def dp_step():
        for xb, yb in batches:
            net.train_step(xb, yb, lr=LR)
    return dp_step


def torch_steps(sizes, batches, precision):
    """One PyTorch SGD epoch over `batches` (zero_grad, forward, backward, step per batch)."""
    model, loss_fn = torch_model(sizes), torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    tb = [(torch.from_numpy(xb), torch.from_numpy(yb)) for xb, yb in batches]

    def torch_epoch():
        for xb, yb in tb:
            opt.zero_grad()
            with torch_autocast(precision):
                loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
    return torch_epoch


def torch_autocast(precision):
    """The context PyTorch computes in: bf16 autocast (its mixed precision: bf16 matrix products,
    float32 weights) or nothing."""
    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def contestants(sizes, b, X, y, precision="fp32"):
    """name -> interleaved() spec; each fn runs one epoch over (X, y) in row order. In bf16,
    dp_step/dp_fit run in bf16, dp32_step is deltaprop in float32 and torch runs under autocast;
    scikit-learn (float32/64 only) sits out."""
    batches = [(X[i:i + b], y[i:i + b]) for i in range(0, len(X), b)]
    net_fit = dp.MLP(sizes, activation="relu", loss="cross_entropy", seed=0, precision=precision)
    out = {"dp_step": dp_steps(sizes, batches, precision),
           "dp_fit": lambda: net_fit.fit(X, y, epochs=1, batch_size=b, lr=LR, shuffle=False)}
    if precision != "fp32":
        out["dp32_step"] = dp_steps(sizes, batches, "fp32")
    if torch is not None:
        out["torch"] = torch_steps(sizes, batches, precision)
    if MLPClassifier is not None and precision == "fp32":
        clf = MLPClassifier(hidden_layer_sizes=tuple(sizes[1:-1]), activation="relu", solver="sgd",
                            momentum=0.0, learning_rate_init=LR, learning_rate="constant",
                            batch_size=b, alpha=0.0, max_iter=1, shuffle=False, random_state=0)
        clf.partial_fit(X[:b], y[:b], classes=np.arange(sizes[-1]))  # first call: initialise
        out["sklearn"] = {"fn": lambda: clf.partial_fit(X, y), "settle": C.SETTLE_BLAS}
    return out


def train_case(sizes, b, X, y, args, min_time):
    with C.OtherLoad() as load:
        s = C.interleaved(contestants(sizes, b, X, y, args.precision), args.rounds, min_time)
    n = len(X)
    r = {"bench": "mlp_train", "net": str(sizes), "batch": b, "rows": n, "threads": args.threads,
         "precision": args.precision, "other_load": load.share}
    for k, t in s.items():
        r[k] = n / C.median(t)
    for ours in ("dp_step", "dp_fit"):
        for ref in ("torch", "sklearn", "dp32_step"):
            if ref in s:
                r[f"{ours}/{ref}"] = C.ratio(s[ref], s[ours])
    return r


def train(args):
    rows = []
    min_time = 0.01 if args.tiny else 0.1 if args.quick else 0.3
    for sizes, b, n in cases(args.quick, args.tiny, args.precision):
        t0 = time.perf_counter()
        X, y = dataset(sizes, n)
        rows.append(C.least_disturbed(lambda: train_case(sizes, b, X, y, args, min_time),
                                      tries=1 if args.quick else 3))
        C.say(f"  {sizes} batch {b}: {time.perf_counter() - t0:.1f} s")
    cols = [("net", "net", "{}"), ("batch", "batch", "{}"), ("precision", "precision", "{}"),
            ("dp_step", "dp step/s", "{:,.0f}"), ("dp_fit", "dp fit/s", "{:,.0f}"),
            ("dp32_step", "dp fp32/s", "{:,.0f}"), ("torch", "torch/s", "{:,.0f}"),
            ("sklearn", "sklearn/s", "{:,.0f}"), ("dp_step/dp32_step", "step/fp32", "{:.2f}"),
            ("dp_step/torch", "step/torch", "{:.2f}"), ("dp_fit/torch", "fit/torch", "{:.2f}"),
            ("dp_step/sklearn", "step/skl", "{:.2f}"), ("dp_fit/sklearn", "fit/skl", "{:.2f}"),
            ("other_load", "others", "{:.0%}")]
    what = ("float32" if args.precision == "fp32" else
            "bf16 (deltaprop precision='bf16'; torch bf16 autocast; dp fp32: deltaprop float32)")
    C.say(f"\n## training, samples/s, {what}, {args.threads} threads, lr {LR}, "
          f"medians of {args.rounds} interleaved rounds")
    C.table(rows, cols)
    return rows


def latency(args):
    """predict_proba on one sample of [784,512,512,10]: median µs over many single calls."""
    sizes = TINY if args.tiny else MNIST
    X, _ = dataset(sizes, 1)
    net = dp.MLP(sizes, activation="relu", loss="cross_entropy", seed=0, precision=args.precision)
    fns = {"deltaprop": lambda: net.predict_proba(X)}
    if torch is not None:
        model, xt = torch_model(sizes).eval(), torch.from_numpy(X)

        def torch_proba():
            with torch.no_grad(), torch_autocast(args.precision):
                return torch.softmax(model(xt), dim=1)
        fns["torch"] = torch_proba
    calls = 20 if args.tiny else 200 if args.quick else 1000
    times = {k: [] for k in fns}
    with C.OtherLoad() as load:
        for rnd in range(args.rounds + 1):          # round 0 is the warm-up
            for k, fn in fns.items():
                for _ in range(calls):
                    t = time.perf_counter_ns()
                    fn()
                    if rnd:
                        times[k].append(time.perf_counter_ns() - t)
                time.sleep(C.SETTLE_OMP)
    r = {"bench": "mlp_latency", "net": str(sizes), "threads": args.threads, "precision": args.precision,
         "other_load": load.share, "deltaprop_us": C.median(times["deltaprop"]) / 1e3}
    if torch is not None:
        r["torch_us"] = C.median(times["torch"]) / 1e3
        r["torch/dp"] = r["torch_us"] / r["deltaprop_us"]
    C.say(f"## predict_proba latency, 1 sample, {sizes}, {args.precision}, median of {args.rounds}x{calls} calls")
    C.table([r], [("deltaprop_us", "deltaprop µs", "{:.1f}"), ("torch_us", "torch µs", "{:.1f}"),
                  ("torch/dp", "torch/dp", "{:.2f}"), ("other_load", "others", "{:.0%}")])
    return [r]


def scaling(args):
    """train_step samples/s at 1 vs N threads (N = max(2, --threads)), batch 128: deltaprop, and
    PyTorch in the same interleaved rounds as the yardstick of what this machine's cores give
    (shared caches, memory, turbo and a hypervisor's other guests cap every library's scaling)."""
    b, n, nt = 128, 4096, max(2, args.threads)
    sizes = TINY if args.tiny else MNIST
    if args.tiny:
        b, n = 8, 64
    X, y = dataset(sizes, n)
    batches = [(X[i:i + b], y[i:i + b]) for i in range(0, n, b)]
    runners = {"dp": dp_steps(sizes, batches, args.precision)}
    if torch is not None:
        runners["torch"] = torch_steps(sizes, batches, args.precision)

    def threads(k):
        def setup():
            dp.set_num_threads(k)
            if torch is not None:
                torch.set_num_threads(k)
        return setup

    def measure():
        with C.OtherLoad() as load:
            s = C.interleaved({f"{name} {k}": {"fn": fn, "setup": threads(k)}
                               for name, fn in runners.items() for k in (1, nt)},
                              args.rounds, 0.01 if args.tiny else 0.1 if args.quick else 0.3)
        threads(args.threads)()
        r = {"bench": "mlp_threads", "net": str(sizes), "batch": b, "threads": nt, "precision": args.precision,
             "samples_s_1": n / C.median(s["dp 1"]), "samples_s_n": n / C.median(s[f"dp {nt}"]),
             "speedup": C.ratio(s["dp 1"], s[f"dp {nt}"]), "other_load": load.share}
        if "torch" in runners:
            r["torch_speedup"] = C.ratio(s["torch 1"], s[f"torch {nt}"])
        return r
    r = C.least_disturbed(measure, tries=1 if args.quick else 3)
    C.say(f"## thread scaling, train_step, {sizes}, batch {b}, {args.precision}")
    C.table([r], [("samples_s_1", "dp 1 thread/s", "{:,.0f}"), ("samples_s_n", f"dp {nt} threads/s", "{:,.0f}"),
                  ("speedup", "dp speed-up", "{:.2f}"), ("torch_speedup", "torch speed-up", "{:.2f}"),
                  ("other_load", "others", "{:.0%}")])
    return [r]


def main(argv: Optional[Sequence[str]] = None) -> int:
    global torch, MLPClassifier
    if C.needs_clean_process():
        return C.launch(__spec__.name, argv)
    p = C.parser("mlp", __doc__.split("\n\n")[0])
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                   help="fp32 (default) or bf16: deltaprop precision='bf16' vs deltaprop fp32 and torch bf16 autocast")
    args = C.parse(p, argv)
    peers = C.setup(args, {"torch": "torch", "sklearn.neural_network": "scikit-learn"})
    torch = peers["torch"]
    MLPClassifier = getattr(peers["sklearn.neural_network"], "MLPClassifier", None)
    warnings.filterwarnings("ignore")
    rows = train(args) + latency(args) + scaling(args)
    C.emit_json(args, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
