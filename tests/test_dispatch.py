"""Every instruction-set level this CPU can run, against the numpy reference: the packed GEMM,
the in-place panels (row-strided views), the dot-product and one-row kernels, and the forced
level via DELTAPROP_SIMD. Plus bitwise determinism across thread counts."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import kernels as K
from conftest import assert_close

ORDER = ["generic", "avx2", "avx512"]
LEVELS = ORDER[: ORDER.index(dp.build_info()["simd_max"]) + 1]

# (M, N, K) chosen to hit each path: tiny, edge tiles in both directions, M = 1 (row kernels),
# M <= 16 with trans_b (dot kernel), narrow N (transposed product), K above the KC block.
SHAPES = [(1, 1, 1), (1, 129, 257), (1, 10, 784), (5, 37, 19), (16, 70, 33), (17, 65, 300),
          (128, 10, 64), (67, 131, 97), (13, 200, 520)]


@pytest.fixture(params=LEVELS)
def level(request):
    before = dp.build_info()["simd"]
    dp.set_simd_level(request.param)
    yield request.param
    dp.set_simd_level(before)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("trans", [(0, 0), (0, 1), (1, 0), (1, 1)], ids=["NN", "NT", "TN", "TT"])
def test_gemm_each_level(level, dtype, shape, trans):
    rng = np.random.default_rng(hash((shape, trans)) % 2**32)
    M, N, Kd = shape
    ta, tb = trans
    A = rng.standard_normal((Kd, M) if ta else (M, Kd)).astype(dtype)
    B = rng.standard_normal((N, Kd) if tb else (Kd, N)).astype(dtype)
    C0 = rng.standard_normal((M, N)).astype(dtype)
    got = K.gemm(A, B, ta, tb, alpha=0.75, beta=-0.5, out=C0.copy())
    ref = 0.75 * (A.T if ta else A).astype(np.float64) @ (B.T if tb else B).astype(np.float64) - 0.5 * C0
    assert_close(got, ref, dtype, k=Kd)


@pytest.mark.parametrize("offset", [0, 1, 3])
@pytest.mark.parametrize("trans", [(0, 0), (0, 1), (1, 0)], ids=["NN", "NT", "TN"])
def test_gemm_leading_dimension_larger_than_width_and_unaligned_start(level, dtype, offset, trans):
    rng = np.random.default_rng(7)
    ta, tb = trans
    M, N, Kd = 41, 150, 77
    big_a = rng.standard_normal((Kd + 5, M + 20) if ta else (M + 5, Kd + 20)).astype(dtype)
    big_b = rng.standard_normal((N + 5, Kd + 20) if tb else (Kd + 5, N + 20)).astype(dtype)
    A = big_a[:Kd, offset:offset + M] if ta else big_a[:M, offset:offset + Kd]
    B = big_b[:N, offset:offset + Kd] if tb else big_b[:Kd, offset:offset + N]
    assert not A.flags.c_contiguous and A.strides[1] == A.itemsize  # read in place, ld > width
    got = K.gemm(A, B, ta, tb)
    ref = (A.T if ta else A).astype(np.float64) @ (B.T if tb else B).astype(np.float64)
    assert_close(got, ref, dtype, k=Kd)


@pytest.mark.parametrize("rows, cols", [(1, 1), (10, 512), (513, 31), (129, 257)])
@pytest.mark.parametrize("trans", [False, True])
def test_gemv_each_level(level, dtype, rows, cols, trans):
    rng = np.random.default_rng(rows * cols)
    A = rng.standard_normal((rows, cols)).astype(dtype)
    x = rng.standard_normal(rows if trans else cols).astype(dtype)
    ref = (A.T if trans else A).astype(np.float64) @ x.astype(np.float64)
    assert_close(K.gemv(A, x, trans=trans), ref, dtype, k=rows if trans else cols)


@pytest.mark.parametrize("batch", [1, 8, 64])
def test_training_step_each_level_matches_numpy_sgd(level, batch):
    rng = np.random.default_rng(batch)
    net = dp.MLP([30, 70, 40, 5], activation="tanh", dtype="float64", seed=3)
    X = rng.standard_normal((batch, 30))
    y = rng.integers(0, 5, batch)
    theta = net.get_params()
    _, grad = net.loss_and_grad(X, y)
    net.train_step(X, y, lr=0.1)
    np.testing.assert_allclose(net.get_params(), theta - 0.1 * grad, rtol=1e-12, atol=1e-12)


def test_set_simd_level_rejects_unknown_name():
    with pytest.raises(ValueError, match="level"):
        dp.set_simd_level("sse9")


@pytest.mark.parametrize("forced", LEVELS)
def test_environment_variable_forces_level(forced):
    env = dict(os.environ, DELTAPROP_SIMD=forced)
    out = subprocess.run([sys.executable, "-c", "import deltaprop; print(deltaprop.build_info()['simd'])"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == forced


def _train_weights(threads: int, batch: int) -> np.ndarray:
    dp.set_num_threads(threads)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 100)).astype(np.float32)
    y = rng.integers(0, 10, 600)
    net = dp.MLP([100, 256, 130, 10], seed=5)
    net.fit(X, y, epochs=2, batch_size=batch, lr=0.05, seed=1)
    return net.get_params()


@pytest.mark.parametrize("batch", [1, 8, 64, 600])
def test_training_is_bitwise_identical_for_1_and_2_threads(batch):
    old = dp.get_num_threads()
    try:
        one = _train_weights(1, batch)
        two = _train_weights(2, batch)
    finally:
        dp.set_num_threads(old)
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("features", [64, 784])
def test_shuffled_adam_float64_training_is_bitwise_identical_for_1_and_2_threads(features):
    """scikit-learn's default setting in the core: float64, Adam with L2, shuffled batches of 200.
    784 features: the batch's rows (1.25 MB) are gathered by two threads; both widths: one
    Adam pass over all layers' spans is shared by the threads at split points inside a span."""
    rng = np.random.default_rng(3)
    X = rng.random((450, features))
    X[X < 0.6] = 0.0
    y = rng.integers(0, 10, 450)
    old = dp.get_num_threads()
    runs = []
    try:
        for threads in (1, 2):
            dp.set_num_threads(threads)
            net = dp.MLP([features, 100, 10], dtype="float64", seed=2)
            net.fit(X, y, epochs=2, batch_size=200, optimizer=dp.Adam(lr=1e-3), l2=1e-4, seed=1)
            runs.append(net.get_params())
    finally:
        dp.set_num_threads(old)
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], dp.MLP([features, 100, 10], dtype="float64", seed=2).get_params())


