"""deltaprop.kernels loss kernels: values, gradients, numerical stability, PyTorch agreement."""
from __future__ import annotations

import math

import numpy as np
import pytest

from deltaprop import kernels as K

import npref
from conftest import assert_close, randn


def _fd_grad(f, x, eps=1e-6):
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        fp = f(x)
        x[idx] = old - eps
        fm = f(x)
        x[idx] = old
        g[idx] = (fp - fm) / (2 * eps)
    return g


# ------------------------------------------------------------------------ softmax cross-entropy
def test_softmax_ce_int_labels_matches_numpy(rng, dtype):
    logits = randn(rng, (17, 5), dtype, scale=2.0)
    labels = rng.integers(0, 5, 17)
    loss, grad = K.softmax_cross_entropy(logits, labels)
    ref_loss, ref_grad = npref.softmax_cross_entropy(logits, labels)
    assert isinstance(loss, float)
    assert grad.shape == logits.shape
    assert grad.dtype == dtype
    assert_close(loss, ref_loss, dtype, k=5)
    assert_close(grad, ref_grad, dtype, k=5)


def test_softmax_ce_hand_computed():
    # logits (0, 0) for two classes: p = (1/2, 1/2), loss = ln 2, dlogits = (p - onehot)/n
    loss, grad = K.softmax_cross_entropy(np.zeros((2, 2)), np.array([0, 1]))
    assert loss == pytest.approx(math.log(2), rel=1e-12)
    np.testing.assert_allclose(grad, [[-0.25, 0.25], [0.25, -0.25]], rtol=1e-12)


def test_softmax_ce_one_hot_rows_equal_int_labels(rng, dtype):
    logits = randn(rng, (11, 4), dtype)
    labels = rng.integers(0, 4, 11)
    onehot = npref.one_hot(labels, 4).astype(dtype)
    loss_i, grad_i = K.softmax_cross_entropy(logits, labels)
    loss_p, grad_p = K.softmax_cross_entropy(logits, onehot)
    assert_close(loss_p, loss_i, dtype)
    assert_close(grad_p, grad_i, dtype)


def test_softmax_ce_probability_rows_match_numpy(rng, dtype):
    logits = randn(rng, (8, 6), dtype)
    probs = rng.dirichlet(np.ones(6), size=8).astype(dtype)
    loss, grad = K.softmax_cross_entropy(logits, probs)
    ref_loss, ref_grad = npref.softmax_cross_entropy(logits, probs)
    assert_close(loss, ref_loss, dtype, k=6)
    assert_close(grad, ref_grad, dtype, k=6)


def test_softmax_ce_gradient_matches_finite_differences(rng):
    logits = rng.standard_normal((4, 3))
    labels = np.array([2, 0, 1, 2])
    _, grad = K.softmax_cross_entropy(logits, labels)
    num = _fd_grad(lambda z: K.softmax_cross_entropy(z, labels)[0], logits)
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-10)


def test_softmax_ce_gradient_rows_sum_to_zero(rng, dtype):
    logits = randn(rng, (9, 7), dtype, scale=5.0)
    _, grad = K.softmax_cross_entropy(logits, rng.integers(0, 7, 9))
    np.testing.assert_allclose(grad.astype(np.float64).sum(axis=1), 0.0, atol=1e-6 if dtype == np.float32 else 1e-15)


def test_softmax_ce_shift_invariant(rng, dtype):
    logits = randn(rng, (5, 4), dtype)
    labels = rng.integers(0, 4, 5)
    a = K.softmax_cross_entropy(logits, labels)
    b = K.softmax_cross_entropy(logits + dtype.type(1000.0), labels)
    assert_close(b[0], a[0], dtype, k=1000)
    assert_close(b[1], a[1], dtype, k=1000)


