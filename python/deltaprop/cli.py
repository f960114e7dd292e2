"""The `deltaprop` command line: `demo` trains on generated data; `info` describes the build."""
from __future__ import annotations

import argparse
import sys
import time
from typing import List, Optional

import numpy as np


def _demo(args: argparse.Namespace) -> int:
    import deltaprop as dp
    from deltaprop.datasets import two_spirals

    X, y = two_spirals(n=args.samples, seed=args.seed)
    split = int(0.8 * len(X))
    X_train, y_train, X_test, y_test = X[:split], y[:split], X[split:], y[split:]
    net = dp.MLP([2, 64, 64, 2], activation="relu", loss="cross_entropy", seed=args.seed)
    print(f"deltaprop {dp.__version__} ({dp.build_info()['simd']}, {dp.get_num_threads()} threads): "
          f"two spirals, {len(X_train)} train / {len(X_test)} test samples, {net}")
    start = time.perf_counter()
    history = net.fit(X_train, y_train, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                      validation_data=(X_test, y_test), seed=args.seed, verbose=args.verbose)
    seconds = time.perf_counter() - start
    train = net.evaluate(X_train, y_train)
    test = net.evaluate(X_test, y_test)
    print(f"trained {history.epochs} epochs in {seconds:.2f} s "
          f"({history.samples_per_sec:,.0f} samples/s)")
    print(f"train loss {train['loss']:.4f}  train accuracy {train['accuracy']:.4f}")
    print(f"test loss  {test['loss']:.4f}  test accuracy  {test['accuracy']:.4f}")
    return 0


def _info(args: argparse.Namespace) -> int:
    import deltaprop as dp

    for key, value in dp.build_info().items():
        print(f"{key:18s} {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deltaprop", description="Fast multilayer perceptrons.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a small network on two generated spirals")
    demo.add_argument("--samples", type=int, default=4000)
    demo.add_argument("--epochs", type=int, default=100)
    demo.add_argument("--batch-size", type=int, default=32)
    demo.add_argument("--lr", type=float, default=0.1)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--verbose", action="store_true")
    demo.set_defaults(run=_demo)
    info = sub.add_parser("info", help="version, SIMD level, threads, CUDA")
    info.set_defaults(run=_info)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (ValueError, TypeError, OSError) as exc:
        print(f"deltaprop: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("deltaprop: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