def test_training_is_bitwise_repeatable():
    np.testing.assert_array_equal(_train_weights(2, 32), _train_weights(2, 32))


@pytest.mark.parametrize("shape", [(300, 700, 200), (1, 3000, 500), (12, 2000, 300), (200, 7, 900),
                                   (784, 512, 8), (1000, 300, 16),
                                   (8, 784, 784)])
def test_gemm_bitwise_identical_for_1_and_2_threads(shape):
    rng = np.random.default_rng(1)
    M, N, Kd = shape
    A = rng.standard_normal((M, Kd)).astype(np.float32)
    B = rng.standard_normal((N, Kd)).astype(np.float32)
    old = dp.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            dp.set_num_threads(threads)
            results.append((K.gemm(A, B, trans_b=True), K.gemm(A, B.T.copy()), K.gemm(A.T.copy(), B.T.copy(), trans_a=True)))
    finally:
        dp.set_num_threads(old)
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)
    reference = A.astype(np.float64) @ B.T.astype(np.float64)
    for one in results[0]:
        np.testing.assert_allclose(one, reference, rtol=1e-4, atol=1e-4 * np.abs(reference).max())


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (200, 100), (37, 10), (5, 129)])
def test_bias_sums_and_relu_mask_each_level(level, dtype, shape):
    """The bias gradient (column sums of dZ, rows added in order) and the ReLU mask of a delta run
    in the level's vectors: the bits of the plain loops, partial vectors included."""
    rng = np.random.default_rng(7)
    n, out = shape
    X = rng.standard_normal((n, 3)).astype(dtype)
    W = rng.standard_normal((out, 3)).astype(dtype)
    dZ = (rng.standard_normal((n, out)) * 10.0 ** rng.integers(-8, 8, (n, out))).astype(dtype)
    expected = np.zeros(out, dtype)
    for row in dZ:
        expected = expected + row
    np.testing.assert_array_equal(K.dense_backward(X, W, dZ)[2], expected)
    A = rng.standard_normal(n * out).astype(dtype)
    A[::5] = 0.0
    dA = rng.standard_normal(n * out).astype(dtype)
    dA[1::7] = np.nan
    got = K.activation_backward("relu", A, A, dA)
    np.testing.assert_array_equal(got, np.where(A > 0, dA, 0.0).astype(dtype))


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_vectorised_float32_activations_each_level(level, name):
    # Dense sweep plus the branch points of the implementation (tanh switches at |x| = 0.625),
    # tiny and huge arguments, infinities, and a length that leaves a partial vector.
    z = np.concatenate([np.linspace(-87.0, 87.0, 40_001), [0.0, -0.0, 1e-8, -1e-8, 1e-30, 0.6249, 0.625,
                        0.6251, -0.625, 1e30, -1e30, np.inf, -np.inf]]).astype(np.float32)
    got = K.activation_forward(name, z).astype(np.float64)
    z64 = z.astype(np.float64)
    with np.errstate(all="ignore"):
        e = np.exp(-np.abs(z64))
        ref = np.tanh(z64) if name == "tanh" else np.where(z64 >= 0, 1 / (1 + e), e / (1 + e))
    normal = np.abs(ref) >= 1e-37  # below, float32 results are denormal: compare absolutely
    ulps = np.abs(got - ref)[normal] / np.spacing(np.abs(ref[normal]).astype(np.float32)).astype(np.float64)
    assert ulps.max() <= 4.0, f"{name} at {level}: {ulps.max():.1f} ulp at z = {z[normal][np.argmax(ulps)]}"
    assert np.abs(got - ref)[~normal].max(initial=0.0) < 2e-38
    assert np.isnan(K.activation_forward(name, np.array([1.0, np.nan, -2.0], np.float32))[1])


