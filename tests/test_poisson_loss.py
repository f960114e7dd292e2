"""The poisson loss (log link): the fused kernel against a numpy reference and PyTorch's
PoissonNLLLoss(log_input=True), the network's gradient against central differences, the exp
output, and an overflowing rate reported as divergence rather than NaN weights."""
from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import kernels

import npref
from conftest import tols


def _reference(z, t):
    """mean(exp(z) - t z) and its gradient (exp(z) - t) / z.size, in float64."""
    z, t = np.asarray(z, np.float64), np.asarray(t, np.float64)
    return float(np.mean(np.exp(z) - t * z)), (np.exp(z) - t) / z.size


def test_kernel_matches_numpy(rng, dtype):
    z = rng.normal(0.0, 2.0, (13, 3)).astype(dtype)
    t = rng.poisson(3.0, (13, 3)).astype(dtype)
    loss, grad = kernels.poisson(z, t)
    ref_loss, ref_grad = _reference(z, t)
    assert grad.dtype == dtype
    assert loss == pytest.approx(ref_loss, rel=tols(dtype)["rtol"])
    np.testing.assert_allclose(grad, ref_grad, **tols(dtype))


def test_kernel_matches_torch(rng):
    torch = pytest.importorskip("torch")
    z = rng.normal(0.0, 1.5, (40, 2))
    t = rng.poisson(2.0, (40, 2)).astype(np.float64)
    zt = torch.tensor(z, requires_grad=True)
    expected = torch.nn.PoissonNLLLoss(log_input=True)(zt, torch.tensor(t))
    expected.backward()
    loss, grad = kernels.poisson(z, t)
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_overflowing_rate_is_infinite_not_nan():
    loss, grad = kernels.poisson(np.array([800.0, 0.0]), np.array([0.0, 1.0]))
    assert loss == np.inf and grad[0] == np.inf and np.isfinite(grad[1])
    loss32, grad32 = kernels.poisson(np.array([100.0], np.float32), np.array([2.0], np.float32))
    assert grad32[0] == np.inf and not np.isnan(loss32)


@pytest.mark.parametrize("activation", ["tanh", "relu", "identity"])
def test_network_gradient_matches_central_differences(rng, activation):
    net = dp.MLP([4, 6, 2], activation=activation, loss="poisson", dtype="float64", seed=3)
    net.set_params(0.3 * rng.standard_normal(net.num_params))
    X = rng.standard_normal((7, 4))
    y = rng.poisson(2.0, (7, 2)).astype(np.float64)
    loss, grad = net.loss_and_grad(X, y, l2=0.1)

    def f(theta):
        net.set_params(theta)
        return net.loss_and_grad(X, y, l2=0.1)[0]

    theta = net.get_params()
    numeric = npref.numerical_grad(f, theta)
    net.set_params(theta)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    assert dp.gradcheck(net, X, y) < 1e-6
    # the loss is the reference's on the network's logits, plus the L2 term
    ref, _ = _reference(net.forward(X), y)
    penalty = 0.05 * sum(float(np.sum(layer.W ** 2)) for layer in net.layers)
    assert loss == pytest.approx(ref + penalty, rel=1e-12)


def test_output_is_the_rate(rng):
    net = dp.MLP([3, 5, 2], activation="tanh", loss="poisson", dtype="float64", seed=1)
    X = rng.standard_normal((6, 3))
    np.testing.assert_allclose(net.predict_proba(X), np.exp(net.forward(X)), rtol=1e-14)
    np.testing.assert_allclose(net.predict(X), np.exp(net.forward(X)), rtol=1e-14)
    assert net.layers[-1].activation == "exp"


def _poisson_mle(X, y):
    """Newton's method on mean(exp(Aθ) - y Aθ), A = [X, 1]: the maximum likelihood (w, b)."""
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    theta = np.zeros(A.shape[1])
    for _ in range(50):
        rate = np.exp(A @ theta)
        theta -= np.linalg.solve(A.T @ (rate[:, None] * A), A.T @ (rate - y))
    return theta


def test_fit_finds_the_maximum_likelihood_rate_and_refuses_negative_counts(rng):
    X = rng.uniform(0.0, 1.0, (400, 1))
    y = rng.poisson(np.exp(1.0 + X[:, 0])).astype(np.float64)
    net = dp.MLP([1, 1], activation="identity", loss="poisson", dtype="float64", seed=0)
    net.fit(X, y, epochs=4000, batch_size=400, optimizer="sgd", lr=0.2, shuffle=False)
    w, b = _poisson_mle(X, y)
    assert net.layers[0].W[0, 0] == pytest.approx(w, abs=1e-3)
    assert net.layers[0].b[0] == pytest.approx(b, abs=1e-3)
    with pytest.raises(ValueError, match="poisson"):
        net.fit(X, -y, epochs=1)


def test_overflow_during_fit_is_reported(rng):
    X = rng.standard_normal((50, 2)) * 100.0
    y = rng.poisson(3.0, 50).astype(np.float64)
    net = dp.MLP([2, 4, 1], activation="relu", loss="poisson", dtype="float32", seed=0)
    net.set_params(np.full(net.num_params, 5.0, np.float32))
    before = net.get_params()
    with pytest.raises(FloatingPointError, match="diverged"):
        net.fit(X, y, epochs=3, batch_size=50, optimizer="sgd", lr=1.0)
    np.testing.assert_array_equal(net.get_params(), before)   # the last finite weights, not NaN


def test_saved_and_loaded(tmp_path, rng):
    net = dp.MLP([3, 4, 2], activation="relu", loss="poisson", dtype="float64", seed=2)
    net.save(tmp_path / "m.npz")
    back = dp.load(tmp_path / "m.npz")
    X = rng.standard_normal((5, 3))
    assert back.loss == "poisson"
    np.testing.assert_array_equal(back.predict(X), net.predict(X))
