"""Fit time of deltaprop.sklearn's estimators against scikit-learn's at equal settings (same
hyperparameters, same epochs: tol=0 so that neither stops early), interleaved, same thread
count. deltaprop runs in float32 (its default) and float64; scikit-learn in float64.

    deltaprop bench sklearn [--quick|--tiny] [--json] [--threads N] [--rounds R]
"""
from __future__ import annotations

import warnings
from typing import Optional, Sequence

import numpy as np

from . import _common as C


def cases(quick: bool, tiny: bool = False):
    """(name, estimator kind, data (X, y), parameters)."""
    from sklearn.datasets import load_digits, make_regression

    digits = load_digits(return_X_y=True)
    digits = (digits[0] / 16.0, digits[1])
    if tiny:
        yield "digits[:300] (16,) adam b=50", "clf", (digits[0][:300], digits[1][:300]), \
            dict(hidden_layer_sizes=(16,), solver="adam", batch_size=50, max_iter=2)
        return
    rng = np.random.default_rng(0)
    wide = rng.random((4096 if quick else 8192, 784)), rng.integers(0, 10, 4096 if quick else 8192)
    reg = make_regression(n_samples=5000, n_features=50, noise=5.0, random_state=0)
    reg = (reg[0], reg[1] / reg[1].std())
    epochs = 10 if quick else 30
    yield "digits (64,) adam b=200", "clf", digits, dict(hidden_layer_sizes=(64,), solver="adam", max_iter=epochs)
    yield "digits (32,) adam b=16", "clf", digits, dict(hidden_layer_sizes=(32,), solver="adam", batch_size=16,
                                                      max_iter=epochs // 2)
    yield "digits (256,256) sgd b=32", "clf", digits, dict(hidden_layer_sizes=(256, 256), solver="sgd",
                                                          batch_size=32, learning_rate_init=0.01, max_iter=epochs // 2)
    yield "784-(256,)-10 adam b=128", "clf", wide, dict(hidden_layer_sizes=(256,), solver="adam", batch_size=128,
                                                        max_iter=3 if quick else 5)
    yield "regression (128,64) adam b=64", "reg", reg, dict(hidden_layer_sizes=(128, 64), solver="adam", batch_size=64,
                                                            max_iter=epochs // 2)
    yield "digits (64,) lbfgs", "clf", digits, dict(hidden_layer_sizes=(64,), solver="lbfgs", max_iter=100)


def fit_once(cls, X, y, params):
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cls(**params).fit(X, y)


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

    sk = peers["sklearn.neural_network"]
    rows = []
    for name, kind, (X, y), params in cases(args.quick, args.tiny):
        params = dict(params, random_state=0, tol=0.0, n_iter_no_change=10 ** 6)
        ref = sk.MLPClassifier if kind == "clf" else sk.MLPRegressor
        ours = dps.MLPClassifier if kind == "clf" else dps.MLPRegressor
        contestants = {
            "sklearn": dict(fn=lambda: fit_once(ref, X, y, params), settle=C.SETTLE_BLAS),
            "dp32": lambda: fit_once(ours, X, y, dict(params, dtype="float32")),
            "dp64": lambda: fit_once(ours, X, y, dict(params, dtype="float64")),
        }
        with C.OtherLoad() as load:
            times = C.interleaved(contestants, args.rounds, min_time=0.0)
        scores = {k: fit_once(fn, X, y, p).score(X, y) for k, fn, p in
                  (("sklearn", ref, params), ("dp32", ours, dict(params, dtype="float32")))}
        rows.append({"bench": "sklearn_fit", "case": name, "threads": args.threads,
                     "sklearn_s": C.median(times["sklearn"]), "dp32_s": C.median(times["dp32"]),
                     "dp64_s": C.median(times["dp64"]), "speedup32": C.ratio(times["sklearn"], times["dp32"]),
                     "speedup64": C.ratio(times["sklearn"], times["dp64"]), "score_sklearn": scores["sklearn"],
                     "score_dp32": scores["dp32"], "other_load": load.share})
        C.say(f"# {name}: done")
    C.say()
    C.table(rows, [("case", "case", "{}"), ("sklearn_s", "sklearn s", "{:.3f}"), ("dp32_s", "dp f32 s", "{:.3f}"),
                   ("dp64_s", "dp f64 s", "{:.3f}"), ("speedup32", "x (f32)", "{:.1f}"),
                   ("speedup64", "x (f64)", "{:.1f}"), ("score_sklearn", "train score sk", "{:.4f}"),
                   ("score_dp32", "train score dp", "{:.4f}"), ("other_load", "other load", "{:.0%}")])
    C.emit_json(args, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
