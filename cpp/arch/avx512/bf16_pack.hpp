// AVX-512 packing of float32 operands into the bf16 panels of arch/gemm_bf16_arch.hpp, rounding
// with VCVTNE2PS2BF16 (the rounding of kernels/gemm_bf16/bf16.hpp). Shared by the avx512bf16 and
// amx levels; include it from inside an ISA namespace of a TU built with -mavx512bf16.
#pragma once

namespace bf16_pack {

using dp::bf16;
using dp::idx;

inline __mmask16 first(idx count) {
  return count >= 16 ? __mmask16(0xffff) : count <= 0 ? __mmask16(0) : __mmask16((1u << count) - 1u);
}

// 16 floats from p (the first `count`; zeros past them, and nothing read).
inline __m512 load16(const float* p, idx count) {
  return count >= 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(first(count), p);
}

// lo, hi (16 floats each) -> 32 bf16 in order: lo's 16, then hi's.
inline __m512i round_pair(__m512 lo, __m512 hi) {
  return reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
}

// 32 bf16 (x's 16 then y's 16) -> 16 words: word j = (x[j], y[j]), the pair layout.
inline __m512i interleave(__m512i xy) {
  const __m512i index = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9,
                                         24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1,
                                         16, 0);
  return _mm512_permutexvar_epi16(index, xy);
}

// r[i] word j -> r[j] word i (16 x 16 32-bit words).
inline void transpose16(__m512i r[16]) {
  __m512i t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  for (int g = 0; g < 16; g += 4) {
    r[g] = _mm512_unpacklo_epi64(t[g], t[g + 2]);
    r[g + 1] = _mm512_unpackhi_epi64(t[g], t[g + 2]);
    r[g + 2] = _mm512_unpacklo_epi64(t[g + 1], t[g + 3]);
    r[g + 3] = _mm512_unpackhi_epi64(t[g + 1], t[g + 3]);
  }
  for (int c = 0; c < 4; ++c) {
    t[c] = _mm512_shuffle_i32x4(r[c], r[4 + c], 0x88);
    t[4 + c] = _mm512_shuffle_i32x4(r[c], r[4 + c], 0xdd);
    t[8 + c] = _mm512_shuffle_i32x4(r[8 + c], r[12 + c], 0x88);
    t[12 + c] = _mm512_shuffle_i32x4(r[8 + c], r[12 + c], 0xdd);
  }
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm512_shuffle_i32x4(t[c], t[8 + c], 0x88);
    r[8 + c] = _mm512_shuffle_i32x4(t[c], t[8 + c], 0xdd);
    r[4 + c] = _mm512_shuffle_i32x4(t[4 + c], t[12 + c], 0x88);
    r[12 + c] = _mm512_shuffle_i32x4(t[4 + c], t[12 + c], 0xdd);
  }
}

// Pair words (op(X)(2p, i), op(X)(2p+1, i)) for 16 consecutive i of a matrix whose rows run
// along i (row k at X + k*ld): the pair at p, i = i0 .. i0+15 (the first `count` valid).
inline __m512i pair_words_across(const float* X, idx ld, idx K, idx p, idx i0, idx count) {
  const idx k0 = 2 * p;
  const __m512 x0 = k0 < K ? load16(X + k0 * ld + i0, count) : _mm512_setzero_ps();
  const __m512 x1 = k0 + 1 < K ? load16(X + (k0 + 1) * ld + i0, count) : _mm512_setzero_ps();
  return interleave(round_pair(x0, x1));
}

// 32 values of k from k0 of a row that runs along k (zeros past K): 16 pair words in order.
inline __m512i along_k(const float* row, idx k0, idx K) {
  return round_pair(load16(row + k0, K - k0), load16(row + k0 + 16, K - k0 - 16));
}

template <int NR>
void pack_b_transposed(const float* B, idx ldb, idx j0, idx n, idx K, idx pairs, bf16* Bp);

// ceil(n / NR) B panels (NR columns each, pairs of k interleaved), K padded to G with zeros.
template <int NR, int G>
void pack_b(const float* B, idx ldb, bool trans_b, idx j0, idx n, idx K, bf16* Bp) {
  static_assert(NR % 16 == 0, "NR: whole vectors of 16 columns");
  const idx pairs = (K + G - 1) / G * G / 2;
  if (!trans_b) {  // rows of B run along j: interleave rows 2p and 2p+1
    // Eight panels at a time: 8 * NR values of each row read in a run, eight output streams.
    constexpr idx kBlock = 8 * NR;
    for (idx c0 = 0; c0 < n; c0 += kBlock)
      for (idx p = 0; p < pairs; ++p)
        for (idx c = c0; c < std::min(n, c0 + kBlock); c += NR)
          for (int v = 0; v < NR / 16; ++v)
            _mm512_storeu_si512(Bp + c * 2 * pairs + p * 2 * NR + 32 * v,
                                pair_words_across(B, ldb, K, p, j0 + c + 16 * v, n - c - 16 * v));
    return;
  }
  for (idx c = 0; c < n; c += NR)
    pack_b_transposed<NR>(B, ldb, j0 + c, std::min<idx>(NR, n - c), K, pairs, Bp + c * 2 * pairs);
}