@pytest.mark.parametrize("label,expected_loss,expected_grad", [
    (0, 0.0, [0.0, 0.0, 0.0]),           # certain and right
    (1, 2e30, [1.0, -1.0, 0.0]),         # certain and wrong: loss = 1e30 - (-1e30)
    (2, 1e30, [1.0, 0.0, -1.0]),
])
def test_softmax_ce_huge_logits_are_finite(dtype, label, expected_loss, expected_grad):
    logits = np.array([[1e30, -1e30, 0.0]], dtype=dtype)
    loss, grad = K.softmax_cross_entropy(logits, np.array([label]))
    assert math.isfinite(loss)
    assert np.all(np.isfinite(grad))
    assert loss == pytest.approx(expected_loss, rel=1e-5, abs=1e-6)
    np.testing.assert_allclose(grad, [expected_grad], atol=1e-6)


def test_softmax_ce_equal_huge_logits(dtype):
    logits = np.array([[1e30, 1e30], [-1e30, -1e30]], dtype=dtype)
    loss, grad = K.softmax_cross_entropy(logits, np.array([0, 1]))
    assert loss == pytest.approx(math.log(2), rel=1e-5)
    np.testing.assert_allclose(grad, [[-0.25, 0.25], [0.25, -0.25]], atol=1e-6)


def test_softmax_ce_huge_logits_with_probability_rows(dtype):
    logits = np.array([[1e30, -1e30], [-1e30, 1e30]], dtype=dtype)
    loss, grad = K.softmax_cross_entropy(logits, np.array([[1.0, 0.0], [1.0, 0.0]], dtype=dtype))
    assert math.isfinite(loss)
    assert np.all(np.isfinite(grad))
    assert loss == pytest.approx(1e30, rel=1e-5)     # (0 + 2e30) / 2


def test_softmax_ce_single_class_is_zero(dtype):
    loss, grad = K.softmax_cross_entropy(np.array([[3.0], [-7.0]], dtype=dtype), np.array([0, 0]))
    assert loss == pytest.approx(0.0, abs=1e-7)
    np.testing.assert_allclose(grad, 0.0, atol=1e-7)


def test_softmax_ce_does_not_modify_inputs(rng, dtype):
    logits = randn(rng, (5, 3), dtype)
    labels = rng.integers(0, 3, 5)
    l0, y0 = logits.copy(), labels.copy()
    K.softmax_cross_entropy(logits, labels)
    np.testing.assert_array_equal(logits, l0)
    np.testing.assert_array_equal(labels, y0)


# ------------------------------------------------------------------------------------------ mse
def test_mse_matches_numpy(rng, dtype):
    pred = randn(rng, (12, 3), dtype)
    target = randn(rng, (12, 3), dtype)
    loss, grad = K.mse(pred, target)
    ref_loss, ref_grad = npref.mse(pred, target)
    assert isinstance(loss, float)
    assert grad.shape == pred.shape and grad.dtype == dtype
    assert_close(loss, ref_loss, dtype, k=36)
    assert_close(grad, ref_grad, dtype)


def test_mse_hand_computed():
    # d = (1, -2, 3, 0): 0.5 * mean(d^2) = 0.5 * 14/4 = 1.75, grad = d / 4
    loss, grad = K.mse(np.array([[1.0, 0.0], [3.0, 5.0]]), np.array([[0.0, 2.0], [0.0, 5.0]]))
    assert loss == pytest.approx(1.75, rel=1e-14)
    np.testing.assert_allclose(grad, [[0.25, -0.5], [0.75, 0.0]], rtol=1e-14)


def test_mse_one_dimensional(dtype):
    loss, grad = K.mse(np.array([2.0, 4.0], dtype=dtype), np.array([1.0, 1.0], dtype=dtype))
    assert loss == pytest.approx(0.5 * (1 + 9) / 2, rel=1e-6)
    np.testing.assert_allclose(grad, [0.5, 1.5], rtol=1e-6)


def test_mse_gradient_matches_finite_differences(rng):
    pred = rng.standard_normal((3, 4))
    target = rng.standard_normal((3, 4))
    _, grad = K.mse(pred, target)
    num = _fd_grad(lambda p: K.mse(p, target)[0], pred)
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-10)


