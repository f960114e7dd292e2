"""The GEMM's cache blocks: read from the CPU, derived by the analytical model, overridable
(DELTAPROP_GEMM_BLOCKS or _core.set_gemm_blocks); products stay correct at every instruction-set
level and, at avx512 and avx2, for each vendor variant (intel: A rows in place, B always
packed; zen4 / zen3 at avx2), with blocks forced small (edge tiles everywhere, K split into many KC blocks) and
large, and bitwise identical across thread counts."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import _core
from deltaprop import kernels as K

ORDER = ["generic", "avx2", "avx512"]
LEVELS = ORDER[: ORDER.index(dp.build_info()["simd_max"]) + 1]
BLOCKS = ["1,1,1", "7,5,33", "model", "4096,2048,8192"]
# (600, 70, 45): a transposed A with rows over 2 KiB, which the intel variant packs.
SHAPES = [(1, 70, 33), (5, 37, 19), (17, 65, 300), (67, 131, 97), (130, 140, 530), (600, 70, 45)]


@pytest.fixture
def blocks(request):
    _core.set_gemm_blocks(request.param)
    yield request.param
    _core.set_gemm_blocks("table")


VARIANTS = ["zen4", "intel"]
# Every kernel choice this CPU can run: the levels, and both vendor variants of avx2 and avx512.
LEVEL_VARIANTS = [lv if lv == "generic" else f"{lv}-{v}" for lv in LEVELS for v in ([""] if lv == "generic" else VARIANTS)]


@pytest.fixture
def variant(request):
    before = _core.gemm_variant()
    _core.set_gemm_variant(request.param)
    yield request.param
    _core.set_gemm_variant(before)


@pytest.fixture(params=LEVEL_VARIANTS)
def level(request):
    before, before_variant = dp.build_info()["simd"], _core.gemm_variant()
    name, _, variant = request.param.partition("-")
    dp.set_simd_level(name)
    if variant:
        _core.set_gemm_variant(variant)
    yield request.param
    dp.set_simd_level(before)
    _core.set_gemm_variant(before_variant)


def test_cpu_facts_are_read():
    info = _core.cpu_info()
    assert info["vendor"] in ("intel", "amd", "other")
    for name in ("l1d", "l2"):
        c = info[name]
        assert c["size"] > 0 and c["line"] > 0
        if c["ways"] and c["sets"]:
            assert c["size"] % (c["ways"] * c["line"]) == 0
    assert info["l2"]["size"] >= info["l1d"]["size"]
    built = dp.build_info()
    assert built["uarch"] == info["uarch"] and "L1D" in built["caches"]


def test_model_follows_the_caches():
    mc, kc, nc = _core.model_gemm_blocks("float32")
    mr, nr = dp.build_info()["gemm_tile_float32"]
    info = _core.cpu_info()
    assert mc % mr == 0 and nc % nr == 0 and kc % 8 == 0
    assert mr * kc * 4 <= info["l1d"]["size"]        # the A micro-panel fits L1
    assert kc * nc * 4 <= info["l2"]["size"]          # the B block fits L2


@pytest.mark.parametrize("blocks", BLOCKS, indirect=True)
@pytest.mark.parametrize("trans", [(0, 0), (0, 1), (1, 0), (1, 1)], ids=["NN", "NT", "TN", "TT"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_products_with_forced_blocks(level, blocks, trans, shape, dtype):
    rng = np.random.default_rng(sum(shape) + 10 * trans[0] + trans[1])
    M, N, Kd = shape
    A = rng.standard_normal((Kd, M) if trans[0] else (M, Kd)).astype(dtype)
    B = rng.standard_normal((N, Kd) if trans[1] else (Kd, N)).astype(dtype)
    C = K.gemm(A, B, trans_a=bool(trans[0]), trans_b=bool(trans[1]))
    ref = (A.T if trans[0] else A).astype(np.float64) @ (B.T if trans[1] else B).astype(np.float64)
    tol = 1e-4 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(C, ref, rtol=tol, atol=tol * max(1.0, Kd / 10.0))


@pytest.mark.parametrize("blocks", ["7,5,33", "model", "table"], indirect=True)
@pytest.mark.parametrize("variant", VARIANTS, indirect=True)
@pytest.mark.parametrize("trans", [(0, 0), (0, 1), (1, 0)], ids=["NN", "NT", "TN"])
def test_forced_blocks_keep_results_independent_of_threads(blocks, variant, trans):
    rng = np.random.default_rng(1)
    A = rng.standard_normal((530, 130) if trans[0] else (130, 530)).astype(np.float32)
    B = rng.standard_normal((140, 530) if trans[1] else (530, 140)).astype(np.float32)
    before = dp.get_num_threads()
    try:
        dp.set_num_threads(1)
        one = K.gemm(A, B, trans_a=bool(trans[0]), trans_b=bool(trans[1]))
        dp.set_num_threads(2)
        two = K.gemm(A, B, trans_a=bool(trans[0]), trans_b=bool(trans[1]))
    finally:
        dp.set_num_threads(before)
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("trans", [(0, 0), (0, 1), (1, 0)], ids=["NN", "NT", "TN"])
def test_column_panel_order_gives_the_same_bits(level, trans, dtype):
    """A B block over half of L2 with a small A block takes B's column panels outside (B's panel
    in L1); a large A block keeps the row panels outside. Same kc, so the same sums: the same
    bits, with beta (C read) and edge tiles in both directions, at 1 and 2 threads."""
    rng = np.random.default_rng(11 + trans[0] + 2 * trans[1])
    itemsize = np.dtype(dtype).itemsize
    l2 = _core.cpu_info()["l2"]["size"]
    kc = 64
    M, Kd = 71, 2 * kc + 9  # edge rows, past the dot path's 64; three K blocks of 46
    N = l2 // (2 * 46 * itemsize) + 37          # a B block (46 x N) just over half of L2
    big_mc = (l2 // (46 * itemsize) // 6 + 1) * 6  # an A block over a quarter of L2 even at MC = M
    A = rng.standard_normal((Kd, M) if trans[0] else (M, Kd)).astype(dtype)
    B = rng.standard_normal((N, Kd) if trans[1] else (Kd, N)).astype(dtype)
    C0 = rng.standard_normal((M, N)).astype(dtype)
    ref = 0.5 * C0.astype(np.float64) + (A.T if trans[0] else A).astype(np.float64) @ (B.T if trans[1] else B).astype(np.float64)
    before = dp.get_num_threads()
    out = {}
    try:
        for mc in (6, big_mc):
            _core.set_gemm_blocks(f"{mc},{kc},{N + 64}")
            for threads in (1, 2):
                dp.set_num_threads(threads)
                out[mc, threads] = K.gemm(A, B, trans_a=bool(trans[0]), trans_b=bool(trans[1]), beta=0.5, out=C0.copy())
    finally:
        _core.set_gemm_blocks("table")
        dp.set_num_threads(before)
    for key, C in out.items():
        np.testing.assert_array_equal(C, out[6, 1], err_msg=f"MC={key[0]}, {key[1]} threads")
    tol = 1e-4 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(out[6, 1], ref, rtol=tol, atol=tol * Kd / 10.0)


@pytest.fixture
def loop_order():
    yield
    _core.set_gemm_loop_order("auto")


@pytest.mark.parametrize("blocks", ["7,5,33", "table"], indirect=True)
@pytest.mark.parametrize("trans", [(0, 0), (0, 1), (1, 0), (1, 1)], ids=["NN", "NT", "TN", "TT"])
@pytest.mark.parametrize("shape", SHAPES + [(130, 784, 128)], ids=lambda s: "x".join(map(str, s)))
def test_forced_loop_orders_give_the_same_bits(level, blocks, trans, shape, loop_order):
    rng = np.random.default_rng(sum(shape) + trans[0])
    M, N, Kd = shape
    A = rng.standard_normal((Kd, M) if trans[0] else (M, Kd)).astype(np.float32)
    B = rng.standard_normal((N, Kd) if trans[1] else (Kd, N)).astype(np.float32)
    C0 = rng.standard_normal((M, N)).astype(np.float32)
    out = {}
    for order in ("rows", "columns", "auto"):
        _core.set_gemm_loop_order(order)
        assert _core.gemm_loop_order() == order == dp.build_info()["gemm_loop_order"]
        out[order] = K.gemm(A, B, trans_a=bool(trans[0]), trans_b=bool(trans[1]), beta=-0.5, out=C0.copy())
    np.testing.assert_array_equal(out["columns"], out["rows"])
    np.testing.assert_array_equal(out["auto"], out["rows"])
    ref = -0.5 * C0.astype(np.float64) + (A.T if trans[0] else A).astype(np.float64) @ (B.T if trans[1] else B).astype(np.float64)
    np.testing.assert_allclose(out["rows"], ref, rtol=1e-4, atol=1e-4 * max(1.0, Kd / 10.0))


def test_loop_order_names(loop_order):
    with pytest.raises(ValueError, match="name: GEMM loop order must be one of 'auto', 'rows', 'columns', got 'diagonal'"):
        _core.set_gemm_loop_order("diagonal")
    assert _core.gemm_loop_order() == "auto"


@pytest.mark.parametrize("env, expected", [("columns", "columns"), ("rows", "rows"), ("nonsense", "auto")])
def test_loop_order_environment_variable(env, expected):
    out = subprocess.run([sys.executable, "-c", "import deltaprop as dp; print(dp.build_info()['gemm_loop_order'])"],
                         env=dict(os.environ, DELTAPROP_GEMM_ORDER=env), capture_output=True, text=True,
                         timeout=60, check=True).stdout.strip()
    assert out == expected


def test_column_panel_order_applies_the_epilogue_to_every_tile(dtype):
    """The forward product's bias + activation, tile by tile in the column-panel order, give
    the row-panel order's bits."""
    rng = np.random.default_rng(5)
    itemsize = np.dtype(dtype).itemsize
    l2 = _core.cpu_info()["l2"]["size"]
    n, d_in = 71, 70  # past the dot path's 64 rows
    d_out = l2 // (d_in * itemsize) + 21  # over half of L2 even split between 2 threads
    X = rng.standard_normal((n, d_in)).astype(dtype)
    W = rng.standard_normal((d_out, d_in)).astype(dtype)
    b = rng.standard_normal(d_out).astype(dtype)
    out = []
    try:
        for mc in (6, (l2 // (d_in * itemsize) // 6 + 1) * 6):
            _core.set_gemm_blocks(f"{mc},{d_in},{d_out + 64}")
            out.append(K.dense_forward(X, W, b, "relu"))
    finally:
        _core.set_gemm_blocks("table")
    (Z, A), (Z_rows, A_rows) = out
    np.testing.assert_array_equal(Z, Z_rows)
    np.testing.assert_array_equal(A, A_rows)
    ref = X.astype(np.float64) @ W.T.astype(np.float64) + b
    tol = 1e-4 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(Z, ref, rtol=tol, atol=tol * d_in / 10.0)
    np.testing.assert_array_equal(A, np.maximum(Z, 0))


@pytest.mark.parametrize("trans", [(0, 0), (0, 1), (1, 0), (1, 1)], ids=["NN", "NT", "TN", "TT"])
def test_variants_agree_to_rounding_on_mlp_shapes(trans):
    """The variants differ in what they pack, not in the sums: same values to fp32 rounding."""
    rng = np.random.default_rng(7)
    M, N, Kd = 128, 512, 784
    A = rng.standard_normal((Kd, M) if trans[0] else (M, Kd)).astype(np.float32)
    B = rng.standard_normal((N, Kd) if trans[1] else (Kd, N)).astype(np.float32)
    before = _core.gemm_variant()
    try:
        out = {}
        for v in VARIANTS:
            _core.set_gemm_variant(v)
            out[v] = K.gemm(A, B, trans_a=bool(trans[0]), trans_b=bool(trans[1]))
    finally:
        _core.set_gemm_variant(before)
    np.testing.assert_allclose(out["intel"], out["zen4"], rtol=1e-4, atol=1e-3)


def test_variant_follows_the_vendor_and_keeps_the_blocks():
    expected = "intel" if _core.cpu_info()["vendor"] == "intel" else "zen4"
    assert _core.cpu_gemm_variant() == expected
    before = _core.gemm_variant()
    try:
        _core.set_gemm_blocks("12,64,128")
        _core.set_gemm_variant("zen4" if before == "intel" else "intel")
        assert _core.gemm_blocks_source() == "override"
        assert tuple(_core.gemm_blocks("float32"))[1] == 64
        with pytest.raises(ValueError, match="name: GEMM variant must be one of 'auto', 'intel', 'zen4', 'zen3', got 'skylake'"):
            _core.set_gemm_variant("skylake")
    finally:
        _core.set_gemm_variant(before)
        _core.set_gemm_blocks("table")


@pytest.mark.skipif("avx2" not in LEVELS, reason="the variants are choices of the avx2 and avx512 levels, which this CPU lacks")
@pytest.mark.parametrize("forced, expected", [("intel", "intel"), ("zen4", "zen4"), ("zen3", "zen4"), ("nonsense", None)])
def test_variant_environment_variable(forced, expected):
    env = dict(os.environ, DELTAPROP_GEMM_VARIANT=forced)
    code = "import deltaprop as dp; from deltaprop import _core; print(_core.gemm_variant(), dp.build_info()['gemm_variant'])"
    family, label = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                   timeout=60, check=True).stdout.split()
    assert family == (expected or _core.cpu_gemm_variant())
    # The label names the active level's table: the AMD family is "zen4" at avx512, "zen3" at avx2.
    amd = "zen4" if dp.build_info()["simd"] == "avx512" else "zen3"
    assert label == ("intel" if family == "intel" else amd)


@pytest.mark.skipif("avx2" not in LEVELS, reason="this CPU lacks the avx2 level")
def test_avx2_level_names_its_variant():
    before, before_variant = dp.build_info()["simd"], _core.gemm_variant()
    try:
        dp.set_simd_level("avx2")
        for family, label in (("intel", "intel"), ("zen4", "zen3"), ("zen3", "zen3")):
            _core.set_gemm_variant(family)
            assert dp.build_info()["gemm_variant"] == label
        dp.set_simd_level("generic")
        assert dp.build_info()["gemm_variant"] == ""
    finally:
        dp.set_simd_level(before)
        _core.set_gemm_variant(before_variant)


@pytest.mark.parametrize("bad", ["", "1,2", "a,b,c", "0,4,4", "1,2,3,4", "fast"])
def test_bad_block_specs_are_refused(bad):
    if bad == "":
        _core.set_gemm_blocks(bad)  # empty: back to the table
        assert _core.gemm_blocks_source() == "table"
        return
    with pytest.raises(ValueError, match="DELTAPROP_GEMM_BLOCKS"):
        _core.set_gemm_blocks(bad)
    assert _core.gemm_blocks_source() == "table"


@pytest.mark.parametrize("spec, source", [("model", "model"), ("12,64,128", "override"), ("nonsense", "table (ignored")])
def test_environment_variable(spec, source):
    env = dict(os.environ, DELTAPROP_GEMM_BLOCKS=spec)
    out = subprocess.run([sys.executable, "-c", "import deltaprop as dp; i = dp.build_info(); "
                          "print(i['gemm_blocks_from']); print(i['gemm_blocks_float32'])"],
                         env=env, capture_output=True, text=True, timeout=60, check=True).stdout.splitlines()
    assert out[0].startswith(source)
    if spec == "model":
        assert out[1] == str(tuple(_core.model_gemm_blocks("float32")))


@pytest.mark.parametrize("trans", [(0, 0), (0, 1), (1, 0), (1, 1)], ids=["NN", "NT", "TN", "TT"])
@pytest.mark.parametrize("rows", [67, 68, 69, 70, 71])
def test_edge_row_panels_give_the_rows_of_a_full_panel(level, trans, rows, dtype):
    """A last row panel of 1..MR-1 rows runs a kernel of that many rows; each row's sums are the
    ones it gets inside a 72-row product (full panels; past the dot path's 64 rows, whose sums
    differ): the same bits, edge columns too, with beta, in one and in several K blocks."""
    rng = np.random.default_rng(rows + 10 * trans[0] + 20 * trans[1])
    Kd, N = 203, 150
    A = rng.standard_normal((Kd, 72) if trans[0] else (72, Kd)).astype(dtype)
    B = rng.standard_normal((N, Kd) if trans[1] else (Kd, N)).astype(dtype)
    C0 = rng.standard_normal((72, N)).astype(dtype)
    part = np.ascontiguousarray(A[:, :rows] if trans[0] else A[:rows])
    try:
        for blocks in ("table", "72,64,64"):
            _core.set_gemm_blocks(blocks)
            full = K.gemm(A, B, trans_a=bool(trans[0]), trans_b=bool(trans[1]), beta=0.5, out=C0.copy())
            edge = K.gemm(part, B, trans_a=bool(trans[0]), trans_b=bool(trans[1]), beta=0.5,
                          out=C0[:rows].copy())
            np.testing.assert_array_equal(edge, full[:rows], err_msg=f"blocks {blocks}")
    finally:
        _core.set_gemm_blocks("table")
    ref = 0.5 * C0[:rows].astype(np.float64) + (part.T if trans[0] else part).astype(np.float64) @ (
        B.T if trans[1] else B).astype(np.float64)
    tol = 1e-4 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(edge, ref, rtol=tol, atol=tol * Kd / 10.0)