// One B panel from rows of B that run along k: 16 columns x 16 pairs at a time, transposed.
template <int NR>
void pack_b_transposed(const float* B, idx ldb, idx j0, idx n, idx K, idx pairs, bf16* Bp) {
  for (int v = 0; v < NR / 16; ++v) {
    for (idx q0 = 0; q0 < pairs; q0 += 16) {
      __m512i r[16];
      for (int j = 0; j < 16; ++j)
        r[j] = 16 * v + j < n ? along_k(B + (j0 + 16 * v + j) * ldb, 2 * q0, K)
                              : _mm512_setzero_si512();
      transpose16(r);
      const idx valid = std::min<idx>(16, pairs - q0);
      for (idx q = 0; q < valid; ++q) _mm512_storeu_si512(Bp + (q0 + q) * 2 * NR + 32 * v, r[q]);
    }
  }
}

// ceil(m / MR) A panels for G = 2 (pairs; MR <= 16 rows): 32-bit pair words, MR per pair.
template <int MR>
void pack_a_pairs(const float* A, idx lda, bool trans_a, idx i0, idx m, idx K, bf16* Ap) {
  static_assert(MR <= 16, "MR: one vector of pair words per pair");
  const idx pairs = (K + 1) / 2;
  std::uint32_t* out = reinterpret_cast<std::uint32_t*>(Ap);
  if (trans_a) {  // rows of A run along i: 16 panels at a time (runs of 16 * MR values)
    constexpr idx kBlock = 16 * MR;
    for (idx r0 = 0; r0 < m; r0 += kBlock)
      for (idx p = 0; p < pairs; ++p)
        for (idx r = r0; r < std::min(m, r0 + kBlock); r += MR)
          _mm512_mask_storeu_epi32(out + r * pairs + p * MR, first(MR),
                                   pair_words_across(A, lda, K, p, i0 + r, std::min<idx>(MR, m - r)));
    return;
  }
  // Rows of A run along k: 16 pairs of a row at a time, scattered MR words apart.
  const __m512i stride = _mm512_mullo_epi32(_mm512_set1_epi32(MR),
                                            _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7,
                                                             6, 5, 4, 3, 2, 1, 0));
  for (idx r = 0; r < m; r += MR)
    for (int i = 0; i < MR; ++i)
      for (idx q0 = 0; q0 < pairs; q0 += 16) {
        const __m512i words =
            r + i < m ? along_k(A + (i0 + r + i) * lda, 2 * q0, K) : _mm512_setzero_si512();
        _mm512_mask_i32scatter_epi32(out + r * pairs + q0 * MR + i, first(pairs - q0), stride, words, 4);
      }
}

// ceil(m / MR) A panels for G = 32 (AMX: MR rows x 32 k per chunk, MR a multiple of 16).
template <int MR>
void pack_a_chunks(const float* A, idx lda, bool trans_a, idx i0, idx m, idx K, bf16* Ap) {
  static_assert(MR % 16 == 0, "MR: whole groups of 16 rows");
  const idx Kp = (K + 31) / 32 * 32;
  const idx rows = (m + MR - 1) / MR * MR;  // whole panels: padding rows are zeros
  if (!trans_a) {  // rows of A run along k: each read straight through, 32 values per chunk row
    for (idx i = 0; i < rows; ++i) {
      bf16* out = Ap + (i / MR) * MR * Kp + (i % MR) * 32;
      for (idx c = 0; c < Kp; c += 32)
        _mm512_storeu_si512(out + c * MR, i < m ? along_k(A + (i0 + i) * lda, c, K) : _mm512_setzero_si512());
    }
    return;
  }
  // Rows of A run along i: pair words of 16 rows for 16 pairs, transposed to rows; the 32 rows
  // of k of a chunk are swept along i over 8 panels at a time (runs of 256 values).
  constexpr idx kBlock = 8 * MR;
  for (idx h0 = 0; h0 < rows; h0 += kBlock)
    for (idx c = 0; c < Kp; c += 32)
      for (idx h = h0; h < std::min(rows, h0 + kBlock); h += 16) {
        __m512i r[16];
        for (int q = 0; q < 16; ++q) r[q] = pair_words_across(A, lda, K, c / 2 + q, i0 + h, m - h);
        transpose16(r);
        bf16* chunk = Ap + (h / MR) * MR * Kp + c * MR + (h % MR) * 32;
        for (int i = 0; i < 16; ++i) _mm512_storeu_si512(chunk + i * 32, r[i]);
      }
}

// The portable fingerprint (kernels/gemm_bf16/bf16_template.hpp), 64 lanes as 4 vectors.
inline std::uint64_t fingerprint(const float* x, idx n) {
  std::uint32_t h[kBf16FingerprintLanes];
  for (int l = 0; l < kBf16FingerprintLanes; ++l) h[l] = bf16_lane_seed(l);
  __m512i acc[4];
  for (int v = 0; v < 4; ++v) acc[v] = _mm512_loadu_si512(h + 16 * v);
  const __m512i mul = _mm512_set1_epi32(int(kBf16FingerprintMul));
  idx i = 0;
  for (; i + 64 <= n; i += 64)
    for (int v = 0; v < 4; ++v)
      acc[v] = _mm512_mullo_epi32(_mm512_xor_si512(acc[v], _mm512_loadu_si512(x + i + 16 * v)), mul);
  for (int v = 0; v < 4; ++v) _mm512_storeu_si512(h + 16 * v, acc[v]);
  for (; i < n; ++i) {
    std::uint32_t u;
    std::memcpy(&u, x + i, sizeof u);
    std::uint32_t& lane = h[i % kBf16FingerprintLanes];
    lane = (lane ^ u) * kBf16FingerprintMul;
  }
  return bf16_fold_lanes(h, n);
}

}  // namespace bf16_pack
