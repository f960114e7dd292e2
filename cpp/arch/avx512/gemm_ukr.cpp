// AVX-512 micro-kernels (compiled with -mavx512f -mfma). Zen 4 / Skylake-X and newer.
#include <immintrin.h>
#include <algorithm>
#include <cstdint>
#include "../../runtime/dispatch.hpp"

namespace dp {
namespace isa_avx512 {

struct VecF32 {
  using T = float;
  using reg = __m512;
  static constexpr int width = 16;
  static reg zero() { return _mm512_setzero_ps(); }
  static reg bcast(T x) { return _mm512_set1_ps(x); }
  static reg load(const T* p) { return _mm512_loadu_ps(p); }
  static void store(T* p, reg v) { _mm512_storeu_ps(p, v); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static reg load_partial(const T* p, int count) {
    return _mm512_maskz_loadu_ps(__mmask16((1u << count) - 1u), p);
  }
  static void store_partial(T* p, reg v, int count) {
    _mm512_mask_storeu_ps(p, __mmask16((1u << count) - 1u), v);
  }
  static T sum(reg v) { return _mm512_reduce_add_ps(v); }
  // For rows that start `off` elements into a cache line: an aligned line, and the vector at
  // element off of two consecutive ones (gemm_row_axpy's kRealignB).
  static reg load_aligned(const T* p) { return _mm512_load_ps(p); }
  static reg realign(reg lo, reg hi, int off) {
    const __m512i pick = _mm512_add_epi32(
        _mm512_set1_epi32(off), _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    return _mm512_permutex2var_ps(lo, pick, hi);
  }
};

struct VecF64 {
  using T = double;
  using reg = __m512d;
  static constexpr int width = 8;
  static reg zero() { return _mm512_setzero_pd(); }
  static reg bcast(T x) { return _mm512_set1_pd(x); }
  static reg load(const T* p) { return _mm512_loadu_pd(p); }
  static void store(T* p, reg v) { _mm512_storeu_pd(p, v); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_pd(a, b, c); }
  static reg mul(reg a, reg b) { return _mm512_mul_pd(a, b); }
  static reg load_partial(const T* p, int count) {
    return _mm512_maskz_loadu_pd(__mmask8((1u << count) - 1u), p);
  }
  static void store_partial(T* p, reg v, int count) {
    _mm512_mask_storeu_pd(p, __mmask8((1u << count) - 1u), v);
  }
  static T sum(reg v) { return _mm512_reduce_add_pd(v); }
};

#include "../../kernels/gemm/ukr_template.hpp"
#include "../../kernels/gemm/arch_kernels.hpp"

void sgemm_ukr_avx512_6x64(idx k, const float* Ap, idx a_ks, const float* Bp, idx b_ks, float* C, idx ldc, float alpha,
                           float beta) {
  gemm_ukr<VecF32, 6, 4>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta);
}
void dgemm_ukr_avx512_6x32(idx k, const double* Ap, idx a_ks, const double* Bp, idx b_ks, double* C, idx ldc,
                           double alpha, double beta) {
  gemm_ukr<VecF64, 6, 4>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta);
}

// The same tiles with A's panel read as rows in place (C = A B, A row-major, nothing packed).
void sgemm_ukr_rows_avx512_6x64(idx k, const float* Ap, idx a_ks, const float* Bp, idx b_ks,
                                float* C, idx ldc, float alpha, float beta) {
  gemm_ukr<VecF32, 6, 4, true>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta);
}
void dgemm_ukr_rows_avx512_6x32(idx k, const double* Ap, idx a_ks, const double* Bp, idx b_ks,
                                double* C, idx ldc, double alpha, double beta) {
  gemm_ukr<VecF64, 6, 4, true>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta);
}

