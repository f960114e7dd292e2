// Vectorised element-wise loops, one implementation per instruction set, chosen with the GEMM
// kernels: float32 transcendental activations (sigmoid, tanh; float64 and the portable level use
// the scalar functions of activations.hpp, which stay the reference), float64 exp (the softmax
// of the cross-entropy loss), the Adam update (the same bits at every level, see
// kernels/adam_loop.hpp) and backprop's bias sums and ReLU mask (kernels/backprop_loops.hpp,
// the same bits too). runtime/dispatch.hpp picks one.
#pragma once
#include "../common/base.hpp"
#include "../kernels/adam_loop.hpp"

namespace dp {

struct VectorMath {
  const char* name;
  void (*sigmoid_f32)(const float* in, float* out, idx n);  // out may alias in
  void (*tanh_f32)(const float* in, float* out, idx n);
  void (*adam_f32)(const AdamSpan<float>& span);
  void (*adam_f64)(const AdamSpan<double>& span);
  // e^x in float64 (out may alias in): std::exp at the portable level, about 1 ulp in vectors.
  void (*exp_f64)(const double* in, double* out, idx n);
  // db = the column sums of dZ (n x out); dZ = A > 0 ? dA : 0 (dZ may alias dA).
  void (*column_sums_f32)(float* db, const float* dZ, idx n, idx out);
  void (*column_sums_f64)(double* db, const double* dZ, idx n, idx out);
  void (*relu_backward_f32)(const float* A, const float* dA, float* dZ, idx n);
  void (*relu_backward_f64)(const double* A, const double* dA, double* dZ, idx n);
};

void exp_generic_f64(const double* in, double* out, idx n);

// The Adam loops of the portable, AVX2 and AVX-512 levels (cpp/arch/<isa>/optim.cpp).
void adam_generic_f32(const AdamSpan<float>& span);
void adam_generic_f64(const AdamSpan<double>& span);
void adam_avx2_f32(const AdamSpan<float>& span);
void adam_avx2_f64(const AdamSpan<double>& span);
void adam_avx512_f32(const AdamSpan<float>& span);
void adam_avx512_f64(const AdamSpan<double>& span);

// The backpropagation loops of the portable, AVX2 and AVX-512 levels (cpp/arch/<isa>/backprop.cpp).
void column_sums_generic_f32(float* db, const float* dZ, idx n, idx out);
void column_sums_generic_f64(double* db, const double* dZ, idx n, idx out);
void relu_backward_generic_f32(const float* A, const float* dA, float* dZ, idx n);
void relu_backward_generic_f64(const double* A, const double* dA, double* dZ, idx n);
void column_sums_avx2_f32(float* db, const float* dZ, idx n, idx out);
void column_sums_avx2_f64(double* db, const double* dZ, idx n, idx out);
void relu_backward_avx2_f32(const float* A, const float* dA, float* dZ, idx n);
void relu_backward_avx2_f64(const double* A, const double* dA, double* dZ, idx n);
void column_sums_avx512_f32(float* db, const float* dZ, idx n, idx out);
void column_sums_avx512_f64(double* db, const double* dZ, idx n, idx out);
void relu_backward_avx512_f32(const float* A, const float* dA, float* dZ, idx n);
void relu_backward_avx512_f64(const double* A, const double* dA, double* dZ, idx n);

}  // namespace dp
