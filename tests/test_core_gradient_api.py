"""The core network's evaluate, gradient and apply_gradient: against the numpy reference
(npref's backprop, optimizers written here), and gradient + apply_gradient against train_step —
what a data-parallel step (gradients of shards, averaged, applied once) relies on."""
from __future__ import annotations

import numpy as np
import pytest

import npref
from deltaprop import _core

SIZES = [5, 7, 4, 3]
N = 24
ACT = "tanh"


def _config(kind="sgd", **fields):
    cfg = _core.OptimizerConfig()
    cfg.kind = _core.OptimizerKind[kind]
    for name, value in fields.items():
        setattr(cfg, name, value)
    return cfg


def _net(loss="cross_entropy", dtype=np.float64, seed=3):
    core = _core.Network_float64 if dtype == np.float64 else _core.Network_float32
    return core(SIZES, [_core.Activation[ACT]] * (len(SIZES) - 2), _core.Loss[loss], seed)


def _problem(rng, loss="cross_entropy", dtype=np.float64, n=N):
    X = rng.normal(size=(n, SIZES[0])).astype(dtype)
    if loss == "cross_entropy":
        return X, rng.integers(0, SIZES[-1], n).astype(np.int64), None
    return X, None, rng.normal(size=(n, SIZES[-1])).astype(dtype)


def _copy(net, dtype=np.float64, loss="cross_entropy"):
    twin = _net(loss, dtype)
    twin.params()[:] = net.params()
    return twin


# ------------------------------------------------------------------------------------ evaluate
@pytest.mark.parametrize("loss", ["cross_entropy", "mse", "binary_cross_entropy"])
def test_evaluate_is_loss_and_logits_of_one_forward_pass(rng, loss):
    net = _net(loss)
    X, labels, values = _problem(rng, loss)
    if loss == "binary_cross_entropy":
        values = (values > 0).astype(np.float64)
    value, logits = net.evaluate(X, labels, values)
    Ws, bs = npref.unflatten(net.params(), SIZES)
    Zs, _ = npref.forward(Ws, bs, ACT, loss, X)
    np.testing.assert_allclose(logits, Zs[-1], rtol=1e-12, atol=1e-14)
    ref_loss, _ = npref.loss_fn(loss, Zs[-1], labels if labels is not None else values)
    assert value == pytest.approx(ref_loss, rel=1e-12)
    assert value == net.evaluate_loss(X, labels, values)
    np.testing.assert_array_equal(logits, net.forward(X))


def test_evaluate_checks_its_arguments():
    net = _net()
    with pytest.raises(ValueError, match="X"):
        net.evaluate(np.zeros((4, 6)), np.zeros(4, np.int64), None)
    with pytest.raises(ValueError, match="y"):
        net.evaluate(np.zeros((4, 5)), np.zeros(3, np.int64), None)


# ------------------------------------------------------------------------------------ gradient
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_gradient_matches_numpy_backprop(rng, loss):
    net = _net(loss)
    X, labels, values = _problem(rng, loss)
    before = net.params().copy()
    value, grad = net.gradient(X, labels, values, 0.3)
    Ws, bs = npref.unflatten(before, SIZES)
    ref_value, ref_grad = npref.loss_and_grad(Ws, bs, ACT, loss, X, labels if labels is not None else values, l2=0.3)
    assert value == pytest.approx(ref_value, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-13)
    np.testing.assert_array_equal(net.params(), before)  # no update
    old_value, old_grad = net.loss_and_grad(X, labels, values, 0.3)  # the former name
    assert old_value == value
    np.testing.assert_array_equal(old_grad, grad)


