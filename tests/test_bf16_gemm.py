"""The bf16 GEMM at every level this CPU supports (amx, avx512bf16, generic) against an
independent reference: numpy rounds the inputs to bfloat16 (nearest even) and sums the products in
float64. Products of two bf16 values are exact in float32, so the only error left is float32
summation: the tolerance is a few float32 ulps of sum |a||b|, far below bf16's own 2^-8.
Plus the rounding itself, every transpose, edge tiles, K off the pair/chunk size, small forced
blocks, row-strided views, bitwise equality across thread counts, and the level override."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import _core
from deltaprop import kernels as K

LEVELS = list(_core.bf16_levels())


def bf16_round(x) -> np.ndarray:
    """float32 -> bfloat16 -> float32 in numpy: round to nearest even on the bit pattern, NaN
    kept (quiet), subnormals to a signed zero (what VCVTNEPS2BF16 does)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    magnitude = u & 0x7FFFFFFF
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF
    rounded = np.where(magnitude > 0x7F800000, ((u >> 16) | 0x40) & 0xFFFF, rounded)
    rounded = np.where(magnitude < 0x00800000, (u >> 16) & 0x8000, rounded)
    return (rounded.astype(np.uint32) << 16).view(np.float32).reshape(np.shape(x))


def reference(A, B, ta, tb, alpha=1.0, beta=0.0, C=None):
    a = bf16_round(A).astype(np.float64)
    b = bf16_round(B).astype(np.float64)
    a, b = (a.T if ta else a), (b.T if tb else b)
    exact = alpha * (a @ b) + (0.0 if C is None else beta * C.astype(np.float64))
    scale = abs(alpha) * (np.abs(a) @ np.abs(b)) + (0.0 if C is None else abs(beta) * np.abs(C))
    return exact, scale


def assert_bf16_close(got, A, B, ta, tb, alpha=1.0, beta=0.0, C=None):
    exact, scale = reference(A, B, ta, tb, alpha, beta, C)
    k = (A.shape[0] if ta else A.shape[1]) + 2
    bound = 2.0 * k * 2.0**-24 * scale + 1e-30
    worst = np.max(np.abs(got - exact) / bound)
    assert worst <= 1.0, f"error {worst:.3g} x the float32-summation bound"


@pytest.fixture(params=LEVELS)
def level(request):
    before = _core.bf16_level()
    _core.set_bf16_level(request.param)
    yield request.param
    _core.set_bf16_level(before)


@pytest.fixture
def small_blocks():
    _core.set_bf16_gemm_blocks("32,64,64")
    yield
    _core.set_bf16_gemm_blocks("table")


def test_rounding_matches_the_numpy_reference():
    special = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 3.4e38, -3.4e38, 1e-45, -1e-40,
                        1.17549435e-38, 65504.0, 1.0 + 2.0**-8, 1.0 + 3 * 2.0**-8, 1.0 + 2.0**-9], np.float32)
    ties = (np.arange(1 << 12, dtype=np.uint32) << 15 | 0x3F800000).view(np.float32)  # halfway and exact
    values = np.concatenate([special, ties, np.random.default_rng(0).standard_normal(5000).astype(np.float32)])
    got = _core.bf16_round_float32(values)
    want = bf16_round(values)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    assert got[13] == 1.0 and got[14] == 1.0 + 4 * 2.0**-8  # ties to even, both ways
    assert np.isinf(got[7]) and got[8] < 0 and np.isinf(got[8])  # just below FLT_MAX rounds up
    assert got[10] == 0 and np.signbit(got[10]) and got[9] == 0  # subnormals to signed zero


