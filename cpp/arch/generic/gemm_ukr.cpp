// Portable micro-kernels: GCC/Clang 16-byte vector extensions (SSE2 on x86-64, NEON on ARM).
// Always compiled, always correct; the fallback when no wider instruction set is available.
#include "../../runtime/dispatch.hpp"

namespace dp {
namespace isa_generic {

template <class Scalar>
struct Vec16 {
  using T = Scalar;
  typedef Scalar reg __attribute__((vector_size(16)));
  static constexpr int width = 16 / sizeof(Scalar);
  static reg zero() { return reg{} ; }
  static reg bcast(T x) { return reg{} + x; }
  static reg load(const T* p) { reg v; __builtin_memcpy(&v, p, sizeof v); return v; }
  static void store(T* p, reg v) { __builtin_memcpy(p, &v, sizeof v); }
  static reg fma(reg a, reg b, reg c) { return a * b + c; }
  static reg mul(reg a, reg b) { return a * b; }
  static reg load_partial(const T* p, int count) {
    reg v = zero();
    __builtin_memcpy(&v, p, sizeof(T) * count);
    return v;
  }
  static T sum(reg v) {
    T s = 0;
    for (int i = 0; i < width; ++i) s += v[i];
    return s;
  }
};

#include "../../kernels/gemm/ukr_template.hpp"

// 4 x 2 vectors: 8 accumulators of the 16 SSE registers.
void sgemm_ukr_generic_4x8(idx k, const float* Ap, idx a_ks, const float* Bp, idx b_ks, float* C, idx ldc, float alpha,
                           float beta) {
  gemm_ukr<Vec16<float>, 4, 2>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta);
}
void dgemm_ukr_generic_4x4(idx k, const double* Ap, idx a_ks, const double* Bp, idx b_ks, double* C, idx ldc,
                           double alpha, double beta) {
  gemm_ukr<Vec16<double>, 4, 2>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta);
}

void sgemm_dot_generic_2x4(idx k, const float* A, idx lda, const float* B, idx ldb, float* C,
                           idx ldc, idx m, idx n, float alpha, float beta) {
  gemm_dot_nt<Vec16<float>, 2, 4>(k, A, lda, B, ldb, C, ldc, m, n, alpha, beta);
}
void dgemm_dot_generic_2x4(idx k, const double* A, idx lda, const double* B, idx ldb, double* C,
                           idx ldc, idx m, idx n, double alpha, double beta) {
  gemm_dot_nt<Vec16<double>, 2, 4>(k, A, lda, B, ldb, C, ldc, m, n, alpha, beta);
}

// One-row kernels (M = 1): rows of B streamed whole, 4 at a time, into accumulators in L1.
void sgemm_row_generic(idx k, idx n, const float* a, idx a_ks, const float* B, idx ldb, float* C,
                    float alpha, float beta, float* acc) {
  gemm_row_axpy<Vec16<float>, 4>(k, n, a, a_ks, B, ldb, C, alpha, beta, acc);
}
void dgemm_row_generic(idx k, idx n, const double* a, idx a_ks, const double* B, idx ldb, double* C,
                    double alpha, double beta, double* acc) {
  gemm_row_axpy<Vec16<double>, 4>(k, n, a, a_ks, B, ldb, C, alpha, beta, acc);
}
void sgemm_row_dot_generic(idx k, const float* A, idx lda, const float* B, idx ldb, float* C, idx ldc,
                         idx m, idx n, float alpha, float beta) {
  gemm_dot_nt<Vec16<float>, 1, 8>(k, A, lda, B, ldb, C, ldc, m, n, alpha, beta);
}
void dgemm_row_dot_generic(idx k, const double* A, idx lda, const double* B, idx ldb, double* C,
                         idx ldc, idx m, idx n, double alpha, double beta) {
  gemm_dot_nt<Vec16<double>, 1, 8>(k, A, lda, B, ldb, C, ldc, m, n, alpha, beta);
}

}  // namespace isa_generic

void fill_arch_generic(GemmArch<float>& f32, GemmArch<double>& f64) {
  // Policy: not measured separately at this level; the avx512 numbers.
  f32 = {"generic", 4, 8, 128, 256, 512, isa_generic::sgemm_ukr_generic_4x8,
         2, 4, isa_generic::sgemm_dot_generic_2x4,
         8*4, isa_generic::sgemm_row_generic, 8, isa_generic::sgemm_row_dot_generic,
         kGemmPolicyZen4};
  f64 = {"generic", 4, 4, 128, 256, 256, isa_generic::dgemm_ukr_generic_4x4,
         2, 4, isa_generic::dgemm_dot_generic_2x4,
         8*2, isa_generic::dgemm_row_generic, 8, isa_generic::dgemm_row_dot_generic,
         kGemmPolicyZen4};
}

}  // namespace dp
