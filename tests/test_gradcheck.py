"""Gradient checking: dp.gradcheck, and loss_and_grad against our own central differences."""
from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp

import npref
from conftest import make_targets

SIZES = [5, 7, 6, 3]
ACTS = list(npref.ACTIVATIONS)
LOSSES = list(npref.LOSSES)


def _setup(rng, activation, loss, dtype="float64", n=4, sizes=SIZES):
    net = dp.MLP(list(sizes), activation=activation, loss=loss, dtype=dtype, seed=7)
    # non-zero biases so that every parameter is exercised
    net.set_params((0.5 * rng.standard_normal(net.num_params)).astype(net.dtype))
    X = rng.standard_normal((n, sizes[0])).astype(net.dtype)
    y = make_targets(rng, loss, n, sizes[-1], dtype=net.dtype)
    return net, X, y


def _fd_loss_grad(net, X, y, l2=0.0, eps=1e-6):
    """Our own central differences of net.loss_and_grad's loss value, through set_params."""
    theta0 = net.get_params().astype(np.float64)

    def f(theta):
        net.set_params(theta.astype(net.dtype))
        return net.loss_and_grad(X, y, l2=l2)[0]

    try:
        return npref.numerical_grad(f, theta0, eps)
    finally:
        net.set_params(theta0.astype(net.dtype))


# ----------------------------------------------------------------------------------- dp.gradcheck
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTS)
def test_gradcheck_passes(rng, activation, loss):
    net, X, y = _setup(rng, activation, loss)
    err = dp.gradcheck(net, X, y)
    assert isinstance(err, float)
    assert 0.0 <= err < 1e-6


def test_gradcheck_per_layer_activations(rng):
    net = dp.MLP([4, 6, 5, 2], activation=["sigmoid", "leaky_relu"], loss="cross_entropy",
                 dtype="float64", seed=1)
    X = rng.standard_normal((3, 4))
    assert dp.gradcheck(net, X, np.array([0, 1, 1])) < 1e-6


def test_gradcheck_on_float32_net(rng):
    # gradcheck works on a float64 copy, so float32 nets check just as well
    net, X, y = _setup(rng, "tanh", "cross_entropy", dtype="float32")
    assert dp.gradcheck(net, X, y) < 1e-6


def test_gradcheck_leaves_net_unchanged(rng):
    net, X, y = _setup(rng, "tanh", "cross_entropy", dtype="float32")
    theta = net.get_params()
    dp.gradcheck(net, X, y)
    assert net.dtype == np.float32
    np.testing.assert_array_equal(net.get_params(), theta)


def test_gradcheck_custom_eps(rng):
    net, X, y = _setup(rng, "sigmoid", "mse")
    assert dp.gradcheck(net, X, y, eps=1e-5) < 1e-6


def test_gradcheck_single_sample_deep_net(rng):
    net, X, y = _setup(rng, "tanh", "binary_cross_entropy", n=1, sizes=[3, 4, 4, 4, 2])
    assert dp.gradcheck(net, X, y) < 1e-6


# ------------------------------------------------------------- our own finite differences
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_loss_and_grad_matches_own_finite_differences(rng, activation, loss):
    net, X, y = _setup(rng, activation, loss)
    _, grad = net.loss_and_grad(X, y)
    num = _fd_loss_grad(net, X, y)
    assert npref.rel_error(grad, num) < 1e-7
    np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-8)


def test_loss_and_grad_with_l2_matches_own_finite_differences(rng):
    net, X, y = _setup(rng, "tanh", "cross_entropy")
    _, grad = net.loss_and_grad(X, y, l2=0.25)
    num = _fd_loss_grad(net, X, y, l2=0.25)
    assert npref.rel_error(grad, num) < 1e-7
    np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-8)


def test_own_checker_detects_a_wrong_gradient(rng):
    # the check above is meaningful: one slightly wrong component is caught
    net, X, y = _setup(rng, "tanh", "cross_entropy")
    _, grad = net.loss_and_grad(X, y)
    num = _fd_loss_grad(net, X, y)
    wrong = grad.copy()
    k = int(np.argmax(np.abs(wrong)))
    wrong[k] *= 1.001
    assert npref.rel_error(grad, num) < 1e-7
    assert npref.rel_error(wrong, num) > 1e-5


def test_own_checker_detects_missing_l2_term(rng):
    net, X, y = _setup(rng, "tanh", "mse")
    _, grad_no_l2 = net.loss_and_grad(X, y, l2=0.0)
    num_l2 = _fd_loss_grad(net, X, y, l2=0.1)
    assert npref.rel_error(grad_no_l2, num_l2) > 1e-3


def test_numpy_reference_passes_its_own_gradcheck(rng):
    # the reference used across the suite is itself correct
    for activation in ACTS:
        for loss in LOSSES:
            Ws = [rng.standard_normal((7, 5)) * 0.5, rng.standard_normal((3, 7)) * 0.5]
            bs = [rng.standard_normal(7) * 0.5, rng.standard_normal(3) * 0.5]
            X = rng.standard_normal((3, 5))
            y = make_targets(rng, loss, 3, 3)
            _, grad = npref.loss_and_grad(Ws, bs, activation, loss, X, y, l2=0.1)

            def f(theta):
                W2, b2 = npref.unflatten(theta, [5, 7, 3])
                return npref.loss_and_grad(W2, b2, activation, loss, X, y, l2=0.1)[0]

            num = npref.numerical_grad(f, npref.flatten(Ws, bs))
            assert npref.rel_error(grad, num) < 1e-7, (activation, loss)
            np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-8)
