// Portable bf16 packing and micro-kernel, written once and instantiated by each translation unit
// that needs them (the generic level, and the vector levels for the cases they do not vectorise).
// Only include it from inside an ISA namespace: the code generated depends on that TU's flags.
// Layouts: arch/gemm_bf16_arch.hpp.
#pragma once

inline dp::idx bf16_round_up(dp::idx k, dp::idx g) { return (k + g - 1) / g * g; }

// One A panel, chunks of G values of k per row (MR x G per chunk), zero-padded.
template <int MR, int G>
void bf16_pack_a_panel(const float* A, dp::idx lda, bool trans_a, dp::idx i0, dp::idx m,
                          dp::idx K, dp::bf16* Ap) {
  const dp::idx Kp = bf16_round_up(K, G);
  for (dp::idx c = 0; c < Kp; c += G) {
    dp::bf16* chunk = Ap + c * MR;
    for (int i = 0; i < MR; ++i)
      for (int g = 0; g < G; ++g) {
        const dp::idx k = c + g;
        float v = 0.0f;
        if (i < m && k < K) v = trans_a ? A[k * lda + i0 + i] : A[(i0 + i) * lda + k];
        chunk[i * G + g] = dp::bf16_from_float(v);
      }
  }
}

// One B panel in pairs of k interleaved per column (NR x 2 per pair), K padded to G.
template <int NR, int G>
void bf16_pack_b_panel(const float* B, dp::idx ldb, bool trans_b, dp::idx j0, dp::idx n,
                          dp::idx K, dp::bf16* Bp) {
  const dp::idx Kp = bf16_round_up(K, G);
  for (dp::idx p = 0; p < Kp / 2; ++p) {
    dp::bf16* row = Bp + p * 2 * NR;
    for (int j = 0; j < NR; ++j)
      for (int e = 0; e < 2; ++e) {
        const dp::idx k = 2 * p + e;
        float v = 0.0f;
        if (j < n && k < K) v = trans_b ? B[(j0 + j) * ldb + k] : B[k * ldb + j0 + j];
        row[2 * j + e] = dp::bf16_from_float(v);
      }
  }
}

// Consecutive panels (the Bf16PackA / Bf16PackB contract), one at a time.
template <int MR, int G>
void bf16_pack_a_portable(const float* A, dp::idx lda, bool trans_a, dp::idx i0, dp::idx m,
                          dp::idx K, dp::bf16* Ap) {
  const dp::idx Kp = bf16_round_up(K, G);
  for (dp::idx r = 0; r < m; r += MR)
    bf16_pack_a_panel<MR, G>(A, lda, trans_a, i0 + r, std::min<dp::idx>(MR, m - r), K, Ap + r * Kp);
}
template <int NR, int G>
void bf16_pack_b_portable(const float* B, dp::idx ldb, bool trans_b, dp::idx j0, dp::idx n,
                          dp::idx K, dp::bf16* Bp) {
  const dp::idx Kp = bf16_round_up(K, G);
  for (dp::idx c = 0; c < n; c += NR)
    bf16_pack_b_panel<NR, G>(B, ldb, trans_b, j0 + c, std::min<dp::idx>(NR, n - c), K, Bp + c * Kp);
}

// The micro-kernel emulated in float32: the product of two bf16 values is exact in float32, and
// each pair adds its odd product first, then its even one, as VDPBF16PS does.
template <int MR, int NR, int G>
void bf16_ukr_portable(dp::idx kc, const dp::bf16* Ap, const dp::bf16* Bp, float* C, dp::idx ldc,
                       float alpha, float beta) {
  float acc[MR][NR] = {};
  for (dp::idx c = 0; c < kc; c += G) {
    const dp::bf16* a = Ap + c * MR;
    for (int g = 0; g < G; g += 2) {
      const dp::bf16* b = Bp + (c + g) * NR;
      float bo[NR], be[NR];
      for (int j = 0; j < NR; ++j) {
        be[j] = dp::bf16_to_float(b[2 * j]);
        bo[j] = dp::bf16_to_float(b[2 * j + 1]);
      }
      for (int i = 0; i < MR; ++i) {
        const float ae = dp::bf16_to_float(a[i * G + g]);
        const float ao = dp::bf16_to_float(a[i * G + g + 1]);
        for (int j = 0; j < NR; ++j) {
          acc[i][j] += ao * bo[j];
          acc[i][j] += ae * be[j];
        }
      }
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) {
      float* c = C + i * ldc + j;
      *c = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *c;
    }
}

// 64 lanes of h = (h ^ bits) * odd constant, one lane per position mod 64 (independent chains
// for the vector levels, which compute the same value), folded into 64 bits.
constexpr int kBf16FingerprintLanes = 64;
constexpr std::uint32_t kBf16FingerprintMul = 0x9e3779b1u;
inline std::uint32_t bf16_lane_seed(int l) { return 0x85ebca6bu * std::uint32_t(l + 1); }

inline std::uint64_t bf16_fold_lanes(const std::uint32_t* h, dp::idx n) {
  std::uint64_t r = 0xcbf29ce484222325ull ^ std::uint64_t(n);
  for (int l = 0; l < kBf16FingerprintLanes; ++l) r = (r ^ h[l]) * 0x100000001b3ull;
  return r;
}

inline std::uint64_t bf16_fingerprint_portable(const float* x, dp::idx n) {
  std::uint32_t h[kBf16FingerprintLanes];
  for (int l = 0; l < kBf16FingerprintLanes; ++l) h[l] = bf16_lane_seed(l);
  for (dp::idx i = 0; i < n; ++i) {
    std::uint32_t u;
    std::memcpy(&u, x + i, sizeof u);
    std::uint32_t& lane = h[i % kBf16FingerprintLanes];
    lane = (lane ^ u) * kBf16FingerprintMul;
  }
  return bf16_fold_lanes(h, n);
}