// 16 x 16 transpose in registers: r[i][j] -> r[j][i] (unpack, in-lane shuffles, then 128-bit
// lane shuffles), 64 shuffles for 256 values instead of 256 scalar loads and stores.
static inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int h = 0; h < 16; h += 8)
    for (int i = 0; i < 4; ++i) {
      t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
      t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xDD);
    }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
  }
}

// pack_b for a transposed B (op(B)(p, j) = B[j*ldb + p]): 16 rows of B x 16 values of k are
// loaded (masked at the k edge, zeros past the n edge), transposed, and stored as 16 panel rows.
// Same values in the same places as the portable pack_b, so results do not change.
void sgemm_pack_b_trans_avx512(const float* B, idx ldb, idx p0, idx k, idx j0, idx n, int NR,
                               float* Bp) {
  for (idx jr = 0; jr < n; jr += NR) {
    const idx nr = std::min<idx>(NR, n - jr);
    float* dst = Bp + jr * k;
    for (idx js = 0; js < NR; js += 16) {
      const idx w = std::max<idx>(0, std::min<idx>(16, nr - js));
      const float* src = B + (j0 + jr + js) * ldb + p0;
      for (idx p = 0; p < k; p += 16) {
        const idx kr = std::min<idx>(16, k - p);
        const __mmask16 km = kr == 16 ? __mmask16(0xFFFF) : __mmask16((1u << kr) - 1u);
        __m512 r[16];
        for (idx j = 0; j < 16; ++j)
          r[j] = j < w ? _mm512_maskz_loadu_ps(km, src + j * ldb + p) : _mm512_setzero_ps();
        transpose16(r);
        for (idx q = 0; q < kr; ++q) _mm512_storeu_ps(dst + (p + q) * NR + js, r[q]);
      }
    }
  }
}

// pack_b for a transposed B in float64: each panel row (8 values of one k, 8 rows of B apart) is
// one gather along B's leading dimension (zeros past the n edge). Same values in the same places
// as the portable pack_b, so results do not change.
void dgemm_pack_b_trans_avx512(const double* B, idx ldb, idx p0, idx k, idx j0, idx n, int NR,
                               double* Bp) {
  const __m512i rows = _mm512_mullo_epi64(_mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7), _mm512_set1_epi64(ldb));
  for (idx jr = 0; jr < n; jr += NR) {
    const idx nr = std::min<idx>(NR, n - jr);
    double* dst = Bp + jr * k;
    for (idx js = 0; js < NR; js += 8) {
      const idx w = std::max<idx>(0, std::min<idx>(8, nr - js));
      if (w == 0) {
        for (idx p = 0; p < k; ++p) _mm512_storeu_pd(dst + p * NR + js, _mm512_setzero_pd());
        continue;
      }
      const __mmask8 wm = __mmask8((1u << w) - 1u);
      const double* src = B + (j0 + jr + js) * ldb + p0;
      for (idx p = 0; p < k; ++p)
        _mm512_storeu_pd(dst + p * NR + js, _mm512_mask_i64gather_pd(_mm512_setzero_pd(), wm, rows, src + p, 8));
    }
  }
}

void sgemm_pack_b_avx512(const float* B, idx ldb, bool trans_b, idx p0, idx k, idx j0, idx n,
                         int NR, float* Bp) {
  if (trans_b)
    sgemm_pack_b_trans_avx512(B, ldb, p0, k, j0, n, NR, Bp);
  else
    pack_b_rows(B, ldb, p0, k, j0, n, NR, Bp);
}

void dgemm_pack_b_avx512(const double* B, idx ldb, bool trans_b, idx p0, idx k, idx j0, idx n,
                         int NR, double* Bp) {
  if (trans_b)
    dgemm_pack_b_trans_avx512(B, ldb, p0, k, j0, n, NR, Bp);
  else
    pack_b_rows(B, ldb, p0, k, j0, n, NR, Bp);
}

