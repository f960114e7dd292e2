// AVX-512 sigmoid and tanh for float32 (compiled with -mavx512f). exp follows Cephes' expf:
// x = n ln2 + r with |r| <= ln2/2, a degree-6 polynomial for e^r, 2^n by scalef: about 1 ulp.
#include <immintrin.h>
#include "../../runtime/dispatch.hpp"

namespace dp {
namespace isa_avx512 {

static inline __m512 fma_c(__m512 a, __m512 b, float c) { return _mm512_fmadd_ps(a, b, _mm512_set1_ps(c)); }

static inline __m512 exp_ps(__m512 x) {
  // Clamp with x as the second operand: min/max return it when it is NaN, so NaN propagates.
  x = _mm512_min_ps(_mm512_set1_ps(88.3f), _mm512_max_ps(_mm512_set1_ps(-87.3f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  x = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  x = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), x);
  __m512 y = _mm512_set1_ps(1.9875691500e-4f);
  y = fma_c(y, x, 1.3981999507e-3f);
  y = fma_c(y, x, 8.3334519073e-3f);
  y = fma_c(y, x, 4.1665795894e-2f);
  y = fma_c(y, x, 1.6666665459e-1f);
  y = fma_c(y, x, 5.0000001201e-1f);
  y = _mm512_fmadd_ps(y, _mm512_mul_ps(x, x), _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(y, n);
}

// sigmoid with e = exp(-|z|) <= 1: 1/(1+e) for z >= 0, e/(1+e) below; relative accuracy holds
// down to results of 1e-38 (exp's clamp), where the scalar reference goes on into denormals.
static inline __m512 sigmoid_ps(__m512 z) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 e = exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(z)));
  const __m512 r = _mm512_div_ps(one, _mm512_add_ps(one, e));
  return _mm512_mask_mul_ps(r, _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ), r, e);
}

// tanh: odd polynomial below |x| = 0.625 (no cancellation near 0), 1 - 2/(e^{2|x|} + 1) above.
static inline __m512 tanh_ps(__m512 x) {
  const __m512 ax = _mm512_abs_ps(x);
  const __m512 z = _mm512_mul_ps(x, x);
  __m512 p = _mm512_set1_ps(-5.70498872745e-3f);
  p = fma_c(p, z, 2.06390887954e-2f);
  p = fma_c(p, z, -5.37397155531e-2f);
  p = fma_c(p, z, 1.33314422036e-1f);
  p = fma_c(p, z, -3.33332819422e-1f);
  const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), x, x);
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 e = exp_ps(_mm512_add_ps(ax, ax));
  __m512 large = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
  large = _mm512_castsi512_ps(_mm512_or_si512(  // copy the sign of x
      _mm512_castps_si512(large),
      _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(int(0x80000000u)))));
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.625f), _CMP_LT_OQ), large, small);
}

// float64 exp: x = n ln2 + r with |r| <= ln2/2 (ln2 in two parts, fdlibm's), e^r by its Taylor
// series to r^13 (truncation below 1e-17 relative), 2^n by scalef (which also rounds results into
// the subnormal range and overflows to inf): within about 1 ulp of a correctly rounded exp.
static inline __m512d exp_pd(__m512d x) {
  // Clamp with x as the second operand: min/max return it when it is NaN, so NaN propagates.
  x = _mm512_min_pd(_mm512_set1_pd(710.0), _mm512_max_pd(_mm512_set1_pd(-746.0), x));
  const __m512d n = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(1.4426950408889634074)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(6.93147180369123816490e-01), x);
  r = _mm512_fnmadd_pd(n, _mm512_set1_pd(1.90821492927058770002e-10), r);
  static constexpr double kInvFactorial[14] = {
      1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320,
      1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0};
  __m512d y = _mm512_set1_pd(kInvFactorial[13]);
  for (int k = 12; k >= 0; --k) y = _mm512_fmadd_pd(y, r, _mm512_set1_pd(kInvFactorial[k]));
  return _mm512_scalef_pd(y, n);
}

void exp_f64(const double* in, double* out, idx n) {
  idx i = 0;
  for (; i + 8 <= n; i += 8) _mm512_storeu_pd(out + i, exp_pd(_mm512_loadu_pd(in + i)));
  if (i < n) {  // leftovers through a mask
    const __mmask8 m = __mmask8((1u << (n - i)) - 1u);
    _mm512_mask_storeu_pd(out + i, m, exp_pd(_mm512_maskz_loadu_pd(m, in + i)));
  }
}

template <__m512 (*F)(__m512)>
void apply(const float* in, float* out, idx n) {
  idx i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, F(_mm512_loadu_ps(in + i)));
  if (i < n) {  // leftovers through a mask
    const __mmask16 m = __mmask16((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(out + i, m, F(_mm512_maskz_loadu_ps(m, in + i)));
  }
}

}  // namespace isa_avx512

void fill_vmath_avx512(VectorMath& vm) {
  vm = {"avx512", isa_avx512::apply<isa_avx512::sigmoid_ps>, isa_avx512::apply<isa_avx512::tanh_ps>,
        adam_avx512_f32, adam_avx512_f64, isa_avx512::exp_f64, column_sums_avx512_f32, column_sums_avx512_f64,
        relu_backward_avx512_f32, relu_backward_avx512_f64};
}

}  // namespace dp
