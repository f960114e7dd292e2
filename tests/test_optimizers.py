"""Optimizer updates and learning-rate schedules against a numpy reference written here and
against torch.optim; the plain-SGD fused path stays as it was."""
from __future__ import annotations

import math

import numpy as np
import pytest

import deltaprop as dp
import npref
from deltaprop.optimizers import Adaptive, Cosine, InvScaling, StepDecay

SIZES = [5, 7, 4, 3]
N = 24


def _problem(rng, loss="cross_entropy"):
    X = rng.normal(size=(N, SIZES[0]))
    y = rng.integers(0, SIZES[-1], N) if loss == "cross_entropy" else rng.normal(size=(N, SIZES[-1]))
    net = dp.MLP(SIZES, activation="tanh", loss=loss, dtype="float64", seed=3)
    return net, X, y


def _reference_run(net, X, y, steps, update, l2=0.0):
    """Full-batch steps in numpy: grad from npref's backprop, then `update(theta, grad, t)`."""
    theta = net.get_params().astype(np.float64)
    for t in range(1, steps + 1):
        Ws, bs = npref.unflatten(theta, SIZES)
        _, grad = npref.loss_and_grad(Ws, bs, "tanh", net.loss, X, y, l2=l2)
        theta = update(theta, grad, t)
    return theta


def _fit_full_batch(net, X, y, steps, **kw):
    net.fit(X, y, epochs=steps, batch_size=N, shuffle=False, **kw)
    return net.get_params()


MASK = npref.weight_mask(SIZES)


def sgd_reference(lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    v = {}

    def update(theta, g, t):
        theta = theta * (1 - lr * weight_decay * MASK)
        if momentum == 0:
            return theta - lr * g
        v["v"] = momentum * v.get("v", 0.0) + g
        step = g + momentum * v["v"] if nesterov else v["v"]
        return theta - lr * step
    return update


def adam_reference(lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0):
    s = {"m": 0.0, "v": 0.0}

    def update(theta, g, t):
        theta = theta * (1 - lr * weight_decay * MASK)
        s["m"] = b1 * s["m"] + (1 - b1) * g
        s["v"] = b2 * s["v"] + (1 - b2) * g * g
        m_hat = s["m"] / (1 - b1 ** t)
        v_hat = s["v"] / (1 - b2 ** t)
        return theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return update


CASES = [
    ("sgd", lambda: dp.SGD(lr=0.1), sgd_reference(0.1)),
    ("momentum", lambda: dp.SGD(lr=0.05, momentum=0.9), sgd_reference(0.05, 0.9)),
    ("nesterov", lambda: dp.SGD(lr=0.05, momentum=0.8, nesterov=True), sgd_reference(0.05, 0.8, True)),
    ("sgdw", lambda: dp.SGD(lr=0.05, momentum=0.5, weight_decay=0.3), sgd_reference(0.05, 0.5, weight_decay=0.3)),
    ("adam", lambda: dp.Adam(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6), adam_reference(0.01, 0.8, 0.99, 1e-6)),
    ("adamw", lambda: dp.AdamW(lr=0.01, weight_decay=0.5), adam_reference(0.01, weight_decay=0.5)),
]


@pytest.mark.parametrize("name,make,reference", CASES, ids=[c[0] for c in CASES])
def test_update_matches_numpy_reference(rng, name, make, reference):
    net, X, y = _problem(rng)
    expected = _reference_run(net, X, y, 5, reference)
    got = _fit_full_batch(net, X, y, 5, optimizer=make())
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-11)


def test_coupled_l2_with_momentum_matches_reference(rng):
    net, X, y = _problem(rng, "mse")
    expected = _reference_run(net, X, y, 4, sgd_reference(0.05, 0.9), l2=0.2)
    got = _fit_full_batch(net, X, y, 4, optimizer=dp.SGD(lr=0.05, momentum=0.9), l2=0.2)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-11)


def test_gradient_norm_clipping_matches_reference(rng):
    net, X, y = _problem(rng)
    max_norm = 0.05

    def update(theta, g, t):
        norm = np.linalg.norm(g)
        assert norm > max_norm  # the clip is active in this test
        return theta - 0.1 * g * (max_norm / (norm + 1e-6))

    expected = _reference_run(net, X, y, 3, update)
    got = _fit_full_batch(net, X, y, 3, optimizer=dp.SGD(lr=0.1, clip_norm=max_norm))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-11)


