"""deltaprop.sklearn behaves as scikit-learn's MLPs where a user swapping one for the other would
notice: the parameters' dtype, weights assigned by hand, warm-start counters and warnings,
n_iter_no_change=np.inf, the stratified split's error, partial_fit against fit, the poisson
loss and sample weights (each checked against scikit-learn itself)."""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("scipy")

from sklearn import neural_network as sk  # noqa: E402
from sklearn.datasets import load_digits, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.utils.estimator_checks import check_sample_weight_equivalence_on_dense_data  # noqa: E402

from deltaprop import sklearn as dps  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(n_class=3, return_X_y=True)
    return X[:200] / 16.0, y[:200]


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_parameters_and_predictions_take_xs_dtype(digits, kind, dtype):
    X, y = digits
    X = (X * 16).astype(dtype)
    Est = dps.MLPClassifier if kind == "classifier" else dps.MLPRegressor
    est = Est(hidden_layer_sizes=(5,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    expected = np.float32 if dtype == np.float32 else np.float64   # scikit-learn's rule
    assert {c.dtype for c in est.coefs_ + est.intercepts_} == {np.dtype(expected)}
    out = est.predict_proba(X) if kind == "classifier" else est.predict(X)
    assert out.dtype == expected
    forced = Est(hidden_layer_sizes=(5,), max_iter=2, random_state=0, dtype="float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        forced.fit(X.astype(np.float64), y)
    assert forced.coefs_[0].dtype == np.float32


def _hand_set(est, coefs, intercepts):
    est.coefs_ = [c.copy() for c in coefs]
    est.intercepts_ = [b.copy() for b in intercepts]
    for name, value in dict(n_outputs_=1, n_layers_=len(coefs) + 1, n_iter_=0, t_=0, best_loss_=np.inf,
                            loss_curve_=[], _no_improvement_count=0, out_activation_="logistic").items():
        setattr(est, name, value)
    est.n_features_in_ = coefs[0].shape[0]


def test_hand_set_weights_are_the_ones_trained(digits):
    X, y = digits
    X, y = X[:50], (y[:50] == 1).astype(int)
    rng = np.random.default_rng(0)
    coefs = [rng.normal(size=(64, 4)), rng.normal(size=(4, 1))]
    intercepts = [rng.normal(size=4), rng.normal(size=1)]
    params = dict(solver="sgd", learning_rate_init=0.1, alpha=0.1, activation="logistic", hidden_layer_sizes=4,
                  momentum=0.0, random_state=1)
    theirs, ours = sk.MLPClassifier(**params), dps.MLPClassifier(**params)
    for est in (theirs, ours):
        _hand_set(est, coefs, intercepts)
        for _ in range(3):
            est.partial_fit(X, y, classes=[0, 1])
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert a.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-10)
    # coefs_ stay views of the trained network, and survive pickling
    ours.coefs_[1][...] = 0.0
    assert np.allclose(ours.predict_proba(X)[:, 1], 1 / (1 + np.exp(-ours.intercepts_[1][0])))
    back = pickle.loads(pickle.dumps(ours))
    np.testing.assert_array_equal(back.predict_proba(X), ours.predict_proba(X))


def test_a_coef_assigned_after_fit_is_used(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = dps.MLPRegressor(hidden_layer_sizes=(3,), max_iter=3, random_state=0).fit(X, y)
    reg.coefs_[1] = np.zeros((3, 1))
    np.testing.assert_allclose(reg.predict(X), np.full(len(X), reg.intercepts_[1][0]))
    with pytest.raises(ValueError, match=r"coefs_\[1\]"):
        reg.coefs_[1] = np.zeros((2, 1))
        reg.predict(X)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_warm_start_counts_and_warns_as_scikit_learn(digits, solver):
    X, y = digits
    counts = {}
    for name, module in (("ours", dps), ("theirs", sk)):
        est = module.MLPClassifier(solver=solver, warm_start=True, max_iter=4, n_iter_no_change=np.inf,
                                   hidden_layer_sizes=(4,), random_state=0)
        with pytest.warns(ConvergenceWarning) as record:
            est.fit(X, y)
        first = est.n_iter_
        est.set_params(max_iter=6)
        with pytest.warns(ConvergenceWarning):
            est.fit(X, y)
        counts[name] = (first, est.n_iter_, getattr(est, "t_", None), len(getattr(est, "loss_curve_", [])))
        if solver != "lbfgs":
            assert str(record[0].message) == ("Stochastic Optimizer: Maximum iterations (4) reached and the "
                                              "optimization hasn't converged yet.")
    assert counts["ours"] == counts["theirs"]


def test_infinite_patience_runs_every_epoch(digits):
    X, y = digits
    clf = dps.MLPClassifier(tol=1e9, max_iter=40, solver="sgd", n_iter_no_change=np.inf, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.n_iter_ == 40 and clf._no_improvement_count == 39
    with pytest.raises(ValueError, match="n_iter_no_change"):
        dps.MLPClassifier(n_iter_no_change=2.5).fit(X, y)


def test_stratified_split_error_is_scikit_learns():
    X, y = [[1, 2], [2, 3], [3, 4], [4, 5]], [0, 0, 0, 1]
    messages = []
    for module in (dps, sk):
        with pytest.raises(ValueError) as info:
            module.MLPClassifier(early_stopping=True).fit(X, y)
        messages.append(str(info.value))
    assert messages[0] == messages[1] and "['True']" in messages[0]


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_partial_fit_repeats_fit_exactly(momentum):
    X, y = make_regression(n_samples=200, n_features=10, noise=10.0, random_state=7)
    y = (y - y.mean()) / y.std()
    params = dict(solver="sgd", activation="relu", random_state=1, learning_rate_init=0.01, batch_size=200,
                  momentum=momentum)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = dps.MLPRegressor(max_iter=50, **params).fit(X, y)
    stepped = dps.MLPRegressor(**params)
    for _ in range(50):
        stepped.partial_fit(X, y)
    np.testing.assert_allclose(stepped.predict(X), fitted.predict(X), rtol=1e-7)


def test_poisson_regressor_matches_scikit_learn():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (300, 3))
    y = rng.poisson(np.exp(X @ np.array([0.5, -0.3, 0.8]) + 0.5)).astype(np.float64)
    params = dict(loss="poisson", hidden_layer_sizes=(4,), activation="tanh", alpha=1e-3, solver="lbfgs",
                  max_iter=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = sk.MLPRegressor(**params).fit(X, y)
        ours = dps.MLPRegressor(**params).fit(X, y)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-5)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)   # the deviance's constant included
    with pytest.raises(ValueError, match="poisson"):
        dps.MLPRegressor(loss="poisson").fit(X, -y)


@pytest.mark.parametrize("est", [dps.MLPClassifier(solver="lbfgs"),
                                 dps.MLPRegressor(solver="sgd", tol=1e-2, random_state=42)],
                         ids=["classifier-lbfgs", "regressor-sgd"])
def test_sample_weight_equivalence_with_scikit_learns_settings(est):
    # the settings scikit-learn runs this check with on its own MLPs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_sample_weight_equivalence_on_dense_data(type(est).__name__, est)
