// AVX-512 micro-kernels (compiled with -mavx512f -mfma). Zen 4 / Skylake-X and newer.
#include <immintrin.h>
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
  static T sum(reg v) { return _mm512_reduce_add_ps(v); }
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
  static T sum(reg v) { return _mm512_reduce_add_pd(v); }
};

#include "../../kernels/gemm/ukr_template.hpp"

void sgemm_ukr_avx512_6x64(idx k, const float* Ap, idx a_ks, const float* Bp, idx b_ks, float* C, idx ldc, float alpha,
                           float beta) {
  gemm_ukr<VecF32, 6, 4>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta);
}
void dgemm_ukr_avx512_6x32(idx k, const double* Ap, idx a_ks, const double* Bp, idx b_ks, double* C, idx ldc,
                           double alpha, double beta) {
  gemm_ukr<VecF64, 6, 4>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta);
}

void sgemm_dot_avx512_4x4(idx k, const float* A, idx lda, const float* B, idx ldb, float* C,
                          idx ldc, idx m, idx n, float alpha, float beta) {
  gemm_dot_nt<VecF32, 4, 4>(k, A, lda, B, ldb, C, ldc, m, n, alpha, beta);
}
void dgemm_dot_avx512_4x4(idx k, const double* A, idx lda, const double* B, idx ldb, double* C,
                          idx ldc, idx m, idx n, double alpha, double beta) {
  gemm_dot_nt<VecF64, 4, 4>(k, A, lda, B, ldb, C, ldc, m, n, alpha, beta);
}

// One-row kernels (M = 1): 8 vectors of accumulators, each element of B loaded once.
void sgemm_row_avx512(idx k, const float* Ap, idx a_ks, const float* Bp, idx b_ks, float* C, idx ldc,
                     float alpha, float beta) {
  gemm_ukr<VecF32, 1, 8>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta);
}
void dgemm_row_avx512(idx k, const double* Ap, idx a_ks, const double* Bp, idx b_ks, double* C,
                     idx ldc, double alpha, double beta) {
  gemm_ukr<VecF64, 1, 8>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta);
}
void sgemm_row_dot_avx512(idx k, const float* A, idx lda, const float* B, idx ldb, float* C, idx ldc,
                         idx m, idx n, float alpha, float beta) {
  gemm_dot_nt<VecF32, 1, 8>(k, A, lda, B, ldb, C, ldc, m, n, alpha, beta);
}
void dgemm_row_dot_avx512(idx k, const double* A, idx lda, const double* B, idx ldb, double* C,
                         idx ldc, idx m, idx n, double alpha, double beta) {
  gemm_dot_nt<VecF64, 1, 8>(k, A, lda, B, ldb, C, ldc, m, n, alpha, beta);
}

}  // namespace isa_avx512

void fill_arch_avx512(GemmArch<float>& f32, GemmArch<double>& f64) {
  // The driver's policy was measured at this level.
  f32 = {"avx512", 6, 64, 240, 256, 512, isa_avx512::sgemm_ukr_avx512_6x64,
         4, 4, isa_avx512::sgemm_dot_avx512_4x4,
         8*16, isa_avx512::sgemm_row_avx512, 8, isa_avx512::sgemm_row_dot_avx512,
         kGemmPolicyZen4};
  f64 = {"avx512", 6, 32, 60, 256, 512, isa_avx512::dgemm_ukr_avx512_6x32,
         4, 4, isa_avx512::dgemm_dot_avx512_4x4,
         8*8, isa_avx512::dgemm_row_avx512, 8, isa_avx512::dgemm_row_dot_avx512,
         kGemmPolicyZen4};
}

}  // namespace dp