def test_optimizer_names_in_fit(rng):
    net, X, y = _problem(rng)
    expected = _reference_run(net, X, y, 3, adam_reference(0.02))
    np.testing.assert_allclose(_fit_full_batch(net, X, y, 3, optimizer="adam", lr=0.02), expected, rtol=1e-9)
    net, X, y = _problem(np.random.default_rng(1))
    expected = _reference_run(net, X, y, 3, sgd_reference(0.02, 0.9, True))
    np.testing.assert_allclose(_fit_full_batch(net, X, y, 3, optimizer="nesterov", lr=0.02), expected, rtol=1e-9)


def test_plain_sgd_fit_is_the_fused_step_bitwise(rng):
    X = rng.normal(size=(50, 5)).astype(np.float32)
    y = rng.integers(0, 3, 50)
    a = dp.MLP(SIZES, seed=1)
    b = a.copy()
    a.fit(X, y, epochs=2, batch_size=16, lr=0.1, l2=0.01, shuffle=False)
    for _ in range(2):
        for r0 in range(0, 50, 16):
            b.train_step(X[r0:r0 + 16], y[r0:r0 + 16], lr=0.1, l2=0.01)
    assert np.array_equal(a.get_params(), b.get_params())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("threads", [1, 2])
def test_adam_one_pass_update_has_the_bits_of_the_separate_passes(rng, dtype, threads):
    """Adam with coupled L2 and no clipping updates in one pass (L2 term folded in, the CPU's
    vector width, a 60k-weight layer split across threads); with a clip that never clips, the
    separate portable passes run (L2 added to the gradient, clip, update): the same bits."""
    X = rng.normal(size=(64, 300)).astype(dtype)
    y = rng.integers(0, 10, 64)
    old = dp.get_num_threads()
    try:
        dp.set_num_threads(threads)
        one_pass = dp.MLP([300, 200, 10], dtype=dtype, seed=4)
        separate = one_pass.copy()
        one_pass.fit(X, y, epochs=3, batch_size=16, optimizer=dp.Adam(lr=0.01), l2=1e-3, seed=1)
        separate.fit(X, y, epochs=3, batch_size=16, optimizer=dp.Adam(lr=0.01, clip_norm=1e30), l2=1e-3, seed=1)
    finally:
        dp.set_num_threads(old)
    assert np.array_equal(one_pass.get_params(), separate.get_params())
    assert not np.array_equal(one_pass.get_params(), dp.MLP([300, 200, 10], dtype=dtype, seed=4).get_params())


def test_optimizer_state_lives_in_the_core(rng):
    net, X, y = _problem(rng)
    net.fit(X, y, epochs=3, batch_size=8, optimizer=dp.Adam(lr=0.01))
    state = net.network.optimizer_state()
    assert state["steps"] == 9
    assert state["adam_m"].shape == state["adam_v"].shape == (net.num_params,)
    assert (state["adam_v"] > 0).any()


# ------------------------------------------------------------------------------------ torch
def _torch_model(torch, net):
    layers = []
    for i, layer in enumerate(net.layers):
        lin = torch.nn.Linear(layer.W.shape[1], layer.W.shape[0]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.array(layer.W)))
            lin.bias.copy_(torch.from_numpy(np.array(layer.b)))
        layers.append(lin)
        if i + 1 < len(net.layers):
            layers.append(torch.nn.Tanh())
    return torch.nn.Sequential(*layers)


TORCH_CASES = [
    ("sgd_nesterov", lambda: dp.SGD(lr=0.05, momentum=0.9, nesterov=True),
     lambda t, w, b: t.optim.SGD(w + b, lr=0.05, momentum=0.9, nesterov=True)),
    ("adam", lambda: dp.Adam(lr=0.01, beta1=0.85, beta2=0.995, eps=1e-7),
     lambda t, w, b: t.optim.Adam(w + b, lr=0.01, betas=(0.85, 0.995), eps=1e-7)),
    ("adamw", lambda: dp.AdamW(lr=0.01, weight_decay=0.1),
     lambda t, w, b: t.optim.AdamW([{"params": w, "weight_decay": 0.1}, {"params": b, "weight_decay": 0.0}],
                                   lr=0.01)),
]


