"""The one epoch driver (deltaprop.training): row order, steps taken in the core or batch by batch
from Python, stop rules, callbacks and checkpoints, against hand-run references."""
from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.training import (BatchwiseEpoch, Checkpoint, EpochDriver, NoImprovement, TrainingData,
                                in_core_epoch)

SIZES = [5, 7, 3]


def _problem(dtype="float64", n=40, seed=0):
    rng = np.random.default_rng(seed)
    net = dp.MLP(SIZES, activation="tanh", dtype=dtype, seed=1)
    X, labels, values = net.network.check_data(rng.normal(size=(n, SIZES[0])), rng.integers(0, 3, n))
    return net, TrainingData(X, labels, values)


def _reversed(n):
    return lambda epoch: np.arange(n - 1, -1, -1, dtype=np.int64)


@pytest.mark.parametrize("optimizer", [dp.SGD(lr=0.1), dp.SGD(lr=0.05, momentum=0.9), dp.Adam(lr=0.01)],
                         ids=["sgd", "momentum", "adam"])
def test_batchwise_epochs_take_the_steps_of_the_in_core_epoch(optimizer):
    a, data = _problem()
    b, _ = _problem()
    for net, run_epoch in ((a, in_core_epoch), (b, BatchwiseEpoch())):
        EpochDriver(net.network, data, optimizer=optimizer, batch_size=16, order=_reversed(40),
                    run_epoch=run_epoch).run(3)
    assert np.array_equal(a.get_params(), b.get_params())


def test_the_order_callable_decides_the_visiting_order():
    net, data = _problem()
    history = EpochDriver(net.network, data, optimizer=dp.SGD(lr=0.1), batch_size=8, order=_reversed(40)).run(2)
    manual = _problem()[0]
    losses = []
    for _ in range(2):
        total = 0.0
        for r0 in range(39, -1, -8):    # the rows backwards, 8 at a time
            rows = np.arange(r0, r0 - 8, -1)
            total += manual.train_step(data.X[rows], data.labels[rows], lr=0.1) * 8
        losses.append(total / 40)
    assert np.array_equal(net.get_params(), manual.get_params())
    np.testing.assert_allclose(history.train_loss, losses, rtol=1e-12)


def test_a_custom_step_sees_every_batch_once_per_epoch():
    net, data = _problem()
    seen = []

    def step(network, batch, config):
        seen.append(batch.n)
        return network.train_step(batch.X, batch.labels, batch.values, batch.weights, config)

    EpochDriver(net.network, data, optimizer=dp.SGD(lr=0.1), batch_size=16, run_epoch=BatchwiseEpoch(step)).run(2)
    assert seen == [16, 16, 8] * 2


def test_callbacks_and_stop_rules_end_the_run_and_checkpoints_follow_every():
    net, data = _problem()
    saved = []
    history = EpochDriver(net.network, data, optimizer=dp.SGD(lr=0.1), batch_size=8,
                          callbacks=[lambda h: h.epochs == 5], checkpoint=Checkpoint(lambda: saved.append(1), 2)
                          ).run(10)
    assert history.epochs == 5 and len(history.train_loss) == 5
    assert len(saved) == 3   # after epochs 2 and 4, and at the stop


def test_no_improvement_counts_like_scikit_learn():
    # scikit-learn: an epoch counts unless its loss is below best - tol; stop when the count exceeds patience
    losses = iter([1.0, 0.9, 0.8999, 0.85, 0.8499, 0.8498, 0.8497])
    rule = NoImprovement(lambda h: next(losses), tol=1e-3, patience=2)
    net, _ = _problem()
    stops = [rule.update(None, net.network) for _ in range(7)]
    #      1.0    0.9    .8999 (count 1)  .85 (reset)  .8499 (1)  .8498 (2)  .8497 (3 > 2: stop)
    assert stops == [False, False, False, False, False, False, True]
    assert rule.best == pytest.approx(0.8497) and rule.count == 3


def test_no_improvement_asks_the_plateau_hook_before_stopping():
    calls = []
    rule = NoImprovement(lambda h: 1.0, tol=0.1, patience=1, on_plateau=lambda: calls.append(1) or len(calls) < 3)
    net, _ = _problem()
    stops = [rule.update(None, net.network) for _ in range(7)]
    # first epoch sets the best; then every second stalled epoch hits the plateau: lowered twice, then stop
    assert stops == [False, False, False, False, False, False, True] and len(calls) == 3


def test_divergence_restores_the_weights_and_resets_the_optimizer():
    net, data = _problem()
    initial = net.get_params()
    with pytest.raises(FloatingPointError, match="epoch 1"):
        EpochDriver(net.network, data._replace(X=data.X * 1e3), optimizer=dp.SGD(lr=1e300, momentum=0.5),
                    batch_size=8).run(3)
    assert np.array_equal(net.get_params(), initial)
    assert net.network.optimizer_state()["steps"] == 0