def test_gradients_of_shards_weighted_by_rows_sum_to_the_batch_gradient(rng):
    net = _net()
    X, labels, _ = _problem(rng)
    _, full = net.gradient(X, labels, None, 0.0)
    parts = [(0, 10), (10, 17), (17, N)]
    total = sum((b - a) / N * net.gradient(X[a:b], labels[a:b], None, 0.0)[1] for a, b in parts)
    np.testing.assert_allclose(total, full, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------- gradient + apply_gradient
CONFIGS = {
    "momentum": dict(lr=0.05, momentum=0.9),
    "nesterov": dict(lr=0.05, momentum=0.8, nesterov=True),
    "sgdw_l2": dict(lr=0.05, momentum=0.5, weight_decay=0.3, l2=0.1),
    "clip": dict(lr=0.1, momentum=0.9, clip_norm=0.05),
    "adam": dict(kind="adam", lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6),
    "adamw_l2": dict(kind="adam", lr=0.01, weight_decay=0.5, l2=0.2),
    "adam_l2_per_sample": dict(kind="adam", lr=0.01, l2=0.5, l2_per_sample=True),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_gradient_then_apply_gradient_is_train_step_bitwise(rng, name, dtype):
    cfg = _config(**CONFIGS[name])
    X, labels, _ = _problem(rng, dtype=dtype)
    weights = rng.uniform(0.5, 2.0, N).astype(dtype)
    a = _net(dtype=dtype)
    b = _copy(a, dtype)
    for step in range(4):
        rows = slice(6 * step, 6 * step + 6)
        w = weights[rows] if step % 2 else None
        loss_a = a.train_step(X[rows], labels[rows], None, w, cfg)
        loss_b, grad = b.gradient(X[rows], labels[rows], None, 0.0, w)
        mass = float(np.sum(w, dtype=np.float64)) if w is not None else 6.0  # as the core sums it
        b.apply_gradient(grad, cfg, mass)
        np.testing.assert_array_equal(b.params(), a.params())
        assert loss_b <= loss_a  # train_step's loss adds the L2 term, gradient(l2=0) does not
    sa, sb = a.optimizer_state(), b.optimizer_state()
    assert sa["steps"] == sb["steps"] == 4
    for key in ("velocity", "adam_m", "adam_v"):
        np.testing.assert_array_equal(sa[key], sb[key])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_gradient_then_apply_gradient_matches_the_fused_plain_sgd_step(rng, dtype):
    """Plain SGD's train_step updates W inside the dW product (W := (1 - lr·l2) W - lr dW);
    apply_gradient computes the same step from the gradient, equal up to rounding."""
    cfg = _config(lr=0.1, l2=0.05)
    assert cfg.is_plain_sgd
    X, labels, _ = _problem(rng, dtype=dtype)
    a = _net(dtype=dtype)
    b = _copy(a, dtype)
    for step in range(3):
        rows = slice(8 * step, 8 * step + 8)
        a.train_step(X[rows], labels[rows], None, None, cfg)
        _, grad = b.gradient(X[rows], labels[rows], None, 0.0)
        b.apply_gradient(grad, cfg)
    rtol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(b.params(), a.params(), rtol=rtol, atol=rtol)
    assert a.optimizer_state()["steps"] == b.optimizer_state()["steps"] == 3


def test_averaged_shard_gradients_applied_once_match_train_step(rng):
    """The data-parallel step: per-shard gradients weighted by rows, then one apply_gradient."""
    cfg = _config("adam", lr=0.01, l2=0.1)
    X, labels, _ = _problem(rng)
    a = _net()
    b = _copy(a)
    a.train_step(X, labels, None, None, cfg)
    grad = sum((hi - lo) / N * b.gradient(X[lo:hi], labels[lo:hi], None, 0.0)[1]
               for lo, hi in [(0, 9), (9, N)])
    b.apply_gradient(grad, cfg)
    np.testing.assert_allclose(b.params(), a.params(), rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------- apply_gradient vs numpy optimizers
MASK = npref.weight_mask(SIZES)


def _numpy_step(cfg, theta, g, state, l2):
    """One optimizer step as documented (torch.optim's maths), in float64."""
    g = g + l2 * MASK * theta
    if cfg.clip_norm > 0:
        norm = np.linalg.norm(g)
        if norm > cfg.clip_norm:
            g = g * (cfg.clip_norm / (norm + 1e-6))
    theta = theta * (1 - cfg.lr * cfg.weight_decay * MASK)
    t = state["t"] = state.get("t", 0) + 1
    if cfg.kind == _core.OptimizerKind.adam:
        m = state["m"] = cfg.beta1 * state.get("m", 0.0) + (1 - cfg.beta1) * g
        v = state["v"] = cfg.beta2 * state.get("v", 0.0) + (1 - cfg.beta2) * g * g
        return theta - cfg.lr * (m / (1 - cfg.beta1 ** t)) / (np.sqrt(v / (1 - cfg.beta2 ** t)) + cfg.eps)
    if cfg.momentum == 0:
        return theta - cfg.lr * g
    v = state["v"] = cfg.momentum * state.get("v", 0.0) + g
    return theta - cfg.lr * (g + cfg.momentum * v if cfg.nesterov else v)


@pytest.mark.parametrize("name", list(CONFIGS) + ["plain"])
def test_apply_gradient_matches_numpy_optimizers(rng, name):
    cfg = _config(**CONFIGS.get(name, dict(lr=0.1, l2=0.02)))
    net = _net()
    theta = net.params().astype(np.float64)
    state = {}
    mass = 16.0
    l2 = cfg.l2 / mass if cfg.l2_per_sample else cfg.l2
    for _ in range(4):
        grad = rng.normal(size=net.num_params)
        given = grad.copy()
        net.apply_gradient(grad, cfg, mass)
        np.testing.assert_array_equal(grad, given)  # the caller's gradient is left as it was
        theta = _numpy_step(cfg, theta, grad, state, l2)
        np.testing.assert_allclose(net.params(), theta, rtol=1e-11, atol=1e-13)
    assert net.optimizer_state()["steps"] == 4


def test_apply_gradient_checks_its_arguments():
    net = _net()
    with pytest.raises(ValueError, match=r"grad: expected shape \(%d,\)" % net.num_params):
        net.apply_gradient(np.zeros(net.num_params + 1), _config(lr=0.1))
    with pytest.raises(ValueError, match="mass"):
        net.apply_gradient(np.zeros(net.num_params), _config(lr=0.1, l2=0.1, l2_per_sample=True))
    with pytest.raises(ValueError, match="mass"):
        net.apply_gradient(np.zeros(net.num_params), _config(lr=0.1), -1.0)
    before = net.params().copy()
    with pytest.raises(TypeError):
        net.apply_gradient(np.zeros(net.num_params), None)
    np.testing.assert_array_equal(net.params(), before)