@pytest.mark.parametrize("l2", [0.0, 1e-3])
@pytest.mark.parametrize("batch", [1, 5, 12, 13, 16])  # 12 / 13: either side of the avx2 fused limit
def test_small_batch_sgd_step_matches_numpy_and_is_thread_independent(level, l2, batch):
    """A small batch with plain SGD runs the fused backward (delta below and update in one pass
    over W, blocks of rows of W shared by the threads): wide enough layers that two threads share
    it, partial panels at the edge, equal to loss_and_grad's step to rounding and bitwise across
    thread counts."""
    rng = np.random.default_rng(11)
    X = rng.standard_normal((6 * batch, 333)).astype(np.float32)
    y = rng.integers(0, 7, 6 * batch)
    old = dp.get_num_threads()
    try:
        runs = []
        for threads in (1, 2):
            dp.set_num_threads(threads)
            net = dp.MLP([333, 700, 300, 7], activation="relu", seed=2)
            for i in range(0, len(X), batch):
                xb, yb = X[i:i + batch], y[i:i + batch]
                theta = net.get_params().astype(np.float64)
                _, grad = net.loss_and_grad(xb, yb, l2=l2)
                net.train_step(xb, yb, lr=0.05, l2=l2)
                np.testing.assert_allclose(net.get_params(), theta - 0.05 * grad, rtol=1e-5, atol=1e-6)
            runs.append(net.get_params())
    finally:
        dp.set_num_threads(old)
    np.testing.assert_array_equal(runs[0], runs[1])


def test_float64_softmax_cross_entropy_each_level(level):
    """The softmax's exps go through the level's float64 exp (vectors at avx512): loss and
    gradient within a few ulps of numpy's, for logits whose exps span the whole double range
    (down into subnormals and zero), rows of every length up to past one vector, and labels
    or probability rows."""
    rng = np.random.default_rng(5)
    for c in (1, 3, 8, 10, 17):
        z = rng.uniform(-40.0, 40.0, (33, c))
        z[0, 0], z[1, -1], z[2, 0] = 700.0, -745.0, -1e3  # huge, subnormal and vanishing exps
        labels = rng.integers(0, c, 33)
        shifted = z - z.max(axis=1, keepdims=True)
        log_sum = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        softmax = np.exp(shifted - log_sum)
        loss, grad = K.softmax_cross_entropy(z, labels)
        rows = np.arange(33)
        ref_loss = np.mean(log_sum[:, 0] - shifted[rows, labels])
        ref_grad = softmax.copy()
        ref_grad[rows, labels] -= 1.0
        ref_grad /= 33
        assert abs(loss - ref_loss) <= 1e-14 * abs(ref_loss)
        # atol: a few ulps of 1/n, where softmax - 1 cancels at a confident row's label
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-14, atol=1e-15 / 33)
        probs = rng.dirichlet(np.ones(c), 33)
        loss, grad = K.softmax_cross_entropy(z, probs)
        assert abs(loss - np.mean(np.sum(probs * (log_sum - shifted), axis=1))) <= 1e-13 * abs(loss)
        np.testing.assert_allclose(grad, (softmax - probs) / 33, rtol=1e-13, atol=1e-17)


@pytest.mark.parametrize("activation, loss", [("relu", "cross_entropy"), ("tanh", "mse"),
                                              ("sigmoid", "binary_cross_entropy")])
def test_one_sample_inference_matches_numpy_and_is_thread_independent(level, dtype, activation, loss):
    """A single sample runs every layer's columns split across one team of threads (its own path):
    it must give the numpy values, and bitwise the same for 1 and 2 threads."""
    # about 0.6 MFLOP: worth two threads; then layers of 3 and 1 outputs, where a thread may get
    # no columns of a layer and must still meet the other at the barrier
    for sizes in ([300, 517, 263, 10], [600, 500, 3, 1]):
        _check_one_sample(sizes, dtype, activation, loss)


