// The GemmArch entries that every vector instruction set builds the same way from the templates
// of ukr_template.hpp: plain-B packing, edge tiles, the small-batch fused SGD kernel. Include it
// inside an ISA namespace, after ukr_template.hpp, from that ISA's translation unit (the code
// generated depends on its flags; the portable pack.hpp is not included there: its instantiations
// would clash with the baseline ones).
#pragma once
#include <algorithm>

// pack_b of a plain B (rows contiguous in j): row copies, vectorised by the including file's flags.
template <class T>
void pack_b_rows(const T* B, dp::idx ldb, dp::idx p0, dp::idx k, dp::idx j0, dp::idx n, int NR, T* Bp) {
  for (dp::idx jr = 0; jr < n; jr += NR) {
    const dp::idx nr = std::min<dp::idx>(NR, n - jr);
    T* dst = Bp + jr * k;
    for (dp::idx p = 0; p < k; ++p) {
      const T* src = B + (p0 + p) * ldb + j0 + jr;
      T* out = dst + p * NR;
      for (dp::idx j = 0; j < nr; ++j) out[j] = src[j];
      for (dp::idx j = nr; j < NR; ++j) out[j] = T(0);
    }
  }
}

// Edge tiles (fewer than MR rows or NR columns): only the vectors that hold the nr columns are
// computed and written with masked stores, packed or row-read A. The per-element FMA sequence is
// the full tile's, so results do not depend on where a tile falls. (A 784-wide weight gradient
// ends in a 16-column tile of the 64-wide AVX-512 fp32 grid: one vector instead of four, 5% on
// the whole 512x784x256 product on a Sapphire Rapids core.)
template <class V, int MR, int NV>
void ukr_edge(dp::idx k, const typename V::T* Ap, dp::idx a_ks, bool a_rows, const typename V::T* Bp,
              dp::idx b_ks, typename V::T* C, dp::idx ldc, typename V::T alpha, typename V::T beta,
              int mr, int nr) {
  if (a_rows) return gemm_ukr_edge_any<V, MR, NV, true>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta, mr, nr);
  gemm_ukr_edge_any<V, MR, NV, false>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta, mr, nr);
}

// The GemmArch signatures of the fused batch-1 / small-batch backward + SGD kernels.
template <class V, int NV>
void row_sgd(dp::idx k, const typename V::T* dz, typename V::T* W, dp::idx ldw,
             const typename V::T* x, typename V::T* dx, typename V::T alpha, typename V::T beta) {
  row_backward_sgd<V, NV>(k, dz, W, ldw, x, dx, alpha, beta);
}

template <class V, int NV>
void rows_sgd(dp::idx k, dp::idx n, const typename V::T* dz, dp::idx ld_dz, typename V::T* W,
              dp::idx ldw, const typename V::T* X, dp::idx ldx, typename V::T* part, dp::idx ldp,
              typename V::T alpha, typename V::T beta) {
  rows_backward_sgd<V, NV>(k, n, dz, ld_dz, W, ldw, X, ldx, part, ldp, alpha, beta);
}
