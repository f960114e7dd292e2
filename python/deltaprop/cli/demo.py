"""`deltaprop demo`: train on data that needs no download (two generated spirals, or
scikit-learn's bundled handwritten digits), print accuracy and speed, optionally save a figure."""
from __future__ import annotations

import argparse
import time
from typing import Tuple

import numpy as np

__all__ = ["add_demo"]


def _spirals(args: argparse.Namespace) -> Tuple[np.ndarray, np.ndarray, list, str]:
    from ..datasets import two_spirals

    X, y = two_spirals(n=args.samples, seed=args.seed)
    return X, y, [2, 64, 64, 2], "two spirals"


def _digits(args: argparse.Namespace) -> Tuple[np.ndarray, np.ndarray, list, str]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("--dataset digits needs scikit-learn: pip install scikit-learn") from None
    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)  # pixel intensities 0..16 -> 0..1
    perm = np.random.default_rng(args.seed).permutation(len(X))
    return X[perm], digits.target.astype(np.int64)[perm], [64, 128, 64, 10], "handwritten digits (8x8)"


DATASETS = {"spirals": _spirals, "digits": _digits}


def _demo(args: argparse.Namespace) -> int:
    import deltaprop as dp

    if args.plot:  # fail before training, not after
        from ..plot import require_matplotlib
        require_matplotlib()
    X, y, sizes, title = DATASETS[args.dataset](args)
    split = int(0.8 * len(X))
    X_train, y_train, X_test, y_test = X[:split], y[:split], X[split:], y[split:]
    net = dp.MLP(sizes, activation="relu", loss="cross_entropy", seed=args.seed)
    print(f"deltaprop {dp.__version__} ({dp.build_info()['simd']}, {dp.get_num_threads()} threads): "
          f"{title}, {len(X_train)} train / {len(X_test)} test samples, {net}")
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
    if args.plot:
        from ..plot import demo_figure, save_figure
        save_figure(demo_figure(net, history, X_test, y_test, title=f"deltaprop: {title}"), args.plot)
        print(f"figure saved to {args.plot}")
    return 0


def add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="train a small network on built-in data (no download)",
                       description="Train a small network on built-in data and report accuracy and samples/s.")
    p.add_argument("--dataset", choices=sorted(DATASETS), default="spirals",
                   help="spirals (generated) or digits (bundled with scikit-learn)")
    p.add_argument("--samples", type=int, default=4000, help="spirals: number of points")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", metavar="PNG", default=None,
                   help="save learning curves, decision boundary and hidden representation (needs matplotlib)")
    p.add_argument("--verbose", action="store_true", help="progress bar")
    p.set_defaults(run=_demo)