def _check_one_sample(sizes, dtype, activation, loss):
    import npref

    net = dp.MLP(sizes, activation=activation, loss=loss, dtype=dtype, seed=4)
    x = np.random.default_rng(8).standard_normal((1, sizes[0])).astype(dtype)
    Ws, bs = npref.unflatten(net.get_params().astype(np.float64), sizes)
    assert_close(net.predict_proba(x), npref.forward(Ws, bs, activation, loss, x)[1][-1], k=4)
    old = dp.get_num_threads()
    try:
        outputs = []
        for threads in (1, 2):
            dp.set_num_threads(threads)
            outputs.append((net.forward(x), net.predict_proba(x), net.activations(x)[-1]))
    finally:
        dp.set_num_threads(old)
    for one, two in zip(*outputs):
        np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_adam_update_has_the_same_bits_at_every_level(dtype):
    """The Adam loop runs in each level's vectors with the portable loop's bits. Exact products
    (small integers, dyadic weights, a power-of-two batch) give every level the same gradient, so
    the weights after one update must match the portable level's bit for bit (later steps would
    start from weights whose products round differently at each level)."""
    rng = np.random.default_rng(3)
    X = rng.integers(-2, 3, (8, 37)).astype(dtype)
    y = rng.integers(-3, 4, (8, 19)).astype(dtype)
    start = (rng.integers(-4, 5, 37 * 19 + 19) / 8.0).astype(dtype)
    before = dp.build_info()["simd"]
    results = {}
    try:
        for lv in LEVELS:
            dp.set_simd_level(lv)
            net = dp.MLP([37, 19], activation="identity", loss="mse", dtype=dtype, seed=0)
            net.set_params(start)
            np.testing.assert_array_equal(net.loss_and_grad(X, y)[1], results.get("grad", net.loss_and_grad(X, y)[1]))
            results.setdefault("grad", net.loss_and_grad(X, y)[1])
            net.fit(X, y, epochs=1, batch_size=8, shuffle=False, optimizer=dp.AdamW(lr=0.01, weight_decay=0.1),
                    verbose=False)
            results[lv] = net.get_params()
    finally:
        dp.set_simd_level(before)
    assert not np.array_equal(results["generic"], start)
    for lv in LEVELS:
        assert np.abs(results[lv] - start).max() > 0.005, lv
        np.testing.assert_array_equal(results[lv], results["generic"], err_msg=lv)


def _view_at(rows: int, cols: int, offset: int, rng) -> np.ndarray:
    """A (rows, cols) float32 array whose data starts `offset` floats past a 64-byte line."""
    buf = np.empty(rows * cols + 32, np.float32)
    start = (16 - (buf.ctypes.data % 64) // 4) % 16
    view = buf[start + offset: start + offset + rows * cols].reshape(rows, cols)
    view[...] = rng.standard_normal((rows, cols))
    return view


@pytest.mark.parametrize("shape", [(512, 784), (10, 512), (7, 48), (9, 100), (3, 47), (100, 160),
                                   (64, 784), (200, 47), (70, 2048)])
@pytest.mark.parametrize("trans_b", [True, False], ids=["x Bt", "x B"])
def test_one_row_products_do_not_depend_on_where_b_starts(level, shape, trans_b):
    """x Bᵀ and x B for one row x read B's rows wherever they start in a cache line (numpy arrays
    start 16 bytes into one; AVX-512 rebuilds such rows from aligned lines): the bits are those of
    an aligned copy (with beta too), and the values those of float64."""
    rng = np.random.default_rng(5)
    rows, cols = shape
    x = rng.standard_normal((1, cols if trans_b else rows)).astype(np.float32)
    start = rng.standard_normal((1, rows if trans_b else cols)).astype(np.float32)
    aligned = _view_at(rows, cols, 0, rng)
    expected = K.gemm(x, aligned, trans_b=trans_b)
    expected_beta = K.gemm(x, aligned, trans_b=trans_b, beta=0.5, out=start.copy())
    reference = x.astype(np.float64) @ (aligned.T if trans_b else aligned).astype(np.float64)
    np.testing.assert_allclose(expected, reference, rtol=1e-4, atol=1e-4 * np.abs(reference).max())
    for offset in range(1, 16):
        B = _view_at(rows, cols, offset, rng)
        B[...] = aligned
        np.testing.assert_array_equal(K.gemm(x, B, trans_b=trans_b), expected, err_msg=f"offset {offset}")
        np.testing.assert_array_equal(K.gemm(x, B, trans_b=trans_b, beta=0.5, out=start.copy()),
                                      expected_beta, err_msg=f"offset {offset}, beta")
