// AVX2 + FMA sigmoid and tanh for float32: the algorithm of vmath_avx512.cpp on 8 lanes, 2^n
// built in the exponent bits.
#include <immintrin.h>
#include "../../runtime/dispatch.hpp"

namespace dp {
namespace isa_avx2 {

static inline __m256 fma_c(__m256 a, __m256 b, float c) { return _mm256_fmadd_ps(a, b, _mm256_set1_ps(c)); }

static inline __m256 exp_ps(__m256 x) {
  // Clamp with x as the second operand: min/max return it when it is NaN, so NaN propagates.
  x = _mm256_min_ps(_mm256_set1_ps(88.3f), _mm256_max_ps(_mm256_set1_ps(-87.3f), x));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  x = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), x);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = fma_c(y, x, 1.3981999507e-3f);
  y = fma_c(y, x, 8.3334519073e-3f);
  y = fma_c(y, x, 4.1665795894e-2f);
  y = fma_c(y, x, 1.6666665459e-1f);
  y = fma_c(y, x, 5.0000001201e-1f);
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(bits));
}

// sigmoid with e = exp(-|z|) <= 1: 1/(1+e) for z >= 0, e/(1+e) below (see vmath_avx512.cpp).
static inline __m256 sigmoid_ps(__m256 z) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_and_ps(z, abs_mask)));
  const __m256 r = _mm256_div_ps(one, _mm256_add_ps(one, e));
  return _mm256_blendv_ps(r, _mm256_mul_ps(r, e), _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_LT_OQ));
}

static inline __m256 tanh_ps(__m256 x) {
  const __m256 sign = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(int(0x80000000u))));
  const __m256 ax = _mm256_andnot_ps(_mm256_castsi256_ps(_mm256_set1_epi32(int(0x80000000u))), x);
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
  p = fma_c(p, z, 2.06390887954e-2f);
  p = fma_c(p, z, -5.37397155531e-2f);
  p = fma_c(p, z, 1.33314422036e-1f);
  p = fma_c(p, z, -3.33332819422e-1f);
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 e = exp_ps(_mm256_add_ps(ax, ax));
  const __m256 large = _mm256_or_ps(_mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one))), sign);
  return _mm256_blendv_ps(large, small, _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
}

template <__m256 (*F)(__m256)>
void apply(const float* in, float* out, idx n) {
  idx i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, F(_mm256_loadu_ps(in + i)));
  if (i < n) {  // leftovers through a zero-padded scratch vector
    alignas(32) float buf[8] = {};
    for (idx k = i; k < n; ++k) buf[k - i] = in[k];
    _mm256_store_ps(buf, F(_mm256_load_ps(buf)));
    for (idx k = i; k < n; ++k) out[k] = buf[k - i];
  }
}

}  // namespace isa_avx2

void fill_vmath_avx2(VectorMath& vm) {
  vm = {"avx2", isa_avx2::apply<isa_avx2::sigmoid_ps>, isa_avx2::apply<isa_avx2::tanh_ps>,
        adam_avx2_f32, adam_avx2_f64, exp_generic_f64,  // the portable exp
        column_sums_avx2_f32, column_sums_avx2_f64, relu_backward_avx2_f32, relu_backward_avx2_f64};
}

}  // namespace dp
