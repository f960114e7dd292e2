"""GPU benchmark: deltaprop's CUDA backend against PyTorch CUDA on the same card, the data
resident on the GPU for both (deltaprop uploads a training set once per fit; PyTorch gets
CUDA tensors), medians of steady-state epochs (the first, which captures deltaprop's CUDA
graphs and warms PyTorch's caches, is not counted).

    deltaprop bench gpu [--quick|--tiny] [--json] [--out PATH]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from . import _common as C

# (network, batch, precision, rows per epoch, target ratio vs torch eager)
TRAIN_CASES = [
    ([784, 512, 512, 10], 256, "fp32", 65536, 3.0),
    ([784, 512, 512, 10], 4096, "fp32", 65536, 1.3),
    ([1024, 4096, 4096, 10], 4096, "fp32", 32768, 1.0),
    ([1024, 4096, 4096, 10], 4096, "tf32", 32768, 1.0),
]
PREDICT_ROWS = 1_000_000


def _data(sizes: Sequence[int], rows: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], rows).astype(np.int64)
    return X, y


def _deltaprop_train(dp: Any, sizes, batch, precision, X, y, epochs) -> float:
    net = dp.MLP(sizes, activation="relu", device="cuda", precision=precision, seed=0)
    stamps: List[float] = []
    net.fit(X, y, epochs=epochs, batch_size=batch, lr=0.01, shuffle=True,
            callbacks=[lambda history: stamps.append(time.perf_counter())])
    return statistics.median(np.diff(stamps))


def _torch_model(torch: Any, sizes):
    layers: List[Any] = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers).cuda()


def _torch_train(torch: Any, sizes, batch, precision, X, y, epochs) -> float:
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = precision == "tf32"
    model = _torch_model(torch, sizes)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    Xt, yt = torch.from_numpy(X).cuda(), torch.from_numpy(y).cuda()
    n = Xt.shape[0]
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        perm = torch.randperm(n, device="cuda")
        total = torch.zeros((), device="cuda")
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            loss = torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * idx.shape[0]
        float(total.item() / n)  # read once per epoch, as deltaprop does
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def _predict(dp: Any, torch: Any, rounds: int) -> Dict[str, float]:
    sizes = [784, 512, 512, 10]
    net = dp.MLP(sizes, activation="relu", device="cuda", seed=0)
    model = _torch_model(torch, sizes).eval()
    torch.backends.cuda.matmul.allow_tf32 = False
    Xt = torch.randn(PREDICT_ROWS, sizes[0], device="cuda")
    ours, theirs = [], []
    for _ in range(rounds + 1):
        start = time.perf_counter()
        net.predict_proba(Xt)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        with torch.no_grad():
            torch.softmax(model(Xt), dim=1)
        torch.cuda.synchronize()
        theirs.append(time.perf_counter() - start)
    x1 = np.random.default_rng(1).standard_normal((1, sizes[0]), dtype=np.float32)
    lat_ours, lat_theirs = [], []
    for _ in range(200):
        start = time.perf_counter()
        net.predict_proba(x1)
        lat_ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        with torch.no_grad():
            torch.softmax(model(torch.from_numpy(x1).cuda()), dim=1).cpu().numpy()
        lat_theirs.append(time.perf_counter() - start)
    return {"predict_rows_per_s": PREDICT_ROWS / statistics.median(ours[1:]),
            "torch_predict_rows_per_s": PREDICT_ROWS / statistics.median(theirs[1:]),
            "latency_us": 1e6 * statistics.median(lat_ours[20:]),
            "torch_latency_us": 1e6 * statistics.median(lat_theirs[20:])}


def environment(torch: Any) -> Dict[str, Any]:
    from .. import cuda
    env: Dict[str, Any] = {"python": sys.version.split()[0], "devices": cuda.devices()}
    if torch is not None:
        env["torch"] = torch.__version__
        env["torch_cuda"] = torch.version.cuda
    backend = cuda.backend()
    env["cuda_runtime"] = backend.runtime_version()
    env["cublaslt"] = backend.cublaslt_version()
    return env


def main(argv: Optional[Sequence[str]] = None) -> int:
    # No relaunch without the BLAS/OpenMP variables (as the CPU benchmarks do): the GPU figures do not
    # depend on them, and torch's import is sensitive to the OpenMP runtime the process already has.
    torch = C.peer("torch")
    parser = C.parser("gpu", __doc__.split("\n\n")[0])
    parser.add_argument("--out", metavar="PATH", help="also write the results and the environment as JSON")
    args = C.parse(parser, argv)
    out = sys.stderr if args.json else sys.stdout
    import deltaprop as dp
    from .. import cuda
    if not cuda.is_available():
        print(f"skipped: {cuda.why_unavailable()}", file=out)
        C.emit_json(args, [])
        return 0
    if torch is not None and not torch.cuda.is_available():
        torch = None
    if torch is None:
        print("skipped: torch with CUDA not installed (deltaprop figures only)", file=out)
    epochs = 2 if args.tiny else 3 if args.quick else 5
    env = environment(torch)
    print(f"GPU: {env['devices'][0]['name']}  torch {env.get('torch', '-')}  CUDA runtime {env['cuda_runtime']}",
          file=out)
    print(f"{'case':48s} {'deltaprop':>12s} {'torch eager':>12s} {'ratio':>7s} {'target':>7s}", file=out)
    rows: List[Dict[str, Any]] = []

    def report(case: str, ours: float, theirs: float, ratio: float, target: float) -> None:
        rows.append({"case": case, "deltaprop": ours, "torch": theirs, "ratio": ratio, "target": target})
        print(f"{case:48s} {ours:12,.1f} {theirs:12,.1f} {ratio:7.2f} {target:7.2f}", file=out, flush=True)

    cases = TRAIN_CASES[:1] if args.tiny else TRAIN_CASES
    for sizes, batch, precision, n, target in cases:
        X, y = _data(sizes, n // 8 if args.tiny else n)
        ours = len(X) / _deltaprop_train(dp, sizes, batch, precision, X, y, epochs)
        theirs = len(X) / _torch_train(torch, sizes, batch, precision, X, y, epochs) if torch else float("nan")
        report(f"train {sizes} b{batch} {precision} (samples/s)", ours, theirs, ours / theirs, target)
    if torch is not None:
        p = _predict(dp, torch, args.rounds)
        report(f"predict_proba {PREDICT_ROWS:,} rows (rows/s)", p["predict_rows_per_s"], p["torch_predict_rows_per_s"],
               p["predict_rows_per_s"] / p["torch_predict_rows_per_s"], 1.0)
        report("predict_proba 1 sample (µs; ratio: torch/ours)", p["latency_us"], p["torch_latency_us"],
               p["torch_latency_us"] / p["latency_us"], 1.0)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"environment": env, "results": rows}, fh, indent=2, default=str)
    C.emit_json(args, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
