// Vectorised element-wise loops, one implementation per instruction set, chosen with the GEMM
// kernels: float32 transcendental activations (sigmoid, tanh; float64 and the portable level use
// the scalar functions of activations.hpp, which stay the reference), float64 exp (the softmax
// of the cross-entropy loss) and the Adam update (the same bits at every level, see
// kernels/adam_loop.hpp). runtime/dispatch.hpp picks one.
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
};

void exp_generic_f64(const double* in, double* out, idx n);

// The Adam loops of the portable and AVX-512 levels (cpp/arch/<isa>/optim.cpp).
void adam_generic_f32(const AdamSpan<float>& span);
void adam_generic_f64(const AdamSpan<double>& span);
void adam_avx512_f32(const AdamSpan<float>& span);
void adam_avx512_f64(const AdamSpan<double>& span);

}  // namespace dp
