"""Inputs from other array libraries: buffer protocol, __array__, DLPack (PyTorch CPU tensors),
pandas; contiguous inputs of the right dtype reach the core without a copy. threadpoolctl sees
and limits deltaprop's OpenMP pool."""
from __future__ import annotations

import array

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import kernels as K
from deltaprop._validation import float_array, to_numpy


class DLPackOnly:
    """An object that offers only the DLPack protocol."""

    def __init__(self, arr: np.ndarray):
        self._arr = arr

    def __dlpack__(self, **kwargs):
        return self._arr.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._arr.__dlpack_device__()


class ArrayInterfaceOnly:
    def __init__(self, arr: np.ndarray):
        self.__array_interface__ = arr.__array_interface__
        self._keep = arr


def _features(rng, n=6, d=3):
    return rng.standard_normal((n, d)).astype(np.float32)


@pytest.mark.parametrize("wrap", [DLPackOnly, ArrayInterfaceOnly, memoryview], ids=["dlpack", "array_interface", "buffer"])
def test_protocols_reach_the_core_without_a_copy(wrap, rng):
    X = _features(rng)
    net = dp.MLP([3, 4, 2], seed=0)
    seen = net.network.check_inputs(wrap(X))  # what predict/forward hand to the core
    assert np.shares_memory(seen, X)
    np.testing.assert_array_equal(net.predict(wrap(X)), net.predict(X))


def test_array_module_buffer_is_read_in_place():
    buf = array.array("d", [0.5, 1.5, 2.5, 3.5])
    arr = float_array(buf, "x", np.dtype(np.float64))
    assert arr.__array_interface__["data"][0] == buf.buffer_info()[0]


def test_wrong_dtype_or_layout_is_copied(rng):
    X = _features(rng)
    net = dp.MLP([3, 4, 2], seed=0)
    assert not np.shares_memory(net.network.check_inputs(X.astype(np.float64)), X)
    F = np.asfortranarray(X)
    assert net.network.check_inputs(F).flags.c_contiguous
    np.testing.assert_array_equal(net.predict(F), net.predict(X))


def test_torch_tensors_are_viewed_not_copied(rng):
    torch = pytest.importorskip("torch")
    X = _features(rng)
    t = torch.from_numpy(X.copy())
    net = dp.MLP([3, 4, 2], seed=0)
    seen = net.network.check_inputs(t)
    assert seen.__array_interface__["data"][0] == t.data_ptr()
    np.testing.assert_array_equal(net.predict(t), net.predict(X))
    W = torch.from_numpy(net.layers[0].W.copy())
    b = torch.zeros(4)
    Z, A = K.dense_forward(t, W, b, activation="relu")
    np.testing.assert_allclose(Z, X @ W.numpy().T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(K.gemm(t, t, trans_b=True), X @ X.T, rtol=1e-5, atol=1e-5)


def test_layer_weights_are_shared_with_torch(rng):
    torch = pytest.importorskip("torch")
    net = dp.MLP([3, 4, 2], seed=0)
    view = torch.from_numpy(net.layers[0].W)  # no copy: editing the tensor edits the model
    view.mul_(0.0)
    np.testing.assert_array_equal(net.layers[0].W, 0.0)
    assert np.shares_memory(to_numpy(view, "W"), net.layers[0].W)


def test_torch_tensor_that_requires_grad_names_the_fix():
    torch = pytest.importorskip("torch")
    net = dp.MLP([3, 2])
    with pytest.raises(TypeError, match=r"X: expected an array-like.*detach"):
        net.predict(torch.ones(2, 3, requires_grad=True))


def test_jax_arrays_if_installed(rng):
    jnp = pytest.importorskip("jax.numpy")
    X = _features(rng)
    net = dp.MLP([3, 4, 2], seed=0)
    np.testing.assert_array_equal(net.predict(jnp.asarray(X)), net.predict(X))


def test_pandas_frames_fit_predict_evaluate(rng):
    pd = pytest.importorskip("pandas")
    X = _features(rng, n=80)
    y = (X[:, 0] > 0).astype(np.int64)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    net, twin = dp.MLP([3, 8, 2], seed=0), dp.MLP([3, 8, 2], seed=0)
    net.fit(frame, pd.Series(y), epochs=3, lr=0.1)
    twin.fit(X, y, epochs=3, lr=0.1)
    np.testing.assert_array_equal(net.get_params(), twin.get_params())
    np.testing.assert_array_equal(net.predict(frame), twin.predict(X))
    assert net.evaluate(frame, pd.Series(y)) == twin.evaluate(X, y)


def test_pandas_non_numeric_column_is_refused():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    with pytest.raises(TypeError, match="X: expected"):
        dp.MLP([2, 2]).predict(frame)


def test_threadpoolctl_sees_and_limits_the_openmp_pool():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import os

    openmp = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "openmp"]
    assert openmp, "deltaprop's OpenMP runtime is not visible to threadpoolctl"
    assert any("gomp" in os.path.basename(p["filepath"]) or "omp" in p["prefix"] for p in openmp)
    old = dp.get_num_threads()
    try:
        dp.set_num_threads(2)
        with threadpoolctl.threadpool_limits(1, user_api="openmp"):
            assert dp.get_num_threads() == 1
        assert dp.get_num_threads() == 2
        dp.set_num_threads(1)  # and the other way round: threadpoolctl reports our setting
        assert 1 in {p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "openmp"}
    finally:
        dp.set_num_threads(old)
