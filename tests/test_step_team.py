"""One parallel region per training step (DELTAPROP_STEP_TEAM=1 / _core.set_step_team): every
thread runs the step, the products share the team with barriers between them, the loss and bias
updates run once on the leader. It must give the same bits as a region per product, for every
path a step takes (one sample, the fused small-batch backward + SGD, the blocked products, a
narrow output layer, the non-fused optimizers, weighted rows, float64), at 1 and 2 threads."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import _core


@pytest.fixture
def threads():
    before = dp.get_num_threads()
    yield
    dp.set_num_threads(before)


@pytest.fixture(autouse=True)
def restore_step_team():
    before = _core.step_team()
    yield
    _core.set_step_team(before)


def _train(sizes, batch, on, *, threads=2, dtype=np.float32, steps=4, loss=None, optimizer=None,
           weights=False, activation="relu"):
    rng = np.random.default_rng(sum(sizes) + batch)
    X = rng.standard_normal((batch, sizes[0])).astype(dtype)
    if loss in ("mse", "poisson"):
        y = rng.random((batch, sizes[-1])).astype(dtype)
    elif loss == "binary_cross_entropy":
        y = (rng.random((batch, sizes[-1])) > 0.5).astype(dtype)
    else:
        y = rng.integers(0, sizes[-1], batch)
    w = rng.random(batch).astype(dtype) + 0.5 if weights else None
    dp.set_num_threads(threads)
    _core.set_step_team(on)
    options = {"loss": loss} if loss else {}
    net = dp.MLP(sizes, activation=activation, seed=3, dtype=dtype, **options)
    if optimizer is None:
        losses = [net.train_step(X, y, lr=0.05, l2=1e-3) for _ in range(steps)]
    else:
        history = net.fit(X, y, epochs=steps, batch_size=batch, optimizer=optimizer, lr=0.01, shuffle=False,
                          sample_weight=w)
        losses = list(history.history["loss"])
    return losses, net.get_params()


CASES = {
    "one sample": ([784, 64, 48, 10], 1),
    "fused small batch": ([300, 96, 80, 10], 8),
    "blocked products": ([200, 130, 70, 10], 96),
    "narrow output": ([64, 40, 3], 130),
    "one layer": ([50, 7], 33),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_step_team_gives_the_same_bits(threads, case, dtype):
    sizes, batch = CASES[case]
    forked = _train(sizes, batch, False, dtype=dtype)
    team = _train(sizes, batch, True, dtype=dtype)
    assert forked[0] == team[0]
    np.testing.assert_array_equal(forked[1], team[1])
    one_thread = _train(sizes, batch, True, dtype=dtype, threads=1)
    np.testing.assert_array_equal(one_thread[1], team[1])
    assert np.isfinite(team[0]).all() and team[0][-1] < team[0][0]  # it trains


@pytest.mark.parametrize("loss", ["mse", "binary_cross_entropy", "poisson"])
def test_step_team_with_other_losses(threads, loss):
    forked = _train([40, 33, 4], 20, False, loss=loss, activation="tanh")
    team = _train([40, 33, 4], 20, True, loss=loss, activation="tanh")
    assert forked[0] == team[0]
    np.testing.assert_array_equal(forked[1], team[1])


@pytest.mark.parametrize("optimizer", ["adam", "momentum", "sgd"])
def test_step_team_in_fit_with_weighted_rows(threads, optimizer):
    forked = _train([120, 90, 5], 24, False, optimizer=optimizer, weights=True, steps=3)
    team = _train([120, 90, 5], 24, True, optimizer=optimizer, weights=True, steps=3)
    assert forked[0] == team[0]
    np.testing.assert_array_equal(forked[1], team[1])


def test_step_team_loss_and_grad_matches(threads):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((70, 30)).astype(np.float32)
    y = rng.integers(0, 6, 70)
    out = {}
    for on in (False, True):
        _core.set_step_team(on)
        net = dp.MLP([30, 65, 6], seed=1)
        out[on] = [net.loss_and_grad(X, y, l2=0.01) for _ in range(2)]  # the second runs in a team
    for (loss_f, grad_f), (loss_t, grad_t) in zip(out[False], out[True]):
        assert loss_f == loss_t
        np.testing.assert_array_equal(grad_f, grad_t)


@pytest.mark.parametrize("env, expected", [("1", True), ("0", False), (None, False)])
def test_step_team_switch_and_build_info(env, expected):
    environ = {k: v for k, v in os.environ.items() if k != "DELTAPROP_STEP_TEAM"}
    if env is not None:
        environ["DELTAPROP_STEP_TEAM"] = env
    out = subprocess.run([sys.executable, "-c", "import deltaprop as dp; print(dp.build_info()['step_team'])"],
                         env=environ, capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    assert out == str(expected)
