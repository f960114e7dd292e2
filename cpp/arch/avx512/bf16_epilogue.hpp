// The GEMM epilogue (kernels/gemm/gemm.hpp) in one AVX-512 pass over a block of C for the
// activations that need no transcendental functions: bias, the copy of Z, identity / ReLU / leaky
// ReLU, and their slopes. The values are those of the portable epilogue, operation for operation.
// Returns false, touching nothing, for the others (sigmoid, tanh), which the driver's portable
// epilogue handles. Include from inside an ISA namespace of a TU built with AVX-512.
#pragma once

namespace bf16_epilogue {

using dp::Act;
using dp::idx;

inline bool simple(Act act) { return act == Act::Identity || act == Act::Relu || act == Act::LeakyRelu; }

inline __m512 activate(Act act, __m512 z) {
  if (act == Act::Relu) return _mm512_max_ps(z, _mm512_setzero_ps());  // -0 and NaN give +0, as z > 0 ? z : 0
  if (act == Act::LeakyRelu) {
    const __mmask16 positive = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_GT_OQ);
    return _mm512_mask_blend_ps(positive, _mm512_mul_ps(_mm512_set1_ps(float(dp::kLeakySlope)), z), z);
  }
  return z;
}

// dA * g'(.) with g' read from the activation's output a.
inline __m512 slope(Act act, __m512 a, __m512 da) {
  if (act == Act::Identity) return da;
  const __mmask16 positive = _mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_GT_OQ);
  const __m512 below = act == Act::Relu ? _mm512_setzero_ps()
                                        : _mm512_mul_ps(da, _mm512_set1_ps(float(dp::kLeakySlope)));
  return _mm512_mask_blend_ps(positive, below, da);
}

inline bool apply(const dp::GemmEpilogue<float>& ep, float* C, idx ldc, idx i0, idx j0, idx m,
                  idx n) {
  if (!simple(ep.act) || (ep.slope_of && !simple(ep.slope_act))) return false;
  for (idx i = 0; i < m; ++i) {
    float* row = C + (i0 + i) * ldc + j0;
    for (idx j = 0; j < n; j += 16) {
      const __mmask16 k = n - j >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - j)) - 1u);
      __m512 x = _mm512_maskz_loadu_ps(k, row + j);
      if (ep.bias) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(k, ep.bias + j0 + j));
      if (ep.z_out) _mm512_mask_storeu_ps(ep.z_out + (i0 + i) * ep.ld_z + j0 + j, k, x);
      x = activate(ep.act, x);
      if (ep.slope_of)
        x = slope(ep.slope_act, _mm512_maskz_loadu_ps(k, ep.slope_of + (i0 + i) * ep.ld_slope + j0 + j), x);
      _mm512_mask_storeu_ps(row + j, k, x);
    }
  }
  return true;
}

}  // namespace bf16_epilogue
