"""Parity with scikit-learn's own MLPs at the same hyperparameters: test accuracy on digits and
R² on a regression set within 1 point."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("scipy")

from sklearn import neural_network as sk  # noqa: E402
from sklearn.datasets import load_digits, make_regression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from deltaprop import sklearn as dps  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=1000, n_features=20, noise=10.0, random_state=0)
    return train_test_split(X, y / y.std(), test_size=0.3, random_state=0)


@pytest.mark.parametrize("params", [
    dict(solver="adam", max_iter=100),
    dict(solver="sgd", learning_rate_init=0.05, momentum=0.9, max_iter=60),
    dict(solver="lbfgs", max_iter=100, alpha=1e-3),
], ids=["adam", "sgd", "lbfgs"])
def test_digits_accuracy_matches_scikit_learn(digits, params):
    Xtr, Xte, ytr, yte = digits
    params = dict(params, hidden_layer_sizes=(64,), random_state=0)
    theirs = sk.MLPClassifier(**params).fit(Xtr, ytr).score(Xte, yte)
    ours = dps.MLPClassifier(**params).fit(Xtr, ytr).score(Xte, yte)
    assert ours > 0.95
    assert abs(ours - theirs) <= 0.01


@pytest.mark.parametrize("params", [
    dict(solver="adam", learning_rate_init=0.01, max_iter=200),
    dict(solver="sgd", learning_rate_init=0.01, learning_rate="invscaling", power_t=0.1, max_iter=100),
    dict(solver="lbfgs", max_iter=200),
], ids=["adam", "sgd-invscaling", "lbfgs"])
def test_regression_r2_matches_scikit_learn(regression, params):
    Xtr, Xte, ytr, yte = regression
    params = dict(params, hidden_layer_sizes=(32,), random_state=0)
    theirs = sk.MLPRegressor(**params).fit(Xtr, ytr).score(Xte, yte)
    ours = dps.MLPRegressor(**params).fit(Xtr, ytr).score(Xte, yte)
    assert ours > 0.9
    assert abs(ours - theirs) <= 0.01


@pytest.mark.parametrize("schedule", [
    dict(learning_rate="adaptive"),
    dict(learning_rate="invscaling", power_t=0.3),
    dict(learning_rate="adaptive", early_stopping=True),
], ids=["adaptive", "invscaling", "adaptive-early-stopping"])
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_learning_rate_schedules_and_stopping_follow_scikit_learn_epoch_by_epoch(digits, schedule, kind):
    # float64, plain SGD: the same steps as scikit-learn's, so the same loss curve to rounding,
    # the same plateaus (the rate divided by 5 down to 1e-6, then a stop) and the same epoch count
    Xtr, _, ytr, _ = digits
    X, y = Xtr[:300], ytr[:300]
    params = dict(hidden_layer_sizes=(16,), solver="sgd", momentum=0.0, learning_rate_init=0.2, tol=0.02,
                  n_iter_no_change=1, max_iter=60, random_state=0, batch_size=50, **schedule)
    if kind == "regressor":
        y = y / 9.0
        params["learning_rate_init"] = 0.05
    theirs = (sk.MLPClassifier if kind == "classifier" else sk.MLPRegressor)(**params).fit(X, y)
    ours = (dps.MLPClassifier if kind == "classifier" else dps.MLPRegressor)(dtype="float64", **params).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ < 60
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    if params.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-12)
        assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_)
    else:
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_invscaling_restarts_like_scikit_learn_across_warm_starts_and_partial_fits(digits, kind):
    # scikit-learn makes a new optimizer per fit: its first epoch runs at learning_rate_init, later
    # ones at learning_rate_init / (t_ + 1) ** power_t with t_ carried over by warm_start;
    # partial_fit keeps the optimizer (and its decayed rate)
    Xtr, _, ytr, _ = digits
    X, y = Xtr[:400], ytr[:400]
    if kind == "regressor":
        y = y / 9.0
    params = dict(hidden_layer_sizes=(16,), solver="sgd", learning_rate="invscaling", learning_rate_init=0.1,
                  power_t=0.5, momentum=0.0, max_iter=4, tol=0.0, n_iter_no_change=100, random_state=0,
                  batch_size=100, warm_start=True)
    models = [(sk.MLPClassifier if kind == "classifier" else sk.MLPRegressor)(**params),
              (dps.MLPClassifier if kind == "classifier" else dps.MLPRegressor)(dtype="float64", **params)]
    for model in models:
        model.fit(X, y)
        model.fit(X, y)
        model.partial_fit(X, y)
        model.fit(X, y)
    theirs, ours = models
    assert ours.t_ == theirs.t_ == 400 * 13
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)


def _fit_accepts_sample_weight():
    import inspect
    return "sample_weight" in inspect.signature(sk.MLPRegressor.fit).parameters


@pytest.mark.parametrize("case", ["multi-output", "multi-output-lbfgs", "weighted", "weighted-multi-output",
                                  "weighted-classifier"])
def test_loss_curve_equals_scikit_learn_for_several_outputs_and_sample_weights(case):
    # scikit-learn's squared error averages over the outputs while its gradient sums over them, and
    # it weighs each batch's loss by its rows even with sample weights: the reported losses (and
    # the tol stop that reads them) must still be scikit-learn's, L2 term included
    weighted = case.startswith("weighted")
    if weighted and not _fit_accepts_sample_weight():
        pytest.skip("this scikit-learn's MLPs take no sample_weight")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 8))
    if case == "weighted-classifier":
        y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    elif case == "weighted":
        y = X[:, :2].sum(axis=1)
    else:
        y = np.c_[X[:, :2].sum(axis=1), X[:, 2] - X[:, 3], X[:, 4]]
    params = dict(hidden_layer_sizes=(16,), solver="lbfgs" if case.endswith("lbfgs") else "sgd", momentum=0.9,
                  learning_rate_init=0.05, alpha=0.1, batch_size=64, max_iter=200, tol=1e-3, n_iter_no_change=2,
                  random_state=0)
    fit = dict(sample_weight=rng.random(300) + 0.5) if weighted else {}
    theirs_cls, ours_cls = ((sk.MLPClassifier, dps.MLPClassifier) if case == "weighted-classifier"
                            else (sk.MLPRegressor, dps.MLPRegressor))
    theirs = theirs_cls(**params).fit(X, y, **fit)
    ours = ours_cls(dtype="float64", **params).fit(X, y, **fit)
    assert ours.n_iter_ == theirs.n_iter_
    # L-BFGS's line searches carry the last bits of rounding further than SGD's steps do
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9 if params["solver"] == "sgd" else 1e-6)
    if params["solver"] == "sgd":
        assert theirs.n_iter_ < 200  # the tol stop decided it
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
