// The avx512bf16 level (compiled with -mavx512bf16 and AVX-512): VDPBF16PS micro-kernel over the
// pair layout (G = 2), AVX-512 packing. Cooper Lake, Sapphire Rapids, Zen 4 and newer.
#include <immintrin.h>
#include <algorithm>
#include <cstring>
#include "../../runtime/bf16_dispatch.hpp"

namespace dp {
namespace isa_avx512bf16 {
#include "../../kernels/gemm_bf16/bf16_template.hpp"
#include "bf16_pack.hpp"
#include "bf16_epilogue.hpp"
#include "bf16_dot.hpp"

constexpr int kMR = 6, kNV = 4, kNR = 16 * kNV, kG = 2;

// MR x NV vectors of accumulators; per pair of k: NV loads of B, MR broadcasts of an A pair,
// MR * NV VDPBF16PS (6 x 4: 24 accumulators, 24 instructions per 10 loads).
template <int MR, int NV>
void ukr_dp(idx kc, const bf16* Ap, const bf16* Bp, float* C, idx ldc, float alpha, float beta) {
  constexpr int NR = 16 * NV;
  __m512 acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  const idx pairs = kc / 2;
  for (idx p = 0; p < pairs; ++p) {
    __m512bh b[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      b[v] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(Bp + p * 2 * NR + 32 * v));
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      std::int32_t word;
      std::memcpy(&word, Ap + p * 2 * MR + 2 * i, sizeof word);
      const __m512bh a = reinterpret_cast<__m512bh>(_mm512_set1_epi32(word));
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], a, b[v]);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.0f) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) _mm512_storeu_ps(C + i * ldc + 16 * v, _mm512_mul_ps(va, acc[i][v]));
  } else {
    const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        float* c = C + i * ldc + 16 * v;
        _mm512_storeu_ps(c, _mm512_fmadd_ps(vb, _mm512_loadu_ps(c), _mm512_mul_ps(va, acc[i][v])));
      }
  }
}

void ukr(idx kc, const bf16* Ap, const bf16* Bp, float* C, idx ldc, float alpha, float beta) {
  ukr_dp<kMR, kNV>(kc, Ap, Bp, C, ldc, alpha, beta);
}
void pack_a(const float* A, idx lda, bool ta, idx i0, idx m, idx K, bf16* Ap) {
  bf16_pack::pack_a_pairs<kMR>(A, lda, ta, i0, m, K, Ap);
}
void pack_b(const float* B, idx ldb, bool tb, idx j0, idx n, idx K, bf16* Bp) {
  bf16_pack::pack_b<kNR, kG>(B, ldb, tb, j0, n, K, Bp);
}

}  // namespace isa_avx512bf16

void fill_bf16_arch_avx512bf16(GemmBf16Arch& a) {
  using namespace isa_avx512bf16;
  a = {"avx512bf16", kMR, kNR, kG, /*mc=*/240, /*kc=*/512, /*nc=*/512, ukr, 0, nullptr, bf16_dot::kRows, bf16_dot::kCols,
       bf16_dot::kernel, pack_a, pack_b,
       nullptr, nullptr, bf16_epilogue::apply, bf16_pack::fingerprint, /*flops_per_thread=*/2.0e6};
}

}  // namespace dp
