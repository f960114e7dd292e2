"""Fit time of deltaprop.sklearn.MLPClassifier against scikit-learn's at scikit-learn's default
settings, float64 input, on digits and a 784-feature MNIST-like set; fits interleaved, same
thread count, medians over the rounds, held-out accuracy of both.

    deltaprop bench sklearn [--quick|--tiny] [--json] [--threads N] [--rounds R]
"""
from __future__ import annotations

import time
import warnings
from typing import Optional, Sequence

import numpy as np

from . import _common as C

# scikit-learn's defaults, spelled out (random_state fixed): what both libraries are given.
DEFAULTS = dict(hidden_layer_sizes=(100,), activation="relu", solver="adam", alpha=1e-4, batch_size="auto",
                learning_rate="constant", learning_rate_init=1e-3, max_iter=200, shuffle=True, random_state=0,
                tol=1e-4, n_iter_no_change=10, early_stopping=False, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
SETTINGS_NOTE = ("MLPClassifier(hidden_layer_sizes=(100,), activation='relu', solver='adam', alpha=1e-4, "
                 "batch_size='auto' = min(200, n), learning_rate_init=1e-3, max_iter=200, tol=1e-4, "
                 "n_iter_no_change=10, early_stopping=False, shuffle=True, random_state=0), float64 X, "
                 "the same object for both libraries (deltaprop computes in X's dtype: float64)")


def cases(quick: bool, tiny: bool):
    """(name, X, y, X_test, y_test, parameters): the timed fit is on (X, y); accuracy on the
    held-out rows (digits: from a second fit on a stratified 75 % split, not timed)."""
    from sklearn.datasets import load_digits

    from ._mnist_like import mnist_like

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    if tiny:
        yield "digits[:300], max_iter=2", X[:300], y[:300], X[300:400], y[300:400], dict(DEFAULTS, max_iter=2)
        return
    yield "digits 1797x64", X, y, None, None, dict(DEFAULTS)
    n = 4000 if quick else 10000
    X, y = mnist_like(n + 2000, seed=0)
    yield f"MNIST-like {n}x784", X[:n], y[:n], X[n:], y[n:], dict(DEFAULTS)


def fit(cls, X, y, params):
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # digits runs all 200 epochs
        return cls(**params).fit(X, y)


def split_accuracy(cls, X, y, params) -> float:
    """Accuracy on a stratified 25 % of (X, y) after a fit on the other 75 %."""
    from sklearn.model_selection import train_test_split

    X, X_test, y, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    return float(fit(cls, X, y, params).score(X_test, y_test))


def measure(ref, ours, X, y, params, rounds: int) -> dict:
    """Fits interleaved (sklearn, deltaprop, sklearn, ...) after a short warm-up of each; wall
    seconds per fit, with a pause after each fit so that idle BLAS / OpenMP threads stop
    spinning before the other library starts."""
    for cls in (ref, ours):
        fit(cls, X[:400], y[:400], dict(params, max_iter=1))
        time.sleep(C.SETTLE_BLAS)
    times = {"sklearn": [], "dp": []}
    models = {}
    for _ in range(rounds):
        for name, cls in (("sklearn", ref), ("dp", ours)):
            start = time.perf_counter()
            models[name] = fit(cls, X, y, params)
            times[name].append(time.perf_counter() - start)
            time.sleep(C.SETTLE_BLAS)
    return {"times": times, "models": models}


def main(argv: Optional[Sequence[str]] = None) -> int:
    if C.needs_clean_process():
        return C.launch(__spec__.name, argv)
    args = C.parse(C.parser("sklearn", __doc__.split("\n\n")[0]), argv)
    peers = C.setup(args, {"sklearn.neural_network": "scikit-learn", "scipy.optimize": "scipy"})
    if None in peers.values():
        C.say("nothing to compare: deltaprop.sklearn needs scikit-learn and scipy "
              "(pip install \"deltaprop[bench]\")")
        C.emit_json(args, [])
        return 0
    from deltaprop import sklearn as dps

    ref, ours = peers["sklearn.neural_network"].MLPClassifier, dps.MLPClassifier
    C.say(f"# settings: {SETTINGS_NOTE}")
    C.say(f"# {args.rounds} interleaved rounds per data set, wall time per fit, medians (speed-up: median of the "
          "per-round ratios); accuracy on held-out rows")
    rows = []
    for name, X, y, X_test, y_test, params in cases(args.quick, args.tiny):
        with C.OtherLoad() as load:
            result = measure(ref, ours, X, y, params, args.rounds)
        times, models = result["times"], result["models"]
        if X_test is None:
            accuracy = {k: split_accuracy(cls, X, y, params) for k, cls in (("sklearn", ref), ("dp", ours))}
        else:
            accuracy = {k: float(models[k].score(X_test, y_test)) for k in models}
        rows.append({"bench": "sklearn_fit", "case": name, "rows": int(X.shape[0]), "features": int(X.shape[1]),
                     "threads": args.threads, "sklearn_s": C.median(times["sklearn"]),
                     "dp64_s": C.median(times["dp"]), "speedup64": C.ratio(times["sklearn"], times["dp"]),
                     "sklearn_times": times["sklearn"], "dp64_times": times["dp"],
                     "acc_sklearn": accuracy["sklearn"], "acc_dp": accuracy["dp"],
                     "n_iter_sklearn": int(models["sklearn"].n_iter_), "n_iter_dp": int(models["dp"].n_iter_),
                     "other_load": load.share})
        C.say(f"# {name}: done")
    C.say()
    C.table(rows, [("case", "data set", "{}"), ("sklearn_s", "sklearn s", "{:.3f}"),
                   ("dp64_s", "deltaprop s", "{:.3f}"), ("speedup64", "speed-up", "{:.1f}x"),
                   ("acc_sklearn", "acc sklearn", "{:.4f}"), ("acc_dp", "acc deltaprop", "{:.4f}"),
                   ("n_iter_sklearn", "epochs sk", "{}"), ("n_iter_dp", "epochs dp", "{}"),
                   ("other_load", "other load", "{:.0%}")])
    C.emit_json(args, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
