// AVX2 + FMA micro-kernels (compiled with -mavx2 -mfma). Haswell / Zen 1 and newer.
#include <immintrin.h>
#include <algorithm>
#include "../../runtime/dispatch.hpp"

namespace dp {
namespace isa_avx2 {

struct VecF32 {
  using T = float;
  using reg = __m256;
  static constexpr int width = 8;
  static reg zero() { return _mm256_setzero_ps(); }
  static reg bcast(T x) { return _mm256_set1_ps(x); }
  static reg load(const T* p) { return _mm256_loadu_ps(p); }
  static void store(T* p, reg v) { _mm256_storeu_ps(p, v); }
  static reg fma(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  // Lanes below count (1..8); the masked-off lanes are neither read nor written.
  static __m256i mask(int count) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static reg load_partial(const T* p, int count) { return _mm256_maskload_ps(p, mask(count)); }
  static void store_partial(T* p, reg v, int count) { _mm256_maskstore_ps(p, mask(count), v); }
  static T sum(reg v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }
};

struct VecF64 {
  using T = double;
  using reg = __m256d;
  static constexpr int width = 4;
  static reg zero() { return _mm256_setzero_pd(); }
  static reg bcast(T x) { return _mm256_set1_pd(x); }
  static reg load(const T* p) { return _mm256_loadu_pd(p); }
  static void store(T* p, reg v) { _mm256_storeu_pd(p, v); }
  static reg fma(reg a, reg b, reg c) { return _mm256_fmadd_pd(a, b, c); }
  static reg mul(reg a, reg b) { return _mm256_mul_pd(a, b); }
  static __m256i mask(int count) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(count), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  static reg load_partial(const T* p, int count) { return _mm256_maskload_pd(p, mask(count)); }
  static void store_partial(T* p, reg v, int count) { _mm256_maskstore_pd(p, mask(count), v); }
  static T sum(reg v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
  }
};

#include "../../kernels/gemm/ukr_template.hpp"
#include "../../kernels/gemm/arch_kernels.hpp"

// 6 x 2 vectors: 12 ymm accumulators + 2 B loads + 1 broadcast fit the 16 ymm registers.
void sgemm_ukr_avx2_6x16(idx k, const float* Ap, idx a_ks, const float* Bp, idx b_ks, float* C, idx ldc, float alpha,
                         float beta) {
  gemm_ukr<VecF32, 6, 2>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta);
}
void dgemm_ukr_avx2_6x8(idx k, const double* Ap, idx a_ks, const double* Bp, idx b_ks, double* C, idx ldc,
                        double alpha, double beta) {
  gemm_ukr<VecF64, 6, 2>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta);
}

// The same tiles with A's panel read as rows in place (C = A B or A Bᵀ, A row-major).
void sgemm_ukr_rows_avx2_6x16(idx k, const float* Ap, idx a_ks, const float* Bp, idx b_ks, float* C,
                              idx ldc, float alpha, float beta) {
  gemm_ukr<VecF32, 6, 2, true>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta);
}
void dgemm_ukr_rows_avx2_6x8(idx k, const double* Ap, idx a_ks, const double* Bp, idx b_ks,
                             double* C, idx ldc, double alpha, double beta) {
  gemm_ukr<VecF64, 6, 2, true>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta);
}

// 8 x 8 transpose in registers (unpack, in-lane shuffles, 128-bit lane swaps): 24 shuffles for
// 64 values instead of 64 scalar loads and stores.
inline void transpose8(__m256 r[8]) {
  __m256 t[8], s[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    s[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x31);
  }
}

