"""Property-based tests of the kernels against numpy written here, on random shapes, layouts
(transposes, column slices, non-contiguous copies) and values including extremes: ±1e30 logits,
denormals, zeros, all-equal rows. Finite input never gives NaN or inf."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deltaprop import kernels as K

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
dtypes = st.sampled_from([np.float32, np.float64])


def _extreme(dtype):
    tiny = float(np.finfo(dtype).smallest_subnormal)
    return st.sampled_from([0.0, -0.0, 1e30, -1e30, tiny, -tiny, 1.0, -1.0, 88.0, -88.0, 710.0, -745.0])


@st.composite
def logits_and_labels(draw):
    dtype = draw(dtypes)
    n, c = draw(st.integers(1, 6)), draw(st.integers(1, 9))
    ordinary = st.floats(-50, 50, allow_nan=False, width=32)
    values = draw(st.lists(st.one_of(ordinary, _extreme(dtype)), min_size=n * c, max_size=n * c))
    z = np.array(values, dtype=np.float64).reshape(n, c)
    if draw(st.booleans()):  # some rows all equal
        z[draw(st.integers(0, n - 1))] = draw(st.one_of(ordinary, _extreme(dtype)))
    labels = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.int64)
    return z.astype(dtype), labels


def _reference_softmax_ce(z, labels):
    z = z.astype(np.float64)
    shifted = z - z.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1))
    loss = np.mean(log_sum - shifted[np.arange(len(z)), labels])
    probs = np.exp(shifted - log_sum[:, None])
    probs[np.arange(len(z)), labels] -= 1.0
    return loss, probs / len(z)


@SETTINGS
@given(logits_and_labels())
def test_softmax_cross_entropy_is_finite_and_matches_numpy(case):
    z, labels = case
    loss, grad = K.softmax_cross_entropy(z, labels)
    assert np.isfinite(loss) and np.isfinite(grad).all()
    ref_loss, ref_grad = _reference_softmax_ce(z, labels)
    eps = np.finfo(z.dtype).eps
    scale = max(1.0, float(np.abs(z).max()))
    assert abs(loss - ref_loss) <= 16 * eps * scale * z.shape[1] + 16 * eps * abs(ref_loss)
    np.testing.assert_allclose(grad, ref_grad, rtol=0, atol=64 * eps)
    assert grad.dtype == z.dtype


@SETTINGS
@given(logits_and_labels())
def test_softmax_cross_entropy_with_probability_rows(case):
    z, labels = case
    rows = np.eye(z.shape[1], dtype=z.dtype)[labels]
    loss, grad = K.softmax_cross_entropy(z, rows)
    ref_loss, ref_grad = _reference_softmax_ce(z, labels)
    assert np.isfinite(loss) and np.isfinite(grad).all()
    eps = np.finfo(z.dtype).eps
    assert abs(loss - ref_loss) <= 16 * eps * max(1.0, float(np.abs(z).max())) * z.shape[1] + 16 * eps * abs(ref_loss)
    np.testing.assert_allclose(grad, ref_grad, rtol=0, atol=64 * eps)


@st.composite
def gemm_case(draw):
    dtype = draw(dtypes)
    m, n, k = draw(st.integers(1, 40)), draw(st.integers(1, 40)), draw(st.integers(1, 40))
    ta, tb = draw(st.booleans()), draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    def operand(rows, cols):
        layout = draw(st.sampled_from(["contiguous", "column_slice", "transposed_copy", "every_other_row"]))
        if layout == "column_slice":  # rows contiguous, leading dimension > width
            return rng.standard_normal((rows, cols + 5)).astype(dtype)[:, 2:2 + cols]
        if layout == "transposed_copy":  # Fortran order
            return np.asfortranarray(rng.standard_normal((rows, cols)).astype(dtype))
        if layout == "every_other_row":
            return rng.standard_normal((2 * rows, cols)).astype(dtype)[::2]
        return rng.standard_normal((rows, cols)).astype(dtype)

    A = operand(k, m) if ta else operand(m, k)
    B = operand(n, k) if tb else operand(k, n)
    scale = draw(st.sampled_from([1.0, 1e-30, 1e15]))
    return A * dtype(scale), B, ta, tb, k


@SETTINGS
@given(gemm_case())
def test_gemm_matches_numpy_on_any_layout(case):
    A, B, ta, tb, k = case
    expected = (A.T if ta else A).astype(np.float64) @ (B.T if tb else B).astype(np.float64)
    C = K.gemm(A, B, trans_a=ta, trans_b=tb)
    assert C.dtype == A.dtype and np.isfinite(C).all()
    eps = np.finfo(A.dtype).eps
    bound = np.abs(A).max() * np.abs(B).max() * k * 8 * eps
    np.testing.assert_allclose(C, expected, rtol=0, atol=bound + np.finfo(A.dtype).tiny)


@SETTINGS
@given(dtypes, st.integers(1, 12), st.integers(1, 12), st.integers(1, 12),
       st.sampled_from(["identity", "sigmoid", "tanh", "relu", "leaky_relu"]), st.integers(0, 2**32 - 1))
def test_dense_forward_matches_numpy(dtype, n, fan_in, fan_out, activation, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, fan_in)).astype(dtype)
    W = rng.standard_normal((fan_out, fan_in)).astype(dtype)
    b = rng.standard_normal(fan_out).astype(dtype)
    Z, A = K.dense_forward(X, W, b, activation=activation)
    z = X.astype(np.float64) @ W.T.astype(np.float64) + b
    g = {"identity": z, "sigmoid": 0.5 * (1 + np.tanh(z / 2)), "tanh": np.tanh(z),
         "relu": np.maximum(z, 0), "leaky_relu": np.where(z > 0, z, 0.01 * z)}[activation]
    tol = 64 * np.finfo(dtype).eps * max(1, fan_in)
    np.testing.assert_allclose(Z, z, rtol=tol, atol=tol)
    np.testing.assert_allclose(A, g, rtol=tol, atol=tol)


@SETTINGS
@given(dtypes, st.sampled_from(["identity", "sigmoid", "tanh", "relu", "leaky_relu"]),
       st.lists(st.floats(-1e30, 1e30), min_size=1, max_size=40))
def test_activations_of_finite_values_are_finite(dtype, name, values):
    Z = np.array(values, dtype=dtype)
    A = K.activation_forward(name, Z)
    assert np.isfinite(A).all()
    dZ = K.activation_backward(name, Z, A, np.ones_like(Z))
    assert np.isfinite(dZ).all()


@SETTINGS
@given(dtypes, st.lists(st.one_of(st.floats(-60, 60, width=32), st.sampled_from([1e30, -1e30, 0.0])),
                        min_size=1, max_size=30), st.integers(0, 2**32 - 1))
def test_sigmoid_bce_is_finite_and_matches_numpy(dtype, values, seed):
    z = np.array(values, dtype=dtype)
    t = np.random.default_rng(seed).integers(0, 2, z.size).astype(dtype)
    loss, grad = K.sigmoid_binary_cross_entropy(z, t)
    assert np.isfinite(loss) and np.isfinite(grad).all()
    z64 = z.astype(np.float64)
    ref = np.mean(np.maximum(z64, 0) - z64 * t + np.log1p(np.exp(-np.abs(z64))))
    eps = np.finfo(dtype).eps
    assert abs(loss - ref) <= 16 * eps * max(1.0, abs(ref)) + 16 * eps
