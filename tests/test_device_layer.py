"""The Python layers of a GPU network, on any machine: deltaprop.cuda's backend module is replaced
by a stand-in on the CPU core (fake_cuda.py), so what sits above it — device names, models moved
between devices, read-only layer copies, snapshots, the training set bound for a fit, the
estimators' round trip — is exercised without a GPU. Results must equal the CPU model's exactly
(the stand-in computes on the CPU core)."""
from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import cuda

import fake_cuda


@pytest.fixture
def stand_in(monkeypatch):
    monkeypatch.setattr(cuda, "_module", fake_cuda.module())
    monkeypatch.setattr(cuda, "_import_error", None)
    yield


def data(n=70, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 6)).astype(np.float32), rng.integers(0, 4, n)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "momentum"])
def test_fit_on_the_device_equals_the_cpu(stand_in, optimizer):
    X, y = data()
    cpu, gpu = dp.MLP([6, 9, 4], seed=3), dp.MLP([6, 9, 4], seed=3, device="cuda")
    assert gpu.device == "cuda:0" and "cuda:0" in repr(gpu)
    hc = cpu.fit(X, y, epochs=3, batch_size=16, optimizer=optimizer, seed=1, validation_split=0.2, early_stopping=True)
    hg = gpu.fit(X, y, epochs=3, batch_size=16, optimizer=optimizer, seed=1, validation_split=0.2, early_stopping=True)
    np.testing.assert_array_equal(gpu.get_params(), cpu.get_params())
    assert hg.train_loss == hc.train_loss and hg.val_loss == hc.val_loss
    assert gpu.network._core.core._net.data is None  # the training set is let go after the fit


def test_layers_on_the_device_are_fresh_read_only_copies(stand_in):
    X, y = data()
    net = dp.MLP([6, 9, 4], device="cuda")
    W0 = net.layers[0].W
    with pytest.raises(ValueError):
        W0[0, 0] = 1.0
    net.fit(X, y, epochs=1)
    assert not np.array_equal(net.layers[0].W, W0)  # read again after training
    np.testing.assert_array_equal(net.layers[0].W.ravel(), net.get_params()[:54])


def test_moving_keeps_parameters_and_optimizer_state(stand_in):
    X, y = data()
    net = dp.MLP([6, 9, 4], seed=2)
    net.fit(X, y, epochs=2, optimizer=dp.SGD(lr=0.05, momentum=0.9))
    theta, state = net.get_params(), net.network.optimizer_state()
    assert net.to("cuda") is net and net.device == "cuda:0"
    np.testing.assert_array_equal(net.get_params(), theta)
    np.testing.assert_array_equal(net.network.optimizer_state()["velocity"], state["velocity"])
    net.to("cpu", precision=None)
    assert net.device == "cpu" and net.layers[0].W.flags.writeable
    with pytest.raises(ValueError, match="precision"):
        net.to("cpu", precision="tf32")
    assert dp.MLP([6, 4], device="cuda", precision="tf32").to("cpu").precision == "fp32"


def test_divergence_restores_the_snapshot_on_the_device(stand_in):
    X, y = data()
    net = dp.MLP([6, 9, 4], device="cuda", loss="mse")
    before = net.get_params()
    with pytest.raises(FloatingPointError):
        net.fit(X * 1e30, np.ones((70, 4)) * 1e30, epochs=2, lr=1e10)
    np.testing.assert_array_equal(net.get_params(), before)


def test_save_load_and_checkpoint_from_the_device(stand_in, tmp_path):
    X, y = data()
    net = dp.MLP([6, 9, 4], device="cuda")
    net.fit(X, y, epochs=2, checkpoint=tmp_path / "c.npz")
    loaded = dp.load(tmp_path / "c.npz")
    assert loaded.device == "cpu"
    np.testing.assert_array_equal(loaded.get_params(), net.get_params())


def test_estimator_trains_on_the_device_and_keeps_live_coefs(stand_in):
    pytest.importorskip("sklearn")
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from deltaprop.sklearn import MLPClassifier
    X, y = data(200)
    kw = dict(hidden_layer_sizes=(16,), solver="sgd", max_iter=5, random_state=0, dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cpu = MLPClassifier(**kw).fit(X, y)
        gpu = MLPClassifier(device="cuda", **kw).fit(X, y)
        gpu.partial_fit(X, y)
        cpu.partial_fit(X, y)
    for a, b in zip(gpu.coefs_, cpu.coefs_):
        np.testing.assert_array_equal(a, b)
    assert gpu._mlp.device == "cpu" and gpu.coefs_[0].flags.writeable


def test_host_only_methods_refuse_gpu_arrays(stand_in):
    class GpuArray:  # anything with __cuda_array_interface__
        __cuda_array_interface__ = {"shape": (3, 6), "typestr": "<f4", "data": (1, False), "version": 3}
        shape = (3, 6)

    class GpuLabels:
        __cuda_array_interface__ = {"shape": (3,), "typestr": "<i8", "data": (2, False), "version": 3}
    net = dp.MLP([6, 4])
    with pytest.raises(TypeError, match="GPU array was given to a model on the CPU"):
        net.predict(GpuArray())
    gpu = dp.MLP([6, 4], device="cuda")
    with pytest.raises(TypeError, match="loss_and_grad takes host"):
        gpu.loss_and_grad(GpuArray(), GpuLabels())
    with pytest.raises(TypeError, match="float64 GPU array"):
        dp.MLP([6, 4], device="cuda", dtype="float64").predict(GpuArray())
    with pytest.raises(TypeError, match="both on the GPU or both on the host"):
        gpu.fit(GpuArray(), np.zeros(3, np.int64))
