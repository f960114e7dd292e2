// AVX-512 micro-kernels (compiled with -mavx512f -mfma). Zen 4 / Skylake-X and newer.
#include <immintrin.h>
#include "gemm_arch.hpp"

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
};

#include "gemm_ukr_template.hpp"

void sgemm_ukr_avx512_6x64(idx k, const float* Ap, idx a_ks, const float* Bp, idx b_ks, float* C, idx ldc, float alpha,
                           float beta) {
  gemm_ukr<VecF32, 6, 4>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta);
}
void dgemm_ukr_avx512_6x32(idx k, const double* Ap, idx a_ks, const double* Bp, idx b_ks, double* C, idx ldc,
                           double alpha, double beta) {
  gemm_ukr<VecF64, 6, 4>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta);
}

}  // namespace isa_avx512

void fill_arch_avx512(GemmArch<float>& f32, GemmArch<double>& f64) {
  f32 = {"avx512", 6, 64, 240, 256, 512, isa_avx512::sgemm_ukr_avx512_6x64};
  f64 = {"avx512", 6, 32, 240, 256, 256, isa_avx512::dgemm_ukr_avx512_6x32};
}

}  // namespace dp
