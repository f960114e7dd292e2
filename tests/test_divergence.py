"""Divergence: when the loss or the weights become NaN/inf in fit, training stops with
FloatingPointError (on_divergence="raise") or a RuntimeWarning ("warn"), and the model keeps the
weights of the last finite epoch, bitwise."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import _core

# A linear model with mse on x = 1, y = 0: each one-row SGD step multiplies the prediction by
# (1 - 2·lr) = -5 at lr = 3, so float32 overflows after some 25 steps: epoch 3 of 10 steps.
X = np.ones((10, 1), dtype=np.float32)
Y = np.zeros((10, 1), dtype=np.float32)
FIT = dict(batch_size=1, lr=3.0, shuffle=False)
SGD = _core.OptimizerConfig()
SGD.lr = 3.0


def _net():
    return dp.MLP([1, 1], loss="mse", seed=0)


def _diverging_epoch():
    """The epoch at which the example diverges, found with the core's epochs directly."""
    net = _net()
    for epoch in range(1, 50):
        loss = net.network.train_epoch(X, None, Y, None, None, 1, SGD)
        if not np.isfinite(loss) or not np.isfinite(net.get_params()).all():
            return epoch
    raise AssertionError("the model never diverged")


def test_the_example_diverges_after_a_few_finite_epochs():
    assert _diverging_epoch() >= 2


def test_raise_restores_the_last_finite_weights():
    k = _diverging_epoch()
    reference = _net()
    reference.fit(X, Y, epochs=k - 1, **FIT)
    net = _net()
    with pytest.raises(FloatingPointError, match=f"epoch {k}"):
        net.fit(X, Y, epochs=k + 5, **FIT)
    np.testing.assert_array_equal(net.get_params(), reference.get_params())
    assert np.isfinite(net.predict(X)).all()


def test_warn_stops_returns_history_and_restores():
    k = _diverging_epoch()
    reference = _net()
    reference.fit(X, Y, epochs=k - 1, **FIT)
    net = _net()
    with pytest.warns(RuntimeWarning, match="diverged"):
        history = net.fit(X, Y, epochs=k + 5, on_divergence="warn", **FIT)
    assert history.epochs == k - 1 and len(history.train_loss) == k - 1
    assert all(np.isfinite(history.train_loss))
    np.testing.assert_array_equal(net.get_params(), reference.get_params())


def test_divergence_in_the_first_epoch_keeps_the_initial_weights(rng):
    net = dp.MLP([4, 8, 3], seed=0)
    initial = net.get_params()
    X4 = rng.standard_normal((64, 4)) * 1e3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FloatingPointError):
            net.fit(X4, rng.integers(0, 3, 64), epochs=3, batch_size=4, lr=1e30)
    np.testing.assert_array_equal(net.get_params(), initial)


def test_model_trains_normally_after_divergence():
    net = _net()
    with pytest.raises(FloatingPointError):
        net.fit(X, Y, epochs=50, **FIT)
    before = net.evaluate(X, Y)["loss"]
    net.fit(X, Y, epochs=2, batch_size=1, lr=0.1, shuffle=False)  # shrinks the error 0.8× a step
    after = net.evaluate(X, Y)["loss"]
    assert np.isfinite(before) and after < before * 1e-3
