"""deltaprop.kernels dense layer and activation kernels against numpy."""
from __future__ import annotations

import numpy as np
import pytest

from deltaprop import kernels as K

import npref
from conftest import assert_close, randn

ACTS = list(npref.ACTIVATIONS)


def _layer(rng, dtype, n=13, fan_in=11, fan_out=7):
    X = randn(rng, (n, fan_in), dtype)
    W = randn(rng, (fan_out, fan_in), dtype, scale=0.5)
    b = randn(rng, (fan_out,), dtype)
    return X, W, b


# ------------------------------------------------------------------------------- dense_forward
@pytest.mark.parametrize("activation", ACTS)
def test_dense_forward_matches_numpy(rng, dtype, activation):
    X, W, b = _layer(rng, dtype)
    Z, A = K.dense_forward(X, W, b, activation=activation)
    Zref = X.astype(np.float64) @ W.astype(np.float64).T + b.astype(np.float64)
    assert Z.shape == A.shape == (13, 7)
    assert Z.dtype == A.dtype == dtype
    assert_close(Z, Zref, dtype, k=11)
    assert_close(A, npref.act(activation, Zref), dtype, k=11)


def test_dense_forward_default_activation_is_identity(rng, dtype):
    X, W, b = _layer(rng, dtype)
    Z, A = K.dense_forward(X, W, b)
    np.testing.assert_array_equal(Z, A)


def test_dense_forward_single_row(rng, dtype):
    X, W, b = _layer(rng, dtype, n=1, fan_in=5, fan_out=3)
    Z, _ = K.dense_forward(X, W, b, activation="relu")
    assert Z.shape == (1, 3)
    assert_close(Z, X.astype(np.float64) @ W.astype(np.float64).T + b, dtype, k=5)


def test_dense_forward_large_layer(rng, dtype):
    X, W, b = _layer(rng, dtype, n=64, fan_in=300, fan_out=129)
    Z, A = K.dense_forward(X, W, b, activation="tanh")
    Zref = X.astype(np.float64) @ W.astype(np.float64).T + b.astype(np.float64)
    assert_close(Z, Zref, dtype, k=300)
    assert_close(A, np.tanh(Zref), dtype, k=300)


def test_dense_forward_accepts_transposed_weight_view(rng, dtype):
    # W stored as (in, out) like seed 004 and passed as the (out, in) view W.T
    X = randn(rng, (6, 4), dtype)
    W_in_out = randn(rng, (4, 3), dtype)
    b = randn(rng, (3,), dtype)
    Z, _ = K.dense_forward(X, W_in_out.T, b)
    assert_close(Z, X.astype(np.float64) @ W_in_out.astype(np.float64) + b, dtype, k=4)


def test_dense_forward_does_not_modify_inputs(rng, dtype):
    X, W, b = _layer(rng, dtype)
    copies = [X.copy(), W.copy(), b.copy()]
    K.dense_forward(X, W, b, activation="relu")
    for orig, arr in zip(copies, (X, W, b)):
        np.testing.assert_array_equal(arr, orig)


# ------------------------------------------------------------------------------- dense_backward
def test_dense_backward_matches_numpy(rng, dtype):
    X, W, _ = _layer(rng, dtype)
    dZ = randn(rng, (13, 7), dtype)
    dX, dW, db = K.dense_backward(X, W, dZ)
    X64, W64, dZ64 = (a.astype(np.float64) for a in (X, W, dZ))
    assert dX.shape == X.shape and dW.shape == W.shape and db.shape == (7,)
    assert dX.dtype == dW.dtype == db.dtype == dtype
    assert_close(dX, dZ64 @ W64, dtype, k=7)
    assert_close(dW, dZ64.T @ X64, dtype, k=13)
    assert_close(db, dZ64.sum(axis=0), dtype, k=13)


def test_dense_backward_large_batch(rng, dtype):
    X, W, _ = _layer(rng, dtype, n=257, fan_in=65, fan_out=33)
    dZ = randn(rng, (257, 33), dtype)
    dX, dW, db = K.dense_backward(X, W, dZ)
    X64, W64, dZ64 = (a.astype(np.float64) for a in (X, W, dZ))
    assert_close(dX, dZ64 @ W64, dtype, k=33)
    assert_close(dW, dZ64.T @ X64, dtype, k=257)
    assert_close(db, dZ64.sum(axis=0), dtype, k=257)


def test_dense_backward_matches_finite_differences(rng):
    # scalar objective L = sum(G * (X W^T + b)) has dL/dZ = G
    X, W, b = _layer(rng, np.float64, n=4, fan_in=3, fan_out=2)
    G = rng.standard_normal((4, 2))
    dX, dW, db = K.dense_backward(X, W, G)

    def L(Xv, Wv, bv):
        return float((G * (Xv @ Wv.T + bv)).sum())

    eps = 1e-6
    for arr, grad in ((X, dX), (W, dW), (b, db)):
        num = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + eps
            fp = L(X, W, b)
            arr[idx] = old - eps
            fm = L(X, W, b)
            arr[idx] = old
            num[idx] = (fp - fm) / (2 * eps)
        np.testing.assert_allclose(grad, num, rtol=1e-7, atol=1e-8)


# ------------------------------------------------------------------------------- activations
@pytest.mark.parametrize("activation", ACTS)
def test_activation_forward_matches_numpy(rng, dtype, activation):
    Z = randn(rng, (9, 8), dtype, scale=3.0)
    A = K.activation_forward(activation, Z)
    assert A.shape == Z.shape
    assert A.dtype == dtype
    assert_close(A, npref.act(activation, Z), dtype)