# (M, N, K): tiny, one tile, edge tiles both ways, K odd / below a pair / off the 32-chunk,
# K above the KC block, a narrow N (an output layer), M = 1 (one sample).
SHAPES = [(1, 1, 1), (1, 10, 784), (3, 5, 2), (5, 37, 19), (32, 32, 32), (33, 65, 31), (6, 64, 64),
          (17, 100, 300), (67, 131, 97), (128, 10, 64), (40, 70, 1100)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("trans", [(0, 0), (0, 1), (1, 0), (1, 1)], ids=["NN", "NT", "TN", "TT"])
def test_gemm_bf16_each_level(level, shape, trans):
    rng = np.random.default_rng(abs(hash((shape, trans))) % 2**32)
    M, N, Kd = shape
    ta, tb = trans
    A = rng.standard_normal((Kd, M) if ta else (M, Kd)).astype(np.float32)
    B = rng.standard_normal((N, Kd) if tb else (Kd, N)).astype(np.float32)
    C0 = rng.standard_normal((M, N)).astype(np.float32)
    got = K.gemm(A, B, ta, tb, alpha=0.75, beta=-0.5, out=C0.copy(), precision="bf16")
    assert_bf16_close(got, A, B, ta, tb, 0.75, -0.5, C0)
    fresh = K.gemm(A, B, ta, tb, precision="bf16")
    assert_bf16_close(fresh, A, B, ta, tb)


@pytest.mark.parametrize("trans", [(0, 0), (0, 1), (1, 0), (1, 1)], ids=["NN", "NT", "TN", "TT"])
def test_gemm_bf16_small_blocks_split_every_loop(level, small_blocks, trans):
    """Blocks far smaller than the matrix: several NC, KC and MC blocks, beta applied once."""
    rng = np.random.default_rng(3)
    ta, tb = trans
    M, N, Kd = 101, 150, 333
    A = rng.standard_normal((Kd, M) if ta else (M, Kd)).astype(np.float32)
    B = rng.standard_normal((N, Kd) if tb else (Kd, N)).astype(np.float32)
    C0 = rng.standard_normal((M, N)).astype(np.float32)
    assert _core.bf16_gemm_blocks()[1] < Kd
    got = K.gemm(A, B, ta, tb, alpha=1.0, beta=1.0, out=C0.copy(), precision="bf16")
    assert_bf16_close(got, A, B, ta, tb, 1.0, 1.0, C0)
    got = K.gemm(A, B, ta, tb, alpha=-0.1, beta=0.9, out=C0.copy(), precision="bf16")
    assert_bf16_close(got, A, B, ta, tb, -0.1, 0.9, C0)


@pytest.mark.parametrize("M, N", [(2600, 300), (300, 2600)], ids=["tall", "wide"])
def test_gemm_bf16_large_split_products(level, M, N):
    """Products large enough for two threads and several blocks of each operand."""
    rng = np.random.default_rng(13)
    Kd = 300
    A = rng.standard_normal((M, Kd)).astype(np.float32)
    B = rng.standard_normal((N, Kd)).astype(np.float32)
    assert_bf16_close(K.gemm(A, B, trans_b=True, precision="bf16"), A, B, False, True)


def test_gemm_bf16_reads_row_strided_views(level):
    rng = np.random.default_rng(5)
    big_a = rng.standard_normal((50, 120)).astype(np.float32)
    big_b = rng.standard_normal((90, 80)).astype(np.float32)
    A, B = big_a[:41, 3:80], big_b[:77, 1:70]  # rows further apart than their width, unaligned
    assert not A.flags.c_contiguous
    assert_bf16_close(K.gemm(A, B, precision="bf16"), A, B, False, False)


def test_gemm_bf16_is_not_the_float32_product(level):
    """The rounding happens: a value bf16 cannot hold changes the result as the reference says."""
    A = np.full((4, 64), 1.0 + 2.0**-10, np.float32)
    B = np.ones((64, 48), np.float32)
    np.testing.assert_array_equal(K.gemm(A, B, precision="bf16"), np.full((4, 48), 64.0, np.float32))
    assert K.gemm(A, B)[0, 0] == np.float32(64 * (1 + 2.0**-10))


def test_gemm_bf16_special_values(level):
    A = np.ones((40, 70), np.float32)
    B = np.ones((70, 33), np.float32)
    A[3, 5] = np.inf
    B[7, 2] = np.nan
    got = K.gemm(A, B, precision="bf16")
    assert np.isinf(got[3, [0, 1, 3]]).all() and np.isnan(got[:, 2]).all()
    assert np.isfinite(np.delete(np.delete(got, 3, axis=0), 2, axis=1)).all()


# Split along N (B packed by each thread), along M (A packed by each thread), few rows.
@pytest.mark.parametrize("M, N", [(300, 2600), (2600, 300), (3, 2600)], ids=["wide", "tall", "few-rows"])
@pytest.mark.parametrize("trans", [(0, 1), (0, 0), (1, 0)], ids=["NT", "NN", "TN"])
def test_gemm_bf16_bitwise_equal_for_one_and_two_threads(level, trans, M, N):
    rng = np.random.default_rng(11)
    ta, tb = trans
    Kd = 700
    A = rng.standard_normal((Kd, M) if ta else (M, Kd)).astype(np.float32)
    B = rng.standard_normal((N, Kd) if tb else (Kd, N)).astype(np.float32)
    C0 = rng.standard_normal((M, N)).astype(np.float32)
    before = dp.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            dp.set_num_threads(threads)
            results.append(K.gemm(A, B, ta, tb, alpha=-0.5, beta=1.0, out=C0.copy(), precision="bf16"))
    finally:
        dp.set_num_threads(before)
    np.testing.assert_array_equal(results[0], results[1])


def test_levels_and_build_info():
    info = dp.build_info()
    assert info["bf16"] in LEVELS and info["bf16_levels"] == LEVELS
    assert LEVELS[0] == "generic"
    cpu = _core.cpu_info()
    if cpu["amx_bf16"] and "amx" not in LEVELS:
        assert info["amx_unavailable"]  # says why the AMX the CPU has is not used
    mr, nr, kg = info["bf16_tile"]
    assert mr >= 1 and nr >= 16 and kg in (2, 32)


def test_level_setter_rejects_unknown_and_unsupported():
    with pytest.raises(ValueError, match="level: bf16 level must be one of 'generic', 'avx512bf16', 'amx'"):
        _core.set_bf16_level("avx9000")
    if "amx" not in LEVELS:
        with pytest.raises(ValueError, match="is not available on this machine"):
            _core.set_bf16_level("amx")


def test_blocks_setter_rejects_bad_specs():
    for bad in ("model", "1,2", "a,b,c", "0,1,1"):
        with pytest.raises(ValueError, match="spec: expected 'table' or 'MC,KC,NC'"):
            _core.set_bf16_gemm_blocks(bad)


def test_low_simd_level_keeps_bf16_on_the_portable_code():
    if dp.build_info()["simd_max"] != "avx512":
        pytest.skip("needs AVX-512")
    before = dp.build_info()["simd"]
    try:
        dp.set_simd_level("avx2")
        assert _core.bf16_level() == "generic"
    finally:
        dp.set_simd_level(before)
    assert _core.bf16_level() == LEVELS[-1] or os.environ.get("DELTAPROP_BF16")


@pytest.mark.parametrize("name", LEVELS)
def test_environment_variable_forces_each_level(name):
    code = ("import deltaprop as dp, numpy as np; i = dp.build_info(); "
            "a = np.ones((3, 5), np.float32); c = dp.kernels.gemm(a, a.T, precision='bf16'); "
            "print(i['bf16'], float(c[0, 0]))")
    env = dict(os.environ, DELTAPROP_BF16=name)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [name, "5.0"]


SYSCALL_REFUSING_AMX = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/syscall.h>
long syscall(long number, ...) {
  va_list ap;
  va_start(ap, number);
  long a[6];
  for (int i = 0; i < 6; ++i) a[i] = va_arg(ap, long);
  va_end(ap);
  if (number == SYS_arch_prctl && a[0] == 0x1023) { errno = EPERM; return -1; }  /* ARCH_REQ_XCOMP_PERM */
  long (*real)(long, ...) = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
  return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
"""


def test_amx_refused_by_the_kernel_falls_back(tmp_path):
    """When Linux refuses the tile state, the next level runs and build_info says why."""
    if "amx" not in LEVELS:
        pytest.skip("this CPU or build has no AMX level")
    import shutil
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build the syscall shim")
    (tmp_path / "shim.c").write_text(SYSCALL_REFUSING_AMX)
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(tmp_path / "shim.so"), str(tmp_path / "shim.c"), "-ldl"],
                   check=True, capture_output=True)
    code = ("import deltaprop as dp, numpy as np; i = dp.build_info(); "
            "a = np.ones((40, 70), np.float32); c = dp.kernels.gemm(a, a.T, precision='bf16'); "
            "print(i['bf16'], i['bf16_levels'][-1], float(c[0, 0])); print(i['amx_unavailable'])")
    env = {k: v for k, v in os.environ.items() if k != "DELTAPROP_BF16"}
    env["LD_PRELOAD"] = str(tmp_path / "shim.so")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    first, reason = out.stdout.splitlines()
    assert first.split() == ["avx512bf16", "avx512bf16", "70.0"]
    assert "refused" in reason and "ARCH_REQ_XCOMP_PERM" in reason


def test_precision_argument_is_checked():
    a = np.ones((2, 2), np.float32)
    with pytest.raises(ValueError, match=r"precision: expected one of 'fp32', 'bf16', got 'fp16'"):
        K.gemm(a, a, precision="fp16")
    with pytest.raises(TypeError, match="A: precision='bf16' takes float32 arrays, got dtype 'float64'"):
        K.gemm(a.astype(np.float64), a.astype(np.float64), precision="bf16")
