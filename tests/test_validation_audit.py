"""The compiled core called directly (deltaprop._core) with wrong shapes, dtypes, layouts and ids
raises ValueError/TypeError before any raw pointer is used; absurd sizes raise MemoryError
instead of aborting the process; hyperparameters out of range are refused by name."""
from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import _core
from deltaprop import _validation

BAD = (ValueError, TypeError)
f32 = np.float32


def z(*shape, dtype=f32):
    return np.zeros(shape, dtype=dtype)


# --------------------------------------------------------------------- kernels, called directly
@pytest.mark.parametrize("call", [
    lambda: _core.gemm_float32(z(3, 4), z(5, 2), z(3, 2), False, False, 1.0, 0.0),      # K differs
    lambda: _core.gemm_float32(z(3, 4), z(4, 2), z(3, 3), False, False, 1.0, 0.0),      # out shape
    lambda: _core.gemm_float32(z(3, 4), z(4, 2), z(2, 3).T, False, False, 1.0, 0.0),    # out F-order
    lambda: _core.gemm_float32(z(3, 4), z(4, 2), z(3, 2, dtype=np.float64), False, False, 1.0, 0.0),
    lambda: _core.gemm_float32(z(3, 4)[:, ::2], z(2, 2), z(3, 2), False, False, 1.0, 0.0),  # strided
    lambda: _core.gemm_float32(z(4), z(4, 2), z(1, 2), False, False, 1.0, 0.0),         # 1-D A
    lambda: _core.gemm_reference_float32(z(3, 4), z(4, 2), z(3, 5), False, False, 1.0, 0.0),
    lambda: _core.gemv_float32(z(3, 4), z(3), z(3), False, 1.0, 0.0),
    lambda: _core.gemv_float32(z(3, 4), z(4), z(4), False, 1.0, 0.0),
    lambda: _core.gemv_float64(z(3, 4, dtype=np.float64), z(4, dtype=np.float64), z(3), False, 1.0, 0.0),
    lambda: _core.dense_forward_float32(z(2, 4), z(3, 5), z(3), z(2, 3), z(2, 3), 0),
    lambda: _core.dense_forward_float32(z(2, 4), z(3, 4), z(4), z(2, 3), z(2, 3), 0),
    lambda: _core.dense_forward_float32(z(2, 4), z(3, 4), z(3), z(2, 3), z(2, 4), 0),
    lambda: _core.dense_forward_float32(z(2, 4), z(3, 4), z(3), z(2, 3), z(2, 3), 5),     # activation id
    lambda: _core.dense_forward_float32(z(2, 4), z(3, 4), z(3), z(2, 3), z(2, 3), -1),
    lambda: _core.dense_backward_float32(z(2, 4), z(3, 4), z(2, 2), z(2, 4), z(3, 4), z(3)),
    lambda: _core.dense_backward_float32(z(2, 4), z(3, 4), z(2, 3), z(2, 4), z(3, 4), z(4)),
    lambda: _core.activation_forward_float32(7, z(5), z(5)),
    lambda: _core.activation_forward_float32(0, z(5), z(4)),
    lambda: _core.activation_backward_float32(0, z(5), z(5), z(6)),
    lambda: _core.activation_backward_float32(0, z(5), z(4), z(5)),
    lambda: _core.softmax_cross_entropy_float32(z(3, 4), np.array([0, 1, 4]), None, z(3, 4)),
    lambda: _core.softmax_cross_entropy_float32(z(3, 4), np.array([0, -1, 2]), None, z(3, 4)),
    lambda: _core.softmax_cross_entropy_float32(z(3, 4), np.array([0, 1]), None, z(3, 4)),
    lambda: _core.softmax_cross_entropy_float32(z(3, 4), None, z(3, 3), z(3, 4)),
    lambda: _core.softmax_cross_entropy_float32(z(3, 4), None, None, z(3, 4)),
    lambda: _core.softmax_cross_entropy_float32(z(0, 4), np.zeros(0, np.int64), None, z(0, 4)),
    lambda: _core.softmax_cross_entropy_float32(z(3, 4), np.array([0, 1, 2]), None, z(3, 3)),
    lambda: _core.mse_float32(z(4), z(5), z(4)),
    lambda: _core.mse_float32(z(4), z(4), z(3)),
    lambda: _core.mse_float32(z(0), z(0), z(0)),
    lambda: _core.sigmoid_binary_cross_entropy_float32(z(4), z(4), z(5)),
    lambda: _core.sigmoid_binary_cross_entropy_float32(z(0), z(0), z(0)),
], ids=lambda _: "")
def test_core_kernels_refuse_inconsistent_arguments(call):
    with pytest.raises(BAD):
        call()