def test_mse_zero_when_equal(rng, dtype):
    p = randn(rng, (4, 2), dtype)
    loss, grad = K.mse(p, p.copy())
    assert loss == 0.0
    np.testing.assert_array_equal(grad, np.zeros_like(p))


# --------------------------------------------------------------------- sigmoid binary cross-entropy
def test_bce_matches_numpy(rng, dtype):
    logits = randn(rng, (10, 3), dtype, scale=3.0)
    target = rng.integers(0, 2, (10, 3)).astype(dtype)
    loss, grad = K.sigmoid_binary_cross_entropy(logits, target)
    ref_loss, ref_grad = npref.sigmoid_bce(logits, target)
    assert isinstance(loss, float)
    assert grad.shape == logits.shape and grad.dtype == dtype
    assert_close(loss, ref_loss, dtype, k=30)
    assert_close(grad, ref_grad, dtype)


def test_bce_hand_computed():
    # z = 0: loss ln 2 for either target; grad (1/2 - t)/size
    loss, grad = K.sigmoid_binary_cross_entropy(np.zeros((1, 2)), np.array([[0.0, 1.0]]))
    assert loss == pytest.approx(math.log(2), rel=1e-12)
    np.testing.assert_allclose(grad, [[0.25, -0.25]], rtol=1e-12)


def test_bce_soft_targets_match_numpy(rng, dtype):
    logits = randn(rng, (6, 2), dtype)
    target = rng.uniform(0, 1, (6, 2)).astype(dtype)
    loss, grad = K.sigmoid_binary_cross_entropy(logits, target)
    ref_loss, ref_grad = npref.sigmoid_bce(logits, target)
    assert_close(loss, ref_loss, dtype, k=12)
    assert_close(grad, ref_grad, dtype)


def test_bce_gradient_matches_finite_differences(rng):
    logits = rng.standard_normal((3, 2)) * 2
    target = np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    _, grad = K.sigmoid_binary_cross_entropy(logits, target)
    num = _fd_grad(lambda z: K.sigmoid_binary_cross_entropy(z, target)[0], logits)
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("big", [50.0, 1e4, 1e30])
def test_bce_large_logits_are_finite(dtype, big):
    logits = np.array([[big, -big, big, -big]], dtype=dtype)
    target = np.array([[1.0, 0.0, 0.0, 1.0]], dtype=dtype)
    loss, grad = K.sigmoid_binary_cross_entropy(logits, target)
    assert math.isfinite(loss)
    assert np.all(np.isfinite(grad))
    # two right with certainty (0 each), two wrong with certainty (big each): mean = big / 2
    assert loss == pytest.approx(big / 2, rel=1e-5)
    np.testing.assert_allclose(grad, [[0.0, 0.0, 0.25, -0.25]], atol=1e-6)


# ---------------------------------------------------------------------------------------- torch
def test_losses_match_torch(rng):
    torch = pytest.importorskip("torch")
    logits = rng.standard_normal((7, 4)) * 3
    labels = rng.integers(0, 4, 7)
    target01 = rng.integers(0, 2, (7, 4)).astype(np.float64)
    target = rng.standard_normal((7, 4))

    def torch_loss_grad(fn, *args):
        z = torch.tensor(logits, requires_grad=True)
        value = fn(z, *args)
        value.backward()
        return value.item(), z.grad.numpy()

    ce = torch_loss_grad(torch.nn.functional.cross_entropy, torch.tensor(labels))
    bce = torch_loss_grad(torch.nn.functional.binary_cross_entropy_with_logits, torch.tensor(target01))
    ms = torch_loss_grad(lambda z, t: 0.5 * torch.nn.functional.mse_loss(z, t), torch.tensor(target))

    for ours, theirs in ((K.softmax_cross_entropy(logits, labels), ce),
                         (K.sigmoid_binary_cross_entropy(logits, target01), bce),
                         (K.mse(logits, target), ms)):
        assert ours[0] == pytest.approx(theirs[0], rel=1e-10)
        np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-9, atol=1e-14)
