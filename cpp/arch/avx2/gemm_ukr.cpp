// AVX2 + FMA micro-kernels (compiled with -mavx2 -mfma). Haswell / Zen 1 and newer.
#include <immintrin.h>
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
  static reg load_partial(const T* p, int count) {
    alignas(32) T buf[width] = {};
    for (int i = 0; i < count; ++i) buf[i] = p[i];
    return _mm256_load_ps(buf);
  }
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
  static reg load_partial(const T* p, int count) {
    alignas(32) T buf[width] = {};
    for (int i = 0; i < count; ++i) buf[i] = p[i];
    return _mm256_load_pd(buf);
  }
  static T sum(reg v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
  }
};

#include "../../kernels/gemm/ukr_template.hpp"

// 6 x 2 vectors: 12 ymm accumulators + 2 B loads + 1 broadcast fit the 16 ymm registers.
void sgemm_ukr_avx2_6x16(idx k, const float* Ap, idx a_ks, const float* Bp, idx b_ks, float* C, idx ldc, float alpha,
                         float beta) {
  gemm_ukr<VecF32, 6, 2>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta);
}
void dgemm_ukr_avx2_6x8(idx k, const double* Ap, idx a_ks, const double* Bp, idx b_ks, double* C, idx ldc,
                        double alpha, double beta) {
  gemm_ukr<VecF64, 6, 2>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta);
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

void fill_arch_avx2(GemmArch<float>& f32, GemmArch<double>& f64) {
  // Policy: not measured separately at this level; the avx512 numbers.
  f32 = {"avx2", 6, 16, 240, 256, 1024, isa_avx2::sgemm_ukr_avx2_6x16,
         3, 4, isa_avx2::sgemm_dot_avx2_3x4,
         8*8, isa_avx2::sgemm_row_avx2, 8, isa_avx2::sgemm_row_dot_avx2,
         kGemmPolicyZen4};
  f64 = {"avx2", 6, 8, 240, 256, 512, isa_avx2::dgemm_ukr_avx2_6x8,
         3, 4, isa_avx2::dgemm_dot_avx2_3x4,
         8*4, isa_avx2::dgemm_row_avx2, 8, isa_avx2::dgemm_row_dot_avx2,
         kGemmPolicyZen4};
}

}  // namespace dp
