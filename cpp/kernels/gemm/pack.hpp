// Packing for the blocked GEMM: copies a block of op(A) or op(B) into the panel layout the
// micro-kernel streams through, zero-padding partial panels. The transpose flags are resolved
// here, so the micro-kernel only ever sees one layout.
#pragma once
#include <algorithm>
#include "../../common/base.hpp"

namespace dp {

// The transposed case of pack_a with MR fixed at compile time: a weight gradient's dZᵀ, whose
// k-th column of the block is the contiguous run A[(p0+k)*lda + i0 ..]. Row by row of A, each
// read once and in order, a fixed-size copy into every panel; panel by panel, each MR-value read
// touched a new row 2 KiB or more apart (L1 sets), and the copy's length was a loop (512x512x128
// TN on Zen 3: the pack was 9% of the product's time).
template <int MR, class T>
void pack_a_columns(const T* A, idx lda, idx i0, idx m, idx p0, idx k, T* Ap) {
  const idx full = m / MR * MR;
  for (idx p = 0; p < k; ++p) {
    const T* src = A + (p0 + p) * lda + i0;
    T* dst = Ap + p * MR;
    for (idx ir = 0; ir < full; ir += MR) {
      T v[MR];
      for (int i = 0; i < MR; ++i) v[i] = src[ir + i];
      for (int i = 0; i < MR; ++i) dst[ir * k + i] = v[i];
    }
    for (idx i = full; i < m; ++i) dst[full * k + i - full] = src[i];
    if (full < m)
      for (idx i = m - full; i < MR; ++i) dst[full * k + i] = T(0);
  }
}

// op(A)[i0 : i0+m, p0 : p0+k] -> ceil(m/MR) panels, each MR x k stored column by column.
template <class T>
void pack_a(const T* A, idx lda, bool trans_a, idx i0, idx m, idx p0, idx k, int MR, T* Ap) {
  if (trans_a && MR == 6) return pack_a_columns<6>(A, lda, i0, m, p0, k, Ap);
  for (idx ir = 0; ir < m; ir += MR) {
    const idx mr = std::min<idx>(MR, m - ir);
    T* dst = Ap + ir * k;
    if (!trans_a) {  // op(A)(i, p) = A[i*lda + p]: each row is contiguous in p
      for (idx i = 0; i < mr; ++i) {
        const T* src = A + (i0 + ir + i) * lda + p0;
        for (idx p = 0; p < k; ++p) dst[p * MR + i] = src[p];
      }
    } else {  // op(A)(i, p) = A[p*lda + i]: each k-slice is contiguous in i
      for (idx p = 0; p < k; ++p) {
        const T* src = A + (p0 + p) * lda + i0 + ir;
        for (idx i = 0; i < mr; ++i) dst[p * MR + i] = src[i];
      }
    }
    for (idx i = mr; i < MR; ++i)
      for (idx p = 0; p < k; ++p) dst[p * MR + i] = T(0);
  }
}

// op(B)[p0 : p0+k, j0 : j0+n] -> ceil(n/NR) panels, each k x NR stored row by row.
template <class T>
void pack_b(const T* B, idx ldb, bool trans_b, idx p0, idx k, idx j0, idx n, int NR, T* Bp) {
  for (idx jr = 0; jr < n; jr += NR) {
    const idx nr = std::min<idx>(NR, n - jr);
    T* dst = Bp + jr * k;
    if (!trans_b) {  // op(B)(p, j) = B[p*ldb + j]: rows contiguous in j
      for (idx p = 0; p < k; ++p) {
        const T* src = B + (p0 + p) * ldb + j0 + jr;
        T* out = dst + p * NR;
        for (idx j = 0; j < nr; ++j) out[j] = src[j];
        for (idx j = nr; j < NR; ++j) out[j] = T(0);
      }
    } else {  // op(B)(p, j) = B[j*ldb + p]: a transpose, read in 8-column strips
      constexpr idx kStrip = 8;
      for (idx js = 0; js < nr; js += kStrip) {
        const idx w = std::min(kStrip, nr - js);
        const T* src = B + (j0 + jr + js) * ldb + p0;
        for (idx p = 0; p < k; ++p) {
          T* out = dst + p * NR + js;
          for (idx j = 0; j < w; ++j) out[j] = src[j * ldb + p];
        }
      }
      for (idx p = 0; p < k; ++p)
        for (idx j = nr; j < NR; ++j) dst[p * NR + j] = T(0);
    }
  }
}

}  // namespace dp