def test_core_output_of_another_dtype_is_refused_not_silently_converted():
    out = z(2, 2, dtype=np.float64)
    with pytest.raises(TypeError, match="out"):
        _core.gemm_float32(np.eye(2, dtype=f32), np.eye(2, dtype=f32), out, False, False, 1.0, 0.0)
    assert not out.any()


def test_core_read_only_output_is_refused():
    out = z(2, 2)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out"):
        _core.gemm_float32(np.eye(2, dtype=f32), np.eye(2, dtype=f32), out, False, False, 1.0, 0.0)


def test_core_output_that_is_a_strided_view_is_refused():
    base = np.ones((3, 4), dtype=f32)
    with pytest.raises(ValueError, match="A"):
        _core.activation_forward_float32(0, z(6), base[:, ::2])
    assert (base == 1).all()


def test_core_kernel_accepts_valid_arguments():
    """The checks above are not simply refusing everything."""
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((3, 4)).astype(f32), rng.standard_normal((4, 2)).astype(f32)
    out = z(3, 2)
    _core.gemm_float32(A, B, out, False, False, 1.0, 0.0)
    np.testing.assert_allclose(out, A @ B, rtol=1e-5, atol=1e-6)


# -------------------------------------------------------------------- networks, called directly
@pytest.mark.parametrize("args, match", [
    (([3, 2], [], 4, 0), "loss"),   # the first id past the last loss (poisson, 3)
    (([3, 2], [], -1, 0), "loss"),
    (([3, 4, 2], [9], 0, 0), "activation"),
    (([3, 0, 2], [0], 0, 0), "sizes"),
    (([3], [], 0, 0), "sizes"),
])
def test_core_network_constructor_checks_its_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        _core.Network_float32(*args)


@pytest.mark.parametrize("method, extra", [
    ("forward", ()), ("output", ()), ("activations", ()),
])
def test_core_network_inference_checks_feature_count(method, extra):
    net = _core.Network_float32([3, 4, 2], [3], 0, 0)
    with pytest.raises(ValueError, match="X"):
        getattr(net, method)(z(5, 4), *extra)


def _sgd(lr):
    cfg = _core.OptimizerConfig()
    cfg.lr = lr
    return cfg


def test_core_network_train_epoch_checks_order_and_labels():
    net = _core.Network_float32([3, 4, 2], [3], 0, 0)
    X, y = z(5, 3), np.zeros(5, np.int64)
    with pytest.raises(ValueError, match="order"):
        net.train_epoch(X, y, None, None, np.array([0, 1, 2, 3, 5]), 2, _sgd(0.1))
    with pytest.raises(ValueError, match="y"):
        net.train_epoch(X, np.zeros(4, np.int64), None, None, None, 2, _sgd(0.1))
    with pytest.raises(ValueError, match="batch_size"):
        net.train_epoch(X, y, None, None, None, 0, _sgd(0.1))


def test_core_network_batch_larger_than_the_data_is_one_batch():
    """A huge batch size must not size a staging buffer by it (that overflowed before)."""
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((6, 3)).astype(f32), rng.integers(0, 2, 6)
    a = _core.Network_float32([3, 4, 2], [3], 0, 0)
    b = _core.Network_float32([3, 4, 2], [3], 0, 0)
    order = np.arange(6, dtype=np.int64)[::-1].copy()
    a.train_epoch(X, y, None, None, order, 2**62, _sgd(0.1))
    b.train_epoch(X, y, None, None, order, 6, _sgd(0.1))
    np.testing.assert_array_equal(a.params(), b.params())


