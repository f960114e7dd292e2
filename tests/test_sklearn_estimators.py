"""deltaprop.sklearn: scikit-learn's estimator checks, meta-estimators, pickling, the fitted
attributes and scikit-learn's loss_ definitions."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("scipy")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from deltaprop.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# The networks compute in X's dtype (float64 here), so a row of weight 2 and two copies of the row
# give the same fit to scikit-learn's rtol of 1e-7.
EXPECTED_FAILURES: dict = {}


@parametrize_with_checks([MLPClassifier(max_iter=100, random_state=0), MLPRegressor(max_iter=100, random_state=0)],
                         expected_failed_checks=lambda est: EXPECTED_FAILURES)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


def test_pipeline_grid_search_and_cross_val_score(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01,
                                                       max_iter=50, random_state=0))
    grid = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-1]}, cv=2).fit(X, y)
    assert grid.best_score_ > 0.75
    target = X[:, 10] + X[:, 20] - X[:, 30]
    reg = MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=100, random_state=0)
    scores = cross_val_score(reg, X, target, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.8


def test_clone_and_pickle_keep_predictions(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=20, random_state=0).fit(X, y)
    back = pickle.loads(pickle.dumps(clf))
    assert np.array_equal(back.predict_proba(X), clf.predict_proba(X))
    back.coefs_[0][...] = 0          # coefs_ still view the unpickled model's weights
    assert not np.array_equal(back.predict_proba(X), clf.predict_proba(X))
    fresh = clone(clf)
    assert not hasattr(fresh, "coefs_") and fresh.get_params() == clf.get_params()
    assert np.array_equal(fresh.fit(X, y).predict(X), clf.predict(X))   # same random_state, same fit


def test_fitted_attributes_follow_scikit_learn(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(16, 8), max_iter=15, random_state=0).fit(X, y)
    assert [c.shape for c in clf.coefs_] == [(64, 16), (16, 8), (8, 10)]
    assert [b.shape for b in clf.intercepts_] == [(16,), (8,), (10,)]
    assert clf.n_layers_ == 4 and clf.n_outputs_ == 10 and clf.out_activation_ == "softmax"
    assert clf.n_iter_ == len(clf.loss_curve_) == 15 and clf.t_ == 15 * 600
    assert clf.loss_ == clf.loss_curve_[-1] and clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert list(clf.classes_) == list(range(10)) and clf.n_features_in_ == 64
    binary = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y % 2)
    assert binary.out_activation_ == "logistic" and binary.coefs_[-1].shape == (4, 1)
    assert binary.predict_proba(X).shape == (600, 2)


def test_early_stopping_attributes(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(16,), early_stopping=True, n_iter_no_change=3, max_iter=200,
                        random_state=0).fit(X, y)
    assert clf.best_loss_ is None and len(clf.validation_scores_) == clf.n_iter_ < 200
    assert clf.best_validation_score_ == max(clf.validation_scores_)


def test_feature_names_in(digits):
    pd = pytest.importorskip("pandas")
    X, y = digits
    frame = pd.DataFrame(X, columns=[f"px{i}" for i in range(64)])
    reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(frame, y)
    assert list(reg.feature_names_in_) == list(frame.columns)


def test_lbfgs_loss_is_scikit_learns_objective(digits):
    X, y = digits
    alpha = 0.3
    clf = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", alpha=alpha, max_iter=30, random_state=0,
                        dtype="float64").fit(X, y)
    proba = clf.predict_proba(X)
    log_loss = -np.mean(np.log(proba[np.arange(len(y)), y]))
    penalty = 0.5 * alpha * sum((c ** 2).sum() for c in clf.coefs_) / len(y)
    assert clf.loss_ == pytest.approx(log_loss + penalty, rel=1e-6)
    assert 0 < clf.n_iter_ <= 30


def test_multilabel_loss_sums_over_outputs(digits):
    X, y = digits
    Y = np.stack([y % 2, y > 4, y == 0], axis=1).astype(int)
    clf = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", alpha=0.0, max_iter=50, random_state=0,
                        dtype="float64").fit(X, Y)
    P = clf.predict_proba(X)
    expected = -np.mean(np.sum(Y * np.log(P) + (1 - Y) * np.log(1 - P), axis=1))
    assert clf.loss_ == pytest.approx(expected, rel=1e-6)
    assert clf.predict(X).shape == (600, 3) and clf.score(X, Y) > 0.7


def test_multi_output_regression(digits):
    X, y = digits
    Y = np.stack([X[:, 10] + X[:, 20], X[:, 30] - X[:, 40]], axis=1)
    reg = MLPRegressor(hidden_layer_sizes=(32,), max_iter=200, random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (600, 2) and reg.score(X, Y) > 0.9


def test_partial_fit_and_warm_start(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X[:100], y[:100])
    for start in list(range(0, 600, 100)) * 3:
        clf.partial_fit(X[start:start + 100], y[start:start + 100], classes=np.arange(10))
    # scikit-learn's counters: n_iter_ counts the epochs of the latest call, t_ and loss_curve_ all
    # (its MLPClassifier gives n_iter_ 1, t_ 1800 and a score of 0.578 here)
    assert clf.n_iter_ == 1 and clf.t_ == 1800 and len(clf.loss_curve_) == 18 and clf.score(X, y) > 0.5
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=3, warm_start=True, random_state=0)
    reg.fit(X, y)
    first = [c.copy() for c in reg.coefs_]
    reg.fit(X, y)
    assert reg.n_iter_ == 3 and reg.t_ == 3600 and len(reg.loss_curve_) == 6   # as scikit-learn's
    assert not np.array_equal(first[0], reg.coefs_[0])


@pytest.mark.parametrize("params,match", [
    (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes"), (dict(solver="newton"), "solver"),
    (dict(activation="softplus"), "activation"), (dict(alpha=-1.0), "alpha"),
    (dict(learning_rate="cyclic"), "learning_rate"), (dict(batch_size=0), "batch_size"),
    (dict(dtype="float16"), "dtype"),
])
def test_bad_parameters_are_named(digits, params, match):
    X, y = digits
    with pytest.raises(ValueError, match=match):
        MLPClassifier(**params).fit(X, y)
    with pytest.raises(ValueError, match="loss"):
        MLPRegressor(loss="huber").fit(X, y)
