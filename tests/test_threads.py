"""Threads: heavy calls release the GIL; many threads predicting with one model agree with one
thread; training one model while predicting with another works; predicting while the same model
trains sees whole updates only (the model's readers/writer lock); the lock costs < 1 µs."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import kernels as K
from deltaprop._locks import ReadWriteLock


@pytest.fixture(autouse=True)
def two_threads():
    before = dp.get_num_threads()
    dp.set_num_threads(2)
    yield
    dp.set_num_threads(before)


def _data(rng, n=256, d=32, c=5):
    return rng.standard_normal((n, d)).astype(np.float32), rng.integers(0, c, n)


def test_many_threads_predicting_with_one_model_agree(rng):
    X, y = _data(rng)
    net = dp.MLP([32, 64, 5], seed=3)
    net.fit(X, y, epochs=2, batch_size=32, lr=0.05)
    expected = net.predict_proba(X)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: net.predict_proba(X), range(64)))
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_threads_predicting_single_samples_with_models_of_different_widths_agree(rng):
    """One-sample inference keeps its hidden outputs in the calling thread's scratch, which grows
    for a wider model: interleaved models and threads must each get their own sample's values."""
    models = [dp.MLP([300, 517, 263, 10], seed=1), dp.MLP([300, 40, 3], seed=2),
              dp.MLP([300, 1030, 7], activation="tanh", seed=3)]
    X = rng.standard_normal((24, 300)).astype(np.float32)
    expected = [np.concatenate([m.predict_proba(X[i:i + 1]) for i in range(len(X))]) for m in models]
    for m, one_at_a_time in zip(models, expected):  # the one-sample path agrees with the batch path
        np.testing.assert_allclose(one_at_a_time, m.predict_proba(X), rtol=2e-5, atol=1e-6)

    def predict(task):
        i, k = divmod(task, len(models))
        return k, i, models[k].predict_proba(X[i:i + 1])

    with ThreadPoolExecutor(6) as pool:
        for k, i, row in pool.map(predict, range(len(X) * len(models))):
            np.testing.assert_array_equal(row[0], expected[k][i])


def test_training_one_model_while_predicting_with_another(rng):
    X, y = _data(rng)
    trained, serving = dp.MLP([32, 64, 5], seed=1), dp.MLP([32, 64, 5], seed=2)
    reference = dp.MLP([32, 64, 5], seed=1)
    expected = serving.predict_proba(X)
    worker = threading.Thread(target=trained.fit, args=(X, y), kwargs={"epochs": 5, "batch_size": 16, "lr": 0.05},
                              daemon=True)
    worker.start()
    predictions = []
    while worker.is_alive() or not predictions:
        predictions.append(serving.predict_proba(X))
    worker.join()
    reference.fit(X, y, epochs=5, batch_size=16, lr=0.05)
    np.testing.assert_array_equal(trained.get_params(), reference.get_params())
    for p in predictions:
        np.testing.assert_array_equal(p, expected)


def test_predicting_while_the_same_model_trains_sees_whole_steps_only(rng):
    """Every prediction made during training equals the prediction of one of the parameter
    states between steps (replayed without threads): no half-updated weights are ever read."""
    X, y = _data(rng, n=512, d=64)
    probe = X[:16]
    steps = 12
    replay = dp.MLP([64, 256, 5], seed=4)
    snapshots = [replay.predict_proba(probe)]
    for _ in range(steps):
        replay.train_step(X, y, lr=0.5)
        snapshots.append(replay.predict_proba(probe))
    keys = {s.tobytes(): i for i, s in enumerate(snapshots)}
    assert len(keys) == steps + 1

    net = dp.MLP([64, 256, 5], seed=4)
    done = threading.Event()

    def train():
        for _ in range(steps):
            net.train_step(X, y, lr=0.5)
        done.set()

    seen = []
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(train)] + [pool.submit(lambda: [net.predict_proba(probe) for _ in iter(done.is_set, True)])
                                          for _ in range(2)]
        for f in futures[1:]:
            seen.extend(f.result())
        futures[0].result()
    indices = [keys.get(p.tobytes()) for p in seen]
    assert seen and None not in indices


def _progress_during(call):
    """Ticks a Python thread makes per second while `call` runs, relative to while sleeping."""
    ticks = [0]
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks[0] += 1

    counter = threading.Thread(target=count, daemon=True)
    counter.start()
    try:
        time.sleep(0.02)
        c0, t0 = ticks[0], time.perf_counter()
        time.sleep(0.1)
        idle_rate = (ticks[0] - c0) / (time.perf_counter() - t0)
        c0, t0 = ticks[0], time.perf_counter()
        call()
        busy_rate = (ticks[0] - c0) / (time.perf_counter() - t0)
    finally:
        stop.set()
        counter.join()
    return busy_rate / max(idle_rate, 1.0)


def _heavy_calls():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((1200, 1200))
    X = rng.standard_normal((6000, 400)).astype(np.float32)
    y = rng.integers(0, 10, 6000)
    net = dp.MLP([400, 1024, 10], seed=0)
    return {
        "gemm": lambda: K.gemm(A, A),
        "forward": lambda: net.forward(X),
        "predict_proba": lambda: net.predict_proba(X),
        "evaluate": lambda: net.evaluate(X, y),
        "loss_and_grad": lambda: net.loss_and_grad(X, y),
        "train_step": lambda: net.train_step(X, y, lr=0.01),
    }


@pytest.mark.parametrize("name", list(_heavy_calls()))
def test_heavy_calls_release_the_gil(name):
    dp.set_num_threads(1)  # leave the other core to the counting thread
    call = _heavy_calls()[name]
    call()
    ratio = max(_progress_during(call) for _ in range(2))
    # Holding the GIL through a call of 100+ ms would leave the counter about 5 % (one switch
    # interval) of its idle rate; released, it keeps most of it.
    assert ratio > 0.2, f"{name}: a Python thread ran at {ratio:.0%} of its idle rate during the call"


def test_writer_waits_for_readers_and_readers_wait_for_writer():
    lock = ReadWriteLock()
    events = []
    lock.acquire_read()
    writer = threading.Thread(target=lambda: (lock.acquire_write(), events.append("write"), lock.release_write()),
                              daemon=True)
    writer.start()
    time.sleep(0.05)
    assert events == []                       # the writer waits for the reader
    reader = threading.Thread(target=lambda: (lock.acquire_read(), events.append("read"), lock.release_read()),
                              daemon=True)
    reader.start()
    time.sleep(0.05)
    assert events == []                       # a waiting writer holds back new readers
    lock.release_read()
    writer.join(5)
    reader.join(5)
    assert events == ["write", "read"]


def test_writer_may_read_and_write_again():
    lock = ReadWriteLock()
    with lock.write:
        with lock.read:
            with lock.write:
                pass
    with lock.read:  # released completely
        pass
    assert lock._readers == [] and lock._writer is None