inline void transpose4(__m256d r[4]) {
  const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
  const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
  r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
  r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
  r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
  r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

// pack_b for a transposed B (op(B)(p, j) = B[j*ldb + p], a layer's weights in the forward
// product): W x W blocks (W rows of B x W values of k, masked at the k edge, zeros past the n
// edge) are transposed in registers and stored as W panel rows. Same values in the same places
// as the portable pack_b, so results do not change.
template <class V, void (*Transpose)(typename V::reg*)>
void pack_b_trans(const typename V::T* B, idx ldb, idx p0, idx k, idx j0, idx n, int NR,
                  typename V::T* Bp) {
  constexpr int W = V::width;
  using R = typename V::reg;
  for (idx jr = 0; jr < n; jr += NR) {
    const idx nr = std::min<idx>(NR, n - jr);
    typename V::T* dst = Bp + jr * k;
    for (idx js = 0; js < NR; js += W) {
      const idx w = std::max<idx>(0, std::min<idx>(W, nr - js));
      const typename V::T* src = B + (j0 + jr + js) * ldb + p0;
      for (idx p = 0; p < k; p += W) {
        const int kr = int(std::min<idx>(W, k - p));
        R r[W];
        for (idx j = 0; j < W; ++j)
          r[j] = j >= w ? V::zero() : kr == W ? V::load(src + j * ldb + p) : V::load_partial(src + j * ldb + p, kr);
        Transpose(r);
        for (int q = 0; q < kr; ++q) V::store(dst + (p + q) * NR + js, r[q]);
      }
    }
  }
}

// GemmArch::pack_b_panels: the transposing pack above, or row copies for a plain B.
template <class V, void (*Transpose)(typename V::reg*)>
void pack_b_avx2(const typename V::T* B, idx ldb, bool trans_b, idx p0, idx k, idx j0, idx n, int NR,
                 typename V::T* Bp) {
  if (trans_b)
    pack_b_trans<V, Transpose>(B, ldb, p0, k, j0, n, NR, Bp);
  else
    pack_b_rows(B, ldb, p0, k, j0, n, NR, Bp);
}

// 3 x 4: 12 accumulators + 4 B vectors fill the 16 ymm registers; A is a memory operand.
void sgemm_dot_avx2_3x4(idx k, const float* A, idx lda, const float* B, idx ldb, float* C, idx ldc,
                        idx m, idx n, float alpha, float beta) {
  gemm_dot_nt<VecF32, 3, 4>(k, A, lda, B, ldb, C, ldc, m, n, alpha, beta);
}
void dgemm_dot_avx2_3x4(idx k, const double* A, idx lda, const double* B, idx ldb, double* C,
                        idx ldc, idx m, idx n, double alpha, double beta) {
  gemm_dot_nt<VecF64, 3, 4>(k, A, lda, B, ldb, C, ldc, m, n, alpha, beta);
}

// One-row kernels (M = 1): rows of B streamed whole, 4 at a time, into accumulators in L1.
void sgemm_row_avx2(idx k, idx n, const float* a, idx a_ks, const float* B, idx ldb, float* C,
                    float alpha, float beta, float* acc) {
  gemm_row_axpy<VecF32, 4>(k, n, a, a_ks, B, ldb, C, alpha, beta, acc);
}
void dgemm_row_avx2(idx k, idx n, const double* a, idx a_ks, const double* B, idx ldb, double* C,
                    double alpha, double beta, double* acc) {
  gemm_row_axpy<VecF64, 4>(k, n, a, a_ks, B, ldb, C, alpha, beta, acc);
}
void sgemm_row_dot_avx2(idx k, const float* A, idx lda, const float* B, idx ldb, float* C, idx ldc,
                         idx m, idx n, float alpha, float beta) {
  gemm_dot_nt<VecF32, 1, 8>(k, A, lda, B, ldb, C, ldc, m, n, alpha, beta);
}
void dgemm_row_dot_avx2(idx k, const double* A, idx lda, const double* B, idx ldb, double* C,
                         idx ldc, idx m, idx n, double alpha, double beta) {
  gemm_dot_nt<VecF64, 1, 8>(k, A, lda, B, ldb, C, ldc, m, n, alpha, beta);
}

}  // namespace isa_avx2

void fill_arch_avx2(GemmArch<float>& f32, GemmArch<double>& f64, GemmVariant variant) {
  using isa_avx2::VecF32;
  using isa_avx2::VecF64;
  // Two vendor families at this level: the tiles and kernels are shared, the driver's policy
  // (and so which kernels it calls) differs.
  const bool intel = variant == GemmVariant::Intel;
  const GemmPolicy& policy = intel ? kGemmPolicyIntelAvx2 : kGemmPolicyZen3;
  const char* name = intel ? "intel" : "zen3";
  f32 = {"avx2", 6, 16, 240, 256, 1024, isa_avx2::sgemm_ukr_avx2_6x16,
         3, 4, isa_avx2::sgemm_dot_avx2_3x4,
         8*8, isa_avx2::sgemm_row_avx2, 8, isa_avx2::sgemm_row_dot_avx2,
         policy, name, isa_avx2::sgemm_ukr_rows_avx2_6x16, isa_avx2::pack_b_avx2<VecF32, isa_avx2::transpose8>,
         isa_avx2::row_sgd<VecF32, 8>, isa_avx2::row_sgd<VecF32, 1>,
         isa_avx2::rows_sgd<VecF32, 4>, isa_avx2::rows_sgd<VecF32, 1>,
         isa_avx2::ukr_edge<VecF32, 6, 2>};
  f64 = {"avx2", 6, 8, 240, 256, 512, isa_avx2::dgemm_ukr_avx2_6x8,
         3, 4, isa_avx2::dgemm_dot_avx2_3x4,
         8*4, isa_avx2::dgemm_row_avx2, 8, isa_avx2::dgemm_row_dot_avx2,
         policy, name, isa_avx2::dgemm_ukr_rows_avx2_6x8, isa_avx2::pack_b_avx2<VecF64, isa_avx2::transpose4>,
         isa_avx2::row_sgd<VecF64, 8>, isa_avx2::row_sgd<VecF64, 1>,
         isa_avx2::rows_sgd<VecF64, 4>, isa_avx2::rows_sgd<VecF64, 1>,
         isa_avx2::ukr_edge<VecF64, 6, 2>};
}

}  // namespace dp