@pytest.mark.parametrize("name,make,make_torch", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_update_matches_torch_optim(rng, name, make, make_torch):
    torch = pytest.importorskip("torch")
    net, X, y = _problem(rng)
    model = _torch_model(torch, net)
    weights = [p for n_, p in model.named_parameters() if n_.endswith("weight")]
    biases = [p for n_, p in model.named_parameters() if n_.endswith("bias")]
    opt = make_torch(torch, weights, biases)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(6):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(Xt), yt).backward()
        opt.step()
    got = _fit_full_batch(net, X, y, 6, optimizer=make())
    expected = np.concatenate([t.detach().numpy().ravel() for lin in model if hasattr(lin, "weight")
                               for t in (lin.weight, lin.bias)])
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-11)


def test_clipping_matches_torch(rng):
    torch = pytest.importorskip("torch")
    net, X, y = _problem(rng)
    model = _torch_model(torch, net)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(4):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(Xt), yt).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.02)
        opt.step()
    got = _fit_full_batch(net, X, y, 4, optimizer=dp.SGD(lr=0.1, momentum=0.9, clip_norm=0.02))
    expected = np.concatenate([t.detach().numpy().ravel() for lin in model if hasattr(lin, "weight")
                               for t in (lin.weight, lin.bias)])
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-11)


# ------------------------------------------------------------------------------------ schedules
def _lrs(rng, schedule, epochs=6, base=0.1, **kw):
    net, X, y = _problem(rng)
    return net.fit(X, y, epochs=epochs, batch_size=8, lr=base, lr_schedule=schedule, **kw).lr


def test_invscaling_is_scikit_learns(rng):
    expected = [0.1 / (N * e + 1) ** 0.25 for e in range(4)]
    np.testing.assert_allclose(_lrs(rng, InvScaling(power_t=0.25), epochs=4), expected)


def test_step_and_cosine(rng):
    np.testing.assert_allclose(_lrs(rng, StepDecay(step_size=2, gamma=0.5)), [0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    expected = [0.01 + 0.09 * 0.5 * (1 + math.cos(math.pi * e / 6)) for e in range(6)]
    np.testing.assert_allclose(_lrs(rng, Cosine(min_lr=0.01)), expected)
    np.testing.assert_allclose(_lrs(rng, "cosine", epochs=4), [0.05 * (1 + math.cos(math.pi * e / 4)) for e in range(4)])


def test_adaptive_divides_by_five_after_stalls():
    sched = Adaptive(patience=1, tol=0.0)
    rates = []
    for loss in [1.0, 0.5, 0.6, 0.7, 0.4, 0.45, 0.5]:
        rates.append(sched.lr(1.0, 0, 0))
        sched.epoch_end(loss)
    assert rates == [1.0, 1.0, 1.0, 1.0, 0.2, 0.2, 0.2]
    assert sched.lr(1.0, 0, 0) == pytest.approx(0.04)


def test_constant_by_default(rng):
    assert _lrs(rng, None, epochs=3) == [0.1, 0.1, 0.1]


@pytest.mark.parametrize("bad,error", [
    (lambda: dp.SGD(lr=0), ValueError), (lambda: dp.SGD(momentum=1.0), ValueError),
    (lambda: dp.SGD(nesterov=True), ValueError), (lambda: dp.Adam(beta1=1.0), ValueError),
    (lambda: dp.Adam(eps=0), ValueError), (lambda: dp.SGD(clip_norm=-1), ValueError),
    (lambda: dp.SGD(schedule="linear"), ValueError), (lambda: dp.SGD(lr="fast"), TypeError),
])
def test_bad_hyperparameters_are_refused(bad, error):
    with pytest.raises(error):
        bad()


def test_unknown_optimizer_name(rng):
    net, X, y = _problem(rng)
    with pytest.raises(ValueError, match="optimizer"):
        net.fit(X, y, optimizer="rmsprop")