@pytest.mark.parametrize("activation", ACTS)
def test_activation_backward_matches_numpy(rng, dtype, activation):
    Z = randn(rng, (9, 8), dtype, scale=3.0)
    A = npref.act(activation, Z).astype(dtype)
    dA = randn(rng, (9, 8), dtype)
    dZ = K.activation_backward(activation, Z, A, dA)
    assert dZ.shape == Z.shape
    assert dZ.dtype == dtype
    assert_close(dZ, dA.astype(np.float64) * npref.act_grad(activation, Z), dtype)


@pytest.mark.parametrize("activation", ACTS)
def test_activation_backward_matches_finite_differences(rng, activation):
    Z = rng.standard_normal((5, 6)) * 2.0
    Z[np.abs(Z) < 1e-3] = 0.5                      # stay away from the ReLU kink
    A = K.activation_forward(activation, Z)
    dA = rng.standard_normal(Z.shape)
    dZ = K.activation_backward(activation, Z, A, dA)
    eps = 1e-6
    num = (K.activation_forward(activation, Z + eps) - K.activation_forward(activation, Z - eps)) / (2 * eps)
    np.testing.assert_allclose(dZ, dA * num, rtol=1e-6, atol=1e-9)


def test_identity_forward_is_exact(rng, dtype):
    Z = randn(rng, (4, 5), dtype)
    np.testing.assert_array_equal(K.activation_forward("identity", Z), Z)


def test_relu_values(dtype):
    Z = np.array([[-2.0, -0.0, 0.0, 1e-30, 3.5]], dtype=dtype)
    np.testing.assert_array_equal(K.activation_forward("relu", Z),
                                  np.array([[0.0, 0.0, 0.0, 1e-30, 3.5]], dtype=dtype))


def test_relu_derivative_at_zero_is_zero(dtype):
    Z = np.array([[-1.0, 0.0, 2.0]], dtype=dtype)
    A = K.activation_forward("relu", Z)
    dA = np.array([[5.0, 7.0, 11.0]], dtype=dtype)
    np.testing.assert_array_equal(K.activation_backward("relu", Z, A, dA),
                                  np.array([[0.0, 0.0, 11.0]], dtype=dtype))


def test_leaky_relu_slope_is_0_01(dtype):
    Z = np.array([[-100.0, -1.0, 2.0]], dtype=dtype)
    A = K.activation_forward("leaky_relu", Z)
    assert_close(A, [[-1.0, -0.01, 2.0]], dtype)
    dZ = K.activation_backward("leaky_relu", Z, A, np.ones_like(Z))
    assert_close(dZ, [[0.01, 0.01, 1.0]], dtype)


def test_sigmoid_values(dtype):
    Z = np.array([[0.0, 1.0, -1.0, 2.0]], dtype=dtype)
    # sigma(0) = 1/2, sigma(1) = 1/(1+e^-1) = 0.7310585786300049, sigma(-z) = 1 - sigma(z)
    expected = [[0.5, 0.7310585786300049, 0.2689414213699951, 0.8807970779778823]]
    assert_close(K.activation_forward("sigmoid", Z), expected, dtype)


def test_sigmoid_saturates_without_nan(dtype):
    Z = np.array([[-1e4, -800.0, -100.0, 100.0, 800.0, 1e4]], dtype=dtype)
    A = K.activation_forward("sigmoid", Z)
    assert np.all(np.isfinite(A))
    assert_close(A, npref.sigmoid(Z), dtype)
    dZ = K.activation_backward("sigmoid", Z, A, np.ones_like(Z))
    assert np.all(np.isfinite(dZ))
    assert np.all(np.abs(dZ) < 1e-30)


def test_tanh_saturates_without_nan(dtype):
    Z = np.array([[-1e4, -50.0, 50.0, 1e4]], dtype=dtype)
    A = K.activation_forward("tanh", Z)
    np.testing.assert_array_equal(A, np.array([[-1.0, -1.0, 1.0, 1.0]], dtype=dtype))
    dZ = K.activation_backward("tanh", Z, A, np.ones_like(Z))
    np.testing.assert_array_equal(dZ, np.zeros_like(Z))


def test_sigmoid_derivative_at_zero_is_quarter(dtype):
    Z = np.zeros((1, 3), dtype=dtype)
    A = K.activation_forward("sigmoid", Z)
    dZ = K.activation_backward("sigmoid", Z, A, np.array([[1.0, 2.0, -4.0]], dtype=dtype))
    assert_close(dZ, [[0.25, 0.5, -1.0]], dtype)


def test_activation_forward_does_not_modify_input(rng, dtype):
    Z = randn(rng, (6, 6), dtype)
    Z0 = Z.copy()
    K.activation_forward("relu", Z)
    np.testing.assert_array_equal(Z, Z0)


def test_dense_forward_then_backward_chain(rng, dtype):
    # one hidden tanh layer: compose the kernels and compare with numpy backprop
    X, W, b = _layer(rng, dtype, n=10, fan_in=6, fan_out=5)
    Z, A = K.dense_forward(X, W, b, activation="tanh")
    dA = randn(rng, A.shape, dtype)
    dZ = K.activation_backward("tanh", Z, A, dA)
    dX, dW, db = K.dense_backward(X, W, dZ)
    X64, W64 = X.astype(np.float64), W.astype(np.float64)
    Zr = X64 @ W64.T + b.astype(np.float64)
    dZr = dA.astype(np.float64) * (1 - np.tanh(Zr) ** 2)
    assert_close(dX, dZr @ W64, dtype, k=10)
    assert_close(dW, dZr.T @ X64, dtype, k=10)
    assert_close(db, dZr.sum(0), dtype, k=10)
