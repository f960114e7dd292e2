// Packing for the blocked GEMM: copies a block of op(A) or op(B) into the panel layout the
// micro-kernel streams through, zero-padding partial panels. The transpose flags are resolved
// here, so the micro-kernel only ever sees one layout.
#pragma once
#include <algorithm>
#include "../../common/base.hpp"

namespace dp {

// op(A)[i0 : i0+m, p0 : p0+k] -> ceil(m/MR) panels, each MR x k stored column by column.
template <class T>
void pack_a(const T* A, idx lda, bool trans_a, idx i0, idx m, idx p0, idx k, int MR, T* Ap) {
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
