// C = alpha * A Bᵀ + beta * C for a few rows of A (one sample, a tiny batch), both operands rows
// along k: B read where it is and rounded to bf16 in registers (VCVTNE2PS2BF16: the rounding of
// the packers) — no packed copy of B, whose single use would not repay one — and the few rows of
// A rounded the same way once per call. Include from inside an ISA namespace of a TU built with
// -mavx512bf16.
#pragma once

namespace bf16_dot {

using dp::idx;

// 32 values of a row along k from k0 (zeros past K), as 16 bf16 pairs in order.
inline __m512bh pairs_at(const float* row, idx k0, idx K) {
  const idx left = K - k0;
  const __m512 lo = left >= 16 ? _mm512_loadu_ps(row + k0)
                               : _mm512_maskz_loadu_ps(__mmask16((1u << left) - 1u), row + k0);
  const __m512 hi = left >= 32 ? _mm512_loadu_ps(row + k0 + 16)
                               : left <= 16 ? _mm512_setzero_ps()
                                            : _mm512_maskz_loadu_ps(__mmask16((1u << (left - 16)) - 1u), row + k0 + 16);
  return _mm512_cvtne2ps_pbh(hi, lo);
}

// C[MR x n] for the MR rows of A, already rounded (Ar: rows lda_r apart, 32-value chunks), and
// n (<= NR) rows of B; rows of B past n are clamped to a valid row and not stored.
template <int MR, int NR>
void tile(idx K, const dp::bf16* Ar, idx lda_r, const float* B, idx ldb, float* C, idx ldc, idx n,
          float alpha, float beta) {
  const float* b[NR];
  for (int j = 0; j < NR; ++j) b[j] = B + (j < n ? j : 0) * ldb;
  __m512 acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_ps();
  for (idx k = 0; k < K; k += 32) {
    __m512bh bv[NR];
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) bv[j] = pairs_at(b[j], k, K);
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) {
      const __m512bh av = reinterpret_cast<__m512bh>(_mm512_loadu_si512(Ar + i * lda_r + k));
#pragma GCC unroll 8
      for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], av, bv[j]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (idx j = 0; j < n; ++j) {
      const float v = alpha * _mm512_reduce_add_ps(acc[i][j]);
      float* c = C + i * ldc + j;
      *c = beta == 0.0f ? v : v + beta * *c;
    }
}

constexpr int kRows = 4, kCols = 4;

// m (<= kRows) rows of C, any n columns, kCols at a time. The rows of A are rounded once per
// call (into the calling thread's scratch), not once per group of columns: one sample through a
// 784-512 layer spent a fifth of its conversions re-rounding its one row.
inline void kernel(idx K, const float* A, idx lda, const float* B, idx ldb, float* C, idx ldc,
                   idx m, idx n, float alpha, float beta) {
  const idx lda_r = (K + 31) / 32 * 32;
  thread_local dp::ScratchBuffer<dp::bf16> rounded;
  dp::bf16* Ar = rounded.reserve(std::size_t(m * lda_r));
  for (idx i = 0; i < m; ++i)
    for (idx k = 0; k < K; k += 32)
      _mm512_storeu_si512(Ar + i * lda_r + k, reinterpret_cast<__m512i>(pairs_at(A + i * lda, k, K)));
  for (idx j = 0; j < n; j += kCols) {
    const idx cols = std::min<idx>(kCols, n - j);
    const float* b = B + j * ldb;
    float* c = C + j;
    switch (m) {
      case 1: tile<1, kCols>(K, Ar, lda_r, b, ldb, c, ldc, cols, alpha, beta); break;
      case 2: tile<2, kCols>(K, Ar, lda_r, b, ldb, c, ldc, cols, alpha, beta); break;
      case 3: tile<3, kCols>(K, Ar, lda_r, b, ldb, c, ldc, cols, alpha, beta); break;
      default: tile<4, kCols>(K, Ar, lda_r, b, ldb, c, ldc, cols, alpha, beta); break;
    }
  }
}

}  // namespace bf16_dot
