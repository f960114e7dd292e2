"""deltaprop.kernels.gemm / gemv against float64 numpy references."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_close, randn

import deltaprop as dp
from deltaprop import kernels as K

# (M, K, N) of C = op(A) @ op(B), op(A) is (M, K), op(B) is (K, N)
SHAPES = [
    (1, 1, 1),
    (7, 13, 17),
    (67, 131, 97),
    (1, 64, 33),       # batch of one row
    (50, 1, 40),       # K = 1 (outer product)
    (3, 1000, 5),      # wide: long reduction, tiny output
    (1000, 3, 5),      # tall
    (300, 257, 513),   # bigger than any cache block
]
TRANS = [(False, False), (False, True), (True, False), (True, True)]


def _operands(rng, M, Kd, N, trans_a, trans_b, dtype):
    """Returns (A, B, opA, opB): A/B are what gemm receives, opA/opB what it must multiply."""
    opA = randn(rng, (M, Kd), dtype)
    opB = randn(rng, (Kd, N), dtype)
    A = np.ascontiguousarray(opA.T) if trans_a else opA
    B = np.ascontiguousarray(opB.T) if trans_b else opB
    return A, B, opA, opB


def _ref(opA, opB):
    return opA.astype(np.float64) @ opB.astype(np.float64)


# ------------------------------------------------------------------------------------------ gemm
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("trans_a,trans_b", TRANS, ids=["NN", "NT", "TN", "TT"])
def test_gemm_matches_numpy(rng, dtype, shape, trans_a, trans_b):
    M, Kd, N = shape
    A, B, opA, opB = _operands(rng, M, Kd, N, trans_a, trans_b, dtype)
    C = K.gemm(A, B, trans_a=trans_a, trans_b=trans_b)
    assert isinstance(C, np.ndarray)
    assert C.shape == (M, N)
    assert C.dtype == dtype
    assert_close(C, _ref(opA, opB), dtype, k=Kd)


@pytest.mark.parametrize("trans_a,trans_b", TRANS, ids=["NN", "NT", "TN", "TT"])
def test_gemm_alpha_beta_accumulates_into_out(rng, dtype, trans_a, trans_b):
    M, Kd, N = 19, 23, 29
    A, B, opA, opB = _operands(rng, M, Kd, N, trans_a, trans_b, dtype)
    out = randn(rng, (M, N), dtype)
    before = out.astype(np.float64)
    res = K.gemm(A, B, trans_a=trans_a, trans_b=trans_b, alpha=-0.75, beta=2.5, out=out)
    assert res is out, "gemm must return the out array itself"
    assert_close(out, -0.75 * _ref(opA, opB) + 2.5 * before, dtype, k=Kd)


def test_gemm_out_is_written_in_place(rng, dtype):
    A, B = randn(rng, (8, 9), dtype), randn(rng, (9, 10), dtype)
    out = np.full((8, 10), 123.0, dtype=dtype)
    address = out.__array_interface__["data"][0]
    res = K.gemm(A, B, out=out)
    assert res is out
    assert out.__array_interface__["data"][0] == address
    assert_close(out, _ref(A, B), dtype, k=9)


def test_gemm_beta_zero_overwrites_out(rng, dtype):
    A, B = randn(rng, (5, 6), dtype), randn(rng, (6, 7), dtype)
    out = randn(rng, (5, 7), dtype, scale=100.0)
    K.gemm(A, B, alpha=1.0, beta=0.0, out=out)
    assert_close(out, _ref(A, B), dtype, k=6)


def test_gemm_alpha_zero_scales_out_only(rng, dtype):
    A, B = randn(rng, (5, 6), dtype), randn(rng, (6, 7), dtype)
    out = randn(rng, (5, 7), dtype)
    before = out.astype(np.float64)
    K.gemm(A, B, alpha=0.0, beta=0.5, out=out)
    assert_close(out, 0.5 * before, dtype)


def test_gemm_alpha_without_out(rng, dtype):
    A, B = randn(rng, (11, 4), dtype), randn(rng, (4, 6), dtype)
    assert_close(K.gemm(A, B, alpha=3.0), 3.0 * _ref(A, B), dtype, k=4)


def test_gemm_does_not_modify_inputs(rng, dtype):
    A, B = randn(rng, (12, 13), dtype), randn(rng, (13, 14), dtype)
    A0, B0 = A.copy(), B.copy()
    K.gemm(A, B, alpha=2.0)
    np.testing.assert_array_equal(A, A0)
    np.testing.assert_array_equal(B, B0)


def test_gemm_strided_column_slice(rng, dtype):
    big = randn(rng, (31, 2 * 37), dtype)
    A = big[:, ::2]                        # (31, 37), not contiguous
    B = randn(rng, (37, 21), dtype)
    assert not A.flags.c_contiguous
    assert_close(K.gemm(A, B), _ref(A, B), dtype, k=37)


def test_gemm_strided_row_slice(rng, dtype):
    A = randn(rng, (17, 25), dtype)
    bigB = randn(rng, (3 * 25, 19), dtype)
    B = bigB[::3]                          # (25, 19), step in the first axis
    assert not B.flags.c_contiguous
    assert_close(K.gemm(A, B), _ref(A, B), dtype, k=25)


def test_gemm_strided_both_axes(rng, dtype):
    bigA = randn(rng, (40, 60), dtype)
    A = bigA[1::2, 3::3]                   # (20, 19)
    B = randn(rng, (19, 8), dtype)
    assert_close(K.gemm(A, B), _ref(A, B), dtype, k=19)


def test_gemm_transposed_views_as_inputs(rng, dtype):
    At = randn(rng, (33, 20), dtype)       # A = At.T is (20, 33), an F-ordered view
    Bt = randn(rng, (15, 33), dtype)       # B = Bt.T is (33, 15)
    A, B = At.T, Bt.T
    assert not A.flags.c_contiguous and not B.flags.c_contiguous
    assert_close(K.gemm(A, B), _ref(A, B), dtype, k=33)


def test_gemm_transposed_view_with_trans_flag(rng, dtype):
    # op(A.T) with trans_a=True is A itself: (A.T).T @ B
    A = randn(rng, (14, 22), dtype)
    B = randn(rng, (22, 9), dtype)
    assert_close(K.gemm(A.T, B, trans_a=True), _ref(A, B), dtype, k=22)


def test_gemm_fortran_ordered_inputs(rng, dtype):
    A = np.asfortranarray(randn(rng, (26, 18), dtype))
    B = np.asfortranarray(randn(rng, (18, 27), dtype))
    assert_close(K.gemm(A, B, trans_a=False, trans_b=False), _ref(A, B), dtype, k=18)


def test_gemm_with_noncontiguous_inputs_and_out(rng, dtype):
    big = randn(rng, (24, 50), dtype)
    A = big[:, ::2]                        # (24, 25)
    B = randn(rng, (16, 25), dtype)        # used transposed
    out = randn(rng, (24, 16), dtype)
    before = out.astype(np.float64)
    res = K.gemm(A, B, trans_b=True, alpha=0.5, beta=-1.0, out=out)
    assert res is out
    assert_close(out, 0.5 * _ref(A, B.T) - before, dtype, k=25)


def test_gemm_identity_is_exact(dtype):
    A = np.arange(1, 13, dtype=dtype).reshape(3, 4)
    np.testing.assert_array_equal(K.gemm(A, np.eye(4, dtype=dtype)), A)


def test_gemm_small_integers_exact(dtype):
    # integer-valued products below 2**24 are exact in both precisions
    A = np.array([[1, 2], [3, 4], [5, 6]], dtype=dtype)
    B = np.array([[7, 8, 9], [10, 11, 12]], dtype=dtype)
    expected = np.array([[27, 30, 33], [61, 68, 75], [95, 106, 117]], dtype=dtype)
    np.testing.assert_array_equal(K.gemm(A, B), expected)
    np.testing.assert_array_equal(K.gemm(B, A, trans_a=True, trans_b=True), expected.T)


def test_gemm_results_do_not_depend_on_thread_count(rng, dtype):
    A, B = randn(rng, (130, 211), dtype), randn(rng, (211, 150), dtype)
    old = dp.get_num_threads()
    try:
        dp.set_num_threads(1)
        one = K.gemm(A, B)
        dp.set_num_threads(2)
        two = K.gemm(A, B)
    finally:
        dp.set_num_threads(old)
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("trans_a", [False, True], ids=["N", "T"])
@pytest.mark.parametrize("k,n", [(64, 17), (65, 1), (200, 784), (513, 130), (1024, 784), (700, 300),
                                 (300, 2050)])
def test_one_row_products_do_not_depend_on_thread_count(rng, dtype, trans_a, k, n):
    # C = a B with one row of a: past 64 rows of B, fixed blocks of rows give partial rows that
    # are added in block order, whoever computed them (each block 1024 columns at a time: 2050
    # leaves a last piece narrower than a vector).
    a = randn(rng, (k, 1) if trans_a else (1, k), dtype)
    B = randn(rng, (k, n), dtype)
    start = randn(rng, (1, n), dtype)
    old = dp.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            dp.set_num_threads(threads)
            out = start.copy()
            K.gemm(a, B, trans_a=trans_a, alpha=0.5, beta=-1.5, out=out)
            results.append((K.gemm(a, B, trans_a=trans_a), out))
    finally:
        dp.set_num_threads(old)
    (plain1, acc1), (plain2, acc2) = results
    np.testing.assert_array_equal(plain1, plain2)
    np.testing.assert_array_equal(acc1, acc2)
    row = a.astype(np.float64).reshape(1, k)
    assert_close(plain1, row @ B.astype(np.float64), dtype, k=k)
    assert_close(acc1, 0.5 * (row @ B.astype(np.float64)) - 1.5 * start.astype(np.float64), dtype, k=k)


# ------------------------------------------------------------------------------------------ gemv
GEMV_SHAPES = [(1, 1), (7, 13), (13, 7), (67, 131), (1, 500), (500, 1), (257, 513)]


@pytest.mark.parametrize("shape", GEMV_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("trans", [False, True], ids=["N", "T"])
def test_gemv_matches_numpy(rng, dtype, shape, trans):
    rows, cols = shape
    A = randn(rng, (rows, cols), dtype)
    x = randn(rng, (rows if trans else cols,), dtype)
    y = K.gemv(A, x, trans=trans)
    ref = (A.astype(np.float64).T if trans else A.astype(np.float64)) @ x.astype(np.float64)
    assert y.shape == ref.shape
    assert y.dtype == dtype
    assert_close(y, ref, dtype, k=x.size)


@pytest.mark.parametrize("trans", [False, True], ids=["N", "T"])
def test_gemv_alpha_beta_out(rng, dtype, trans):
    A = randn(rng, (21, 34), dtype)
    x = randn(rng, (21 if trans else 34,), dtype)
    out = randn(rng, (34 if trans else 21,), dtype)
    before = out.astype(np.float64)
    res = K.gemv(A, x, trans=trans, alpha=1.5, beta=-0.25, out=out)
    assert res is out
    opA = A.astype(np.float64).T if trans else A.astype(np.float64)
    assert_close(out, 1.5 * (opA @ x.astype(np.float64)) - 0.25 * before, dtype, k=x.size)


def test_gemv_strided_vector(rng, dtype):
    A = randn(rng, (12, 20), dtype)
    xbig = randn(rng, (40,), dtype)
    x = xbig[::2]
    assert_close(K.gemv(A, x), A.astype(np.float64) @ x.astype(np.float64), dtype, k=20)


def test_gemv_transposed_view_matrix(rng, dtype):
    At = randn(rng, (30, 9), dtype)
    x = randn(rng, (30,), dtype)
    A = At.T                                # (9, 30) non-contiguous
    assert_close(K.gemv(A, x), A.astype(np.float64) @ x.astype(np.float64), dtype, k=30)


def test_gemv_strided_matrix_with_trans(rng, dtype):
    big = randn(rng, (16, 44), dtype)
    A = big[:, ::4]                         # (16, 11)
    x = randn(rng, (16,), dtype)
    assert_close(K.gemv(A, x, trans=True), A.astype(np.float64).T @ x.astype(np.float64), dtype, k=16)
