// AVX2 + FMA micro-kernels (compiled with -mavx2 -mfma). Haswell / Zen 1 and newer.
#include <immintrin.h>
#include "gemm_arch.hpp"

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
};

#include "gemm_ukr_template.hpp"

// 6 x 2 vectors: 12 ymm accumulators + 2 B loads + 1 broadcast fit the 16 ymm registers.
void sgemm_ukr_avx2_6x16(idx k, const float* Ap, idx a_ks, const float* Bp, idx b_ks, float* C, idx ldc, float alpha,
                         float beta) {
  gemm_ukr<VecF32, 6, 2>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta);
}
void dgemm_ukr_avx2_6x8(idx k, const double* Ap, idx a_ks, const double* Bp, idx b_ks, double* C, idx ldc,
                        double alpha, double beta) {
  gemm_ukr<VecF64, 6, 2>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta);
}

}  // namespace isa_avx2

void fill_arch_avx2(GemmArch<float>& f32, GemmArch<double>& f64) {
  f32 = {"avx2", 6, 16, 240, 256, 1024, isa_avx2::sgemm_ukr_avx2_6x16};
  f64 = {"avx2", 6, 8, 240, 256, 512, isa_avx2::dgemm_ukr_avx2_6x8};
}

}  // namespace dp
