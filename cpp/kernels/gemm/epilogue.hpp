// The GEMM epilogue (gemm.hpp's GemmEpilogue) on a finished block of C while it is in cache:
// bias, the pre-activation copy, the activation, the slope of the layer below. Shared by the
// float32/float64 driver and the bf16 one, so both give the same values after their products.
#pragma once
#include "../../common/base.hpp"
#include "../activations.hpp"
#include "gemm.hpp"

namespace dp {

// C[i0 : i0+m, j0 : j0+n], once that block is final.
template <class T>
inline void apply_epilogue(const GemmEpilogue<T>& ep, T* C, idx ldc, idx i0, idx j0, idx m, idx n) {
  const bool bias_relu = ep.bias && ep.act == Act::Relu && !ep.z_out && !ep.slope_of;
  for (idx i = 0; i < m; ++i) {
    T* row = C + (i0 + i) * ldc + j0;
    if (bias_relu) {  // a hidden layer's forward pass: bias and ReLU in one sweep
      const T* b = ep.bias + j0;
#pragma omp simd
      for (idx j = 0; j < n; ++j) {
        const T z = row[j] + b[j];
        row[j] = z > T(0) ? z : T(0);
      }
      continue;
    }
    if (ep.bias) {
      const T* b = ep.bias + j0;
#pragma omp simd
      for (idx j = 0; j < n; ++j) row[j] += b[j];
    }
    if (ep.z_out) {
      T* z = ep.z_out + (i0 + i) * ep.ld_z + j0;
      for (idx j = 0; j < n; ++j) z[j] = row[j];
    }
    if (ep.act != Act::Identity) activation_forward(ep.act, row, row, n);
    if (ep.slope_of)
      activation_backward(ep.slope_act, ep.slope_of + (i0 + i) * ep.ld_slope + j0, row, row, n);
  }
}

}  // namespace dp