void sgemm_dot_avx512_4x4(idx k, const float* A, idx lda, const float* B, idx ldb, float* C,
                          idx ldc, idx m, idx n, float alpha, float beta) {
  gemm_dot_nt<VecF32, 4, 4>(k, A, lda, B, ldb, C, ldc, m, n, alpha, beta);
}
void dgemm_dot_avx512_4x4(idx k, const double* A, idx lda, const double* B, idx ldb, double* C,
                          idx ldc, idx m, idx n, double alpha, double beta) {
  gemm_dot_nt<VecF64, 4, 4>(k, A, lda, B, ldb, C, ldc, m, n, alpha, beta);
}

// Where rows of float32 `ldb` apart start in their cache line, in elements, if they all start at
// the same place (ldb a multiple of 16) and off its start; 0 otherwise.
static int row_line_offset(const float* B, idx ldb) {
  const auto address = reinterpret_cast<std::uintptr_t>(B);
  if (address % sizeof(float) != 0 || ldb % 16 != 0) return 0;
  return int(address % 64) / int(sizeof(float));
}

// One-row kernels (M = 1): rows of B streamed whole, 4 at a time, into accumulators in L1.
void sgemm_row_avx512(idx k, idx n, const float* a, idx a_ks, const float* B, idx ldb, float* C,
                    float alpha, float beta, float* acc) {
  // Rows of B inside cache lines (numpy's arrays) are realigned: 1x512 @ 512x784 from L2 on
  // Sapphire Rapids lost 13-20% to split loads.
  const int off = row_line_offset(B, ldb);
  if (off > 0 && n >= 3 * 16)
    return gemm_row_axpy<VecF32, 4, true>(k, n, a, a_ks, B, ldb, C, alpha, beta, acc, off);
  gemm_row_axpy<VecF32, 4>(k, n, a, a_ks, B, ldb, C, alpha, beta, acc);
}
void dgemm_row_avx512(idx k, idx n, const double* a, idx a_ks, const double* B, idx ldb, double* C,
                    double alpha, double beta, double* acc) {
  gemm_row_axpy<VecF64, 4>(k, n, a, a_ks, B, ldb, C, alpha, beta, acc);
}

// gemm_dot_nt<VecF32, 1, 8> for rows of B that all start off a 64-byte line (numpy's arrays
// start 16 bytes into one): each unaligned vector is rebuilt from the two aligned lines it spans
// (vpermt2ps, carried from one step to the next), so no load splits across lines (512 x 784 from
// L2 on two Sapphire Rapids cores, a C loop: 15.5 -> 10.8 us). The same vectors meet the same
// FMAs in the same order as in gemm_dot_nt: the same bits, aligned or not. The first vector and
// the last ones are loaded as there, so nothing outside the rows is read.
static void sgemm_row_dot_realigned(idx k, const float* a, const float* B, idx ldb, float* C,
                                    idx n, float alpha, float beta, int off) {
  constexpr int W = 16, NR = 8;
  constexpr int kPrefetchAhead = 256 / int(sizeof(float));
  const float* b[NR];
  for (int j = 0; j < NR; ++j) b[j] = B + (j < n ? j : 0) * ldb;
  __m512 acc[NR];
  const __m512 a0 = _mm512_loadu_ps(a);
#pragma GCC unroll 8
  for (int j = 0; j < NR; ++j) acc[j] = _mm512_fmadd_ps(a0, _mm512_loadu_ps(b[j]), _mm512_setzero_ps());
  __m512 line[NR];  // the aligned line that holds element p of each row
#pragma GCC unroll 8
  for (int j = 0; j < NR; ++j) line[j] = _mm512_load_ps(b[j] + W - off);
  idx p = W;
  for (; p + 2 * W - off <= k; p += W) {  // the next line lies within the row
    const __m512 av = _mm512_loadu_ps(a + p);
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) {
      __builtin_prefetch(b[j] + p + kPrefetchAhead);
      const __m512 next = _mm512_load_ps(b[j] + p + W - off);
      acc[j] = _mm512_fmadd_ps(av, VecF32::realign(line[j], next, off), acc[j]);
      line[j] = next;
    }
  }
  for (; p + W <= k; p += W) {
    const __m512 av = _mm512_loadu_ps(a + p);
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) acc[j] = _mm512_fmadd_ps(av, _mm512_loadu_ps(b[j] + p), acc[j]);
  }
  if (p < k) {
    const int rest = int(k - p);
    const __m512 av = VecF32::load_partial(a + p, rest);
    for (int j = 0; j < NR; ++j) acc[j] = _mm512_fmadd_ps(av, VecF32::load_partial(b[j] + p, rest), acc[j]);
  }
  for (idx j = 0; j < n; ++j) {
    const float v = alpha * _mm512_reduce_add_ps(acc[j]);
    C[j] = beta == 0.0f ? v : v + beta * C[j];
  }
}