# ---------------------------------------------------------------------- memory that cannot exist
@pytest.mark.parametrize("sizes", [[10**6, 10**6, 10], [2**40, 2**40, 2], [2**62, 2**62]])
def test_absurd_network_is_a_memory_error(sizes):
    with pytest.raises(MemoryError, match="sizes"):
        dp.MLP(sizes)


def test_absurd_network_in_the_core_is_a_memory_error():
    with pytest.raises(MemoryError, match="sizes"):
        _core.Network_float64([10**7, 10**7, 10], [3], 0, 0)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "forward", "activations"])
def test_output_larger_than_memory_is_a_memory_error(monkeypatch, method):
    net = dp.MLP([2, 3, 4], seed=0)
    monkeypatch.setattr(_validation, "physical_memory_bytes", lambda: 100)
    with pytest.raises(MemoryError, match="X"):
        getattr(net, method)(np.zeros((10, 2), dtype=f32))


def test_huge_batch_size_trains_as_one_batch(rng):
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 2, 20)
    a, b = dp.MLP([3, 5, 2], seed=1), dp.MLP([3, 5, 2], seed=1)
    a.fit(X, y, epochs=2, batch_size=10**15, lr=0.1)
    b.fit(X, y, epochs=2, batch_size=20, lr=0.1)
    np.testing.assert_array_equal(a.get_params(), b.get_params())


# ------------------------------------------------------------------------------ hyperparameters
@pytest.mark.parametrize("kwargs, match", [
    ({"lr": 0.0}, "lr"), ({"lr": -1.0}, "lr"), ({"lr": float("nan")}, "lr"), ({"lr": float("inf")}, "lr"),
    ({"batch_size": 0}, "batch_size"), ({"batch_size": 2.5}, "batch_size"), ({"epochs": -1}, "epochs"),
    ({"l2": -0.1}, "l2"), ({"l2": float("nan")}, "l2"), ({"on_divergence": "ignore"}, "on_divergence"),
    ({"seed": -3}, "seed"),
])
def test_fit_hyperparameters_out_of_range(rng, kwargs, match):
    net = dp.MLP([3, 2], seed=0)
    before = net.get_params()
    with pytest.raises(BAD, match=match):
        net.fit(rng.standard_normal((8, 3)), rng.integers(0, 2, 8), **{"epochs": 1, **kwargs})
    np.testing.assert_array_equal(net.get_params(), before)


@pytest.mark.parametrize("n", [0, -2, True, 1.5, "2"])
def test_set_num_threads_bad(n):
    with pytest.raises(BAD, match="n"):
        dp.set_num_threads(n)


def test_set_simd_level_bad():
    with pytest.raises(ValueError, match="level"):
        dp.set_simd_level("sse9")


@pytest.mark.parametrize("theta", [np.zeros(3), np.full(21, np.nan), np.zeros((21, 1)), "x"],
                         ids=["short", "nan", "2d", "string"])
def test_set_params_bad(theta):
    net = dp.MLP([3, 4, 1], loss="mse", seed=0)
    assert net.num_params == 21
    with pytest.raises(BAD, match="theta"):
        net.set_params(theta)


def test_read_only_memory_mapped_input_is_accepted(tmp_path, rng):
    X = rng.standard_normal((6, 3)).astype(f32)
    np.save(tmp_path / "x.npy", X)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    net = dp.MLP([3, 2], seed=0)
    np.testing.assert_array_equal(net.predict_proba(mapped), net.predict_proba(X))


def test_non_contiguous_input_gives_the_contiguous_answer(rng):
    big = rng.standard_normal((12, 6))
    net = dp.MLP([3, 4, 2], dtype="float64", seed=0)
    view = big[::2, ::2]
    np.testing.assert_array_equal(net.predict_proba(view), net.predict_proba(np.ascontiguousarray(view)))


@pytest.mark.parametrize("kernel", ["gemm", "gemv"])
def test_out_overlapping_an_input_is_refused(kernel):
    from deltaprop import kernels as K
    A = np.eye(3, dtype=f32)
    with pytest.raises(ValueError, match="out"):
        if kernel == "gemm":
            K.gemm(A, np.ones((3, 3), f32), beta=1.0, out=A)
        else:
            K.gemv(A, A[0], out=A[1])
