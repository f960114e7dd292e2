// Element-wise activations: forward g(z) and backward dZ = dA * g'(z), side by side.
// The derivative is taken from the activation's output a = g(z) where possible (sigmoid, tanh,
// relu, leaky_relu all allow it), so the network keeps only a, not z.
#pragma once
#include <cmath>
#include <type_traits>
#include "../common/base.hpp"
#include "../runtime/dispatch.hpp"

namespace dp {

template <class T>
inline T activate(Act act, T z) {
  switch (act) {
    case Act::Sigmoid:
      // Two branches keep exp's argument <= 0: no overflow for any finite z.
      if (z >= T(0)) return T(1) / (T(1) + std::exp(-z));
      else { T e = std::exp(z); return e / (T(1) + e); }
    case Act::Tanh: return std::tanh(z);
    case Act::Relu: return z > T(0) ? z : T(0);
    case Act::LeakyRelu: return z > T(0) ? z : T(kLeakySlope) * z;
    default: return z;
  }
}

// g'(z) written in terms of a = g(z). ReLU'(0) = 0, as in PyTorch.
template <class T>
inline T activation_slope_from_output(Act act, T a) {
  switch (act) {
    case Act::Sigmoid: return a * (T(1) - a);
    case Act::Tanh: return T(1) - a * a;
    case Act::Relu: return a > T(0) ? T(1) : T(0);
    case Act::LeakyRelu: return a > T(0) ? T(1) : T(kLeakySlope);
    default: return T(1);
  }
}

// A[i] = g(Z[i]) for n contiguous values (A may alias Z).
template <class T>
void activation_forward(Act act, const T* Z, T* A, idx n) {
  switch (act) {
    case Act::Relu:
#pragma omp simd
      for (idx i = 0; i < n; ++i) A[i] = Z[i] > T(0) ? Z[i] : T(0);
      return;
    case Act::Identity:
      if (A != Z)
        for (idx i = 0; i < n; ++i) A[i] = Z[i];
      return;
    default:
      if constexpr (std::is_same_v<T, float>) {  // vectorised exp where the CPU allows
        if (act == Act::Sigmoid) return active_vmath().sigmoid_f32(Z, A, n);
        if (act == Act::Tanh) return active_vmath().tanh_f32(Z, A, n);
      }
      for (idx i = 0; i < n; ++i) A[i] = activate(act, Z[i]);
  }
}

// dZ[i] = dA[i] * g'(z_i), with g' read from the output A (dZ may alias dA).
template <class T>
void activation_backward(Act act, const T* A, const T* dA, T* dZ, idx n) {
  switch (act) {
    case Act::Relu:  // the active level's vectors (kernels/backprop_loops.hpp)
      if constexpr (std::is_same_v<T, float>) return active_vmath().relu_backward_f32(A, dA, dZ, n);
      else return active_vmath().relu_backward_f64(A, dA, dZ, n);
    default:
      for (idx i = 0; i < n; ++i) dZ[i] = dA[i] * activation_slope_from_output(act, A[i]);
  }
}

}  // namespace dp
