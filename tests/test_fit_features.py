"""fit's training features: validation split, early stopping, callbacks, warm start and
partial_fit, sample and class weights, multilabel and multi-output regression."""
from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
import npref
from conftest import make_blobs


@pytest.fixture
def blobs(rng):
    X, y = make_blobs(rng, n_per_class=60)
    return X, y


def test_validation_split_holds_out_a_fraction(blobs):
    X, y = blobs
    net = dp.MLP([2, 8, 3], seed=0)
    hist = net.fit(X, y, epochs=3, lr=0.1, validation_split=0.25)
    assert len(hist.val_loss) == len(hist.val_accuracy) == 3
    # 45 of 180 rows held out: each epoch takes ceil(135 / 32) = 5 steps
    assert net.network.optimizer_state()["steps"] == 15
    with pytest.raises(ValueError, match="validation_split"):
        net.fit(X, y, validation_split=1.5)
    with pytest.raises(ValueError, match="not both"):
        net.fit(X, y, validation_split=0.2, validation_data=(X, y))


def test_early_stopping_restores_the_best_epoch(blobs):
    X, y = blobs
    net = dp.MLP([2, 8, 3], seed=0)
    stopper = dp.EarlyStopping(patience=2, monitor="loss")
    # a too-large learning rate makes the loss bounce: the best epoch is not the last
    hist = net.fit(X, y, epochs=40, lr=3.0, optimizer="sgd", early_stopping=stopper)
    assert hist.epochs < 40 and hist.stopped_epoch == hist.epochs
    assert hist.best_epoch == int(np.argmin(hist.train_loss)) + 1
    assert np.array_equal(net.get_params(), stopper.best_params)


def test_early_stopping_min_delta_counts_small_gains_as_none(blobs):
    X, y = blobs
    hist = dp.MLP([2, 8, 3], seed=0).fit(X, y, epochs=50, lr=0.05, validation_split=0.2,
                                         early_stopping=dp.EarlyStopping(patience=1, min_delta=10.0))
    assert hist.epochs == 2   # epoch 1 sets the best; epoch 2 cannot beat it by 10


def test_callbacks_stop_by_true_or_stopiteration(blobs):
    X, y = blobs
    seen = []

    def stop_at_three(history):
        seen.append(history.epochs)
        return history.epochs == 3

    def raise_at_two(history):
        if history.epochs == 2:
            raise StopIteration

    assert dp.MLP([2, 8, 3]).fit(X, y, epochs=10, callbacks=[stop_at_three]).epochs == 3
    assert seen == [1, 2, 3]
    assert dp.MLP([2, 8, 3]).fit(X, y, epochs=10, callbacks=raise_at_two).epochs == 2
    with pytest.raises(TypeError, match="callbacks"):
        dp.MLP([2, 8, 3]).fit(X, y, callbacks=[42])


def test_warm_start_continues_exactly(blobs):
    X, y = blobs
    one = dp.MLP([2, 8, 3], seed=0)
    one.fit(X, y, epochs=4, optimizer=dp.Adam(lr=0.01), seed=5)
    two = dp.MLP([2, 8, 3], seed=0)
    two.fit(X, y, epochs=2, optimizer=dp.Adam(lr=0.01), seed=5)
    two.fit(X, y, epochs=1, optimizer=dp.Adam(lr=0.01), warm_start=True)
    two.partial_fit(X, y, optimizer=dp.Adam(lr=0.01))
    assert np.array_equal(one.get_params(), two.get_params())


def test_fit_without_warm_start_resets_the_optimizer(blobs):
    X, y = blobs
    net = dp.MLP([2, 8, 3], seed=0)
    net.fit(X, y, epochs=2, optimizer="adam")
    net.fit(X, y, epochs=1, optimizer="adam")
    assert net.network.optimizer_state()["steps"] == 6   # 180 rows / 32: 6 steps, counted afresh


