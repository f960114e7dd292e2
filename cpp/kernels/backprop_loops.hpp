// Two element loops of backpropagation, written once and compiled per instruction set
// (cpp/arch/<isa>/backprop.cpp): the bias gradient's column sums and the ReLU mask of a delta.
// Neither multiplies nor reorders a sum, so every vector width computes the plain loops' bits.
#pragma once
#include "../common/base.hpp"

namespace dp {

// db[j] = Σ_i dZ[i, j] over the n rows of dZ (n x out, row-major), the rows added in order.
template <class T>
inline void column_sums_loop(T* __restrict db, const T* __restrict dZ, idx n, idx out) {
  for (idx j = 0; j < out; ++j) db[j] = T(0);
  for (idx i = 0; i < n; ++i) {
    const T* row = dZ + i * out;
#pragma omp simd
    for (idx j = 0; j < out; ++j) db[j] += row[j];
  }
}

// dZ[i] = A[i] > 0 ? dA[i] : 0, g' of ReLU read from its output A (dZ may alias dA). Both
// operands are loaded unconditionally: a select the compiler vectorises (a branch per element
// mispredicts half the time on real activations).
template <class T>
inline void relu_backward_loop(const T* A, const T* dA, T* dZ, idx n) {
#pragma omp simd
  for (idx i = 0; i < n; ++i) {
    const T g = dA[i];
    dZ[i] = A[i] > T(0) ? g : T(0);
  }
}

}  // namespace dp
