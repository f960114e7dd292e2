// The Adam update's element loop, written once and compiled per instruction set
// (cpp/arch/<isa>/optim.cpp, each without FMA contraction and without errno on sqrt): square
// root and division are correctly rounded at any vector width, so every level computes the same
// bits as the portable loop of kernels/optimizers.cpp.
#pragma once
#include <cmath>
#include "../common/base.hpp"

namespace dp {

// One Adam step over `count` elements, the bias corrections folded into step_size (lr / (1 -
// b1^t)) and inv_sqrt_bc2 (1 / sqrt(1 - b2^t)). l2 != 0 adds the coupled L2 term's gradient
// l2·p to g on the fly, exactly as add_l2_gradient would have stored it (grad is only read).
template <class T>
struct AdamSpan {
  T* params;
  T* m;
  T* v;
  const T* grad;
  idx count;
  T step_size, inv_sqrt_bc2, beta1, beta2, eps, l2;
};

template <class T, bool kL2>
inline void adam_span_loop(const AdamSpan<T>& s) {
  T* __restrict p = s.params;
  T* __restrict m = s.m;
  T* __restrict v = s.v;
  const T* __restrict grad = s.grad;
  const idx count = s.count;
  const T b1 = s.beta1, b2 = s.beta2, one_b1 = T(1) - b1, one_b2 = T(1) - b2;
  const T step_size = s.step_size, inv_sqrt_bc2 = s.inv_sqrt_bc2, eps = s.eps, l2 = s.l2;
#pragma omp simd
  for (idx i = 0; i < count; ++i) {
    const T g = kL2 ? grad[i] + l2 * p[i] : grad[i];
    const T mi = b1 * m[i] + one_b1 * g;
    const T vi = b2 * v[i] + one_b2 * g * g;
    m[i] = mi;
    v[i] = vi;
    p[i] -= step_size * mi / (std::sqrt(vi) * inv_sqrt_bc2 + eps);
  }
}

template <class T>
inline void adam_span(const AdamSpan<T>& s) {
  if (s.l2 == T(0)) return adam_span_loop<T, false>(s);
  adam_span_loop<T, true>(s);
}

}  // namespace dp