def test_integer_sample_weights_equal_repeated_rows(rng):
    X = rng.normal(size=(30, 4))
    y = rng.integers(0, 3, 30)
    w = rng.integers(0, 4, 30)
    w[0] = 1
    a = dp.MLP([4, 6, 3], activation="tanh", dtype="float64", seed=2)
    b = a.copy()
    a.fit(X, y, epochs=3, batch_size=30, shuffle=False, optimizer="momentum", lr=0.1, sample_weight=w)
    Xr, yr = np.repeat(X, w, axis=0), np.repeat(y, w)
    b.fit(Xr, yr, epochs=3, batch_size=len(yr), shuffle=False, optimizer="momentum", lr=0.1)
    np.testing.assert_allclose(a.get_params(), b.get_params(), rtol=1e-10, atol=1e-12)


def test_weighted_loss_is_the_weighted_mean(rng):
    X = rng.normal(size=(20, 4))
    y = rng.integers(0, 3, 20)
    w = rng.uniform(0.1, 2.0, 20)
    net = dp.MLP([4, 6, 3], dtype="float64", seed=2)
    Ws, bs = [np.array(l.W) for l in net.layers], [np.array(l.b) for l in net.layers]
    Zs, _ = npref.forward(Ws, bs, "relu", "cross_entropy", X)
    per_row = -npref.log_softmax(Zs[-1])[np.arange(20), y]
    hist = net.fit(X, y, epochs=1, batch_size=20, sample_weight=w, optimizer="sgd", lr=1e-9)
    assert hist.train_loss[0] == pytest.approx(np.sum(w * per_row) / np.sum(w), rel=1e-10)


def test_class_weight_balanced_is_the_documented_table(rng):
    X = rng.normal(size=(40, 3))
    y = np.array([0] * 30 + [1] * 8 + [2] * 2)
    counts = np.bincount(y)
    w = (40 / (3 * counts))[y]
    a = dp.MLP([3, 5, 3], dtype="float64", seed=1)
    b = a.copy()
    a.fit(X, y, epochs=2, batch_size=16, optimizer="adam", class_weight="balanced", seed=0)
    b.fit(X, y, epochs=2, batch_size=16, optimizer="adam", sample_weight=w, seed=0)
    assert np.array_equal(a.get_params(), b.get_params())
    c = a.copy()
    c.fit(X, y, epochs=1, optimizer="adam", class_weight={0: 1.0, 2: 3.0})


@pytest.mark.parametrize("kw,error", [
    (dict(sample_weight=np.ones(3)), ValueError), (dict(sample_weight=-np.ones(40)), ValueError),
    (dict(sample_weight=np.zeros(40)), ValueError), (dict(class_weight={7: 1.0}), ValueError),
    (dict(class_weight="uniform"), TypeError), (dict(early_stopping="yes"), TypeError),
])
def test_bad_weights_and_options(rng, kw, error):
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 3, 40)
    with pytest.raises(error):
        dp.MLP([3, 4, 3]).fit(X, y, **kw)


def test_multilabel_binary_cross_entropy(rng):
    X = rng.normal(size=(400, 6)).astype(np.float32)
    Y = np.stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0, X[:, 3] < 0.5], axis=1).astype(np.float32)
    net = dp.MLP([6, 32, 3], activation="relu", loss="binary_cross_entropy", seed=0)
    net.fit(X, Y, epochs=40, batch_size=32, optimizer="adam", lr=0.01)
    pred = net.predict(X)
    assert pred.shape == (400, 3)
    assert np.mean(pred == Y) > 0.95
    assert net.evaluate(X, Y)["accuracy"] > 0.95


def test_multi_output_regression(rng):
    X = rng.uniform(-1, 1, size=(400, 3))
    Y = np.stack([np.sin(2 * X[:, 0]), X[:, 1] * X[:, 2], X.sum(axis=1)], axis=1)
    net = dp.MLP([3, 32, 3], activation="tanh", loss="mse", dtype="float64", seed=0)
    net.fit(X, Y, epochs=60, batch_size=32, optimizer="adam", lr=0.01)
    pred = net.predict(X)
    r2 = 1 - ((pred - Y) ** 2).sum(axis=0) / ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
    assert pred.shape == (400, 3) and (r2 > 0.9).all()