void sgemm_row_dot_avx512(idx k, const float* A, idx lda, const float* B, idx ldb, float* C, idx ldc,
                         idx m, idx n, float alpha, float beta) {
  const int off = row_line_offset(B, ldb);
  if (m == 1 && off > 0 && k >= 3 * 16)
    return sgemm_row_dot_realigned(k, A, B, ldb, C, n, alpha, beta, off);
  gemm_dot_nt<VecF32, 1, 8>(k, A, lda, B, ldb, C, ldc, m, n, alpha, beta);
}
void dgemm_row_dot_avx512(idx k, const double* A, idx lda, const double* B, idx ldb, double* C,
                         idx ldc, idx m, idx n, double alpha, double beta) {
  gemm_dot_nt<VecF64, 1, 8>(k, A, lda, B, ldb, C, ldc, m, n, alpha, beta);
}

}  // namespace isa_avx512

void fill_arch_avx512(GemmArch<float>& f32, GemmArch<double>& f64, GemmVariant variant) {
  // Two micro-architectures at this level: the tiles and kernels are shared, the driver's policy
  // (and so which kernels it calls) was measured on each.
  const bool intel = variant == GemmVariant::Intel;
  const GemmPolicy& policy = intel ? kGemmPolicyIntelAvx512 : kGemmPolicyZen4;
  f32 = {"avx512", 6, 64, 240, 256, 512, isa_avx512::sgemm_ukr_avx512_6x64,
         4, 4, isa_avx512::sgemm_dot_avx512_4x4,
         8*16, isa_avx512::sgemm_row_avx512, 8, isa_avx512::sgemm_row_dot_avx512,
         policy, intel ? "intel" : "zen4", isa_avx512::sgemm_ukr_rows_avx512_6x64,
         isa_avx512::sgemm_pack_b_avx512, isa_avx512::row_sgd<isa_avx512::VecF32, 8>,
         isa_avx512::row_sgd<isa_avx512::VecF32, 1>,
         isa_avx512::rows_sgd<isa_avx512::VecF32, 4>, isa_avx512::rows_sgd<isa_avx512::VecF32, 1>,
         isa_avx512::ukr_edge<isa_avx512::VecF32, 6, 4>};
  f64 = {"avx512", 6, 32, 60, 256, 512, isa_avx512::dgemm_ukr_avx512_6x32,
         4, 4, isa_avx512::dgemm_dot_avx512_4x4,
         8*8, isa_avx512::dgemm_row_avx512, 8, isa_avx512::dgemm_row_dot_avx512,
         policy, intel ? "intel" : "zen4", isa_avx512::dgemm_ukr_rows_avx512_6x32,
         isa_avx512::dgemm_pack_b_avx512,
         isa_avx512::row_sgd<isa_avx512::VecF64, 8>, isa_avx512::row_sgd<isa_avx512::VecF64, 1>,
         isa_avx512::rows_sgd<isa_avx512::VecF64, 4>, isa_avx512::rows_sgd<isa_avx512::VecF64, 1>,
         isa_avx512::ukr_edge<isa_avx512::VecF64, 6, 4>};
}

}  // namespace dp
