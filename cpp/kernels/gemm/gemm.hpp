// GEMM: C = alpha * op(A) op(B) + beta * C on row-major matrices with leading dimensions,
// op(X) = X or Xᵀ. Every transpose combination is handled by the packing routines; nothing is
// ever transposed in memory. An optional epilogue is applied to each finished tile of C while it
// is still in cache (bias + activation for the forward pass, activation slope for backward).
#pragma once
#include "../../common/base.hpp"

namespace dp {

template <class T>
struct GemmEpilogue {
  const T* bias = nullptr;        // (N): C[i,j] += bias[j]
  T* z_out = nullptr;             // (M, ld_z): if set, receives C after the bias, before act
  idx ld_z = 0;
  Act act = Act::Identity;        // C[i,j] = g(C[i,j]) after the bias
  const T* slope_of = nullptr;    // (M, ld_slope): if set, C[i,j] *= g'(.) read from this output
  idx ld_slope = 0;
  Act slope_act = Act::Identity;
};

// A is op(A) of shape M x K: stored (M, lda) if !trans_a, (K, lda) if trans_a; likewise B.
// Results are bitwise identical for every thread count.
template <class T>
void gemm(bool trans_a, bool trans_b, idx M, idx N, idx K, T alpha, const T* A, idx lda,
          const T* B, idx ldb, T beta, T* C, idx ldc, const GemmEpilogue<T>* epilogue = nullptr);

// One sample through C = a Bᵀ for the columns [j0, j1) only (a row of C; B is (N, ldb) row-major,
// as a layer's W): the dot kernel of the active level, then the epilogue on those columns. For a
// caller that owns its parallel region and splits several products' columns among its threads;
// each column's value does not depend on the split. `gemv_split` says how many threads the
// columns of an N x K product are worth and where thread t's share starts (whole kernel tiles).
template <class T>
void gemv_columns(idx j0, idx j1, idx K, const T* a, const T* B, idx ldb, T* C,
                  const GemmEpilogue<T>* epilogue = nullptr);
template <class T>
int gemv_team(double flops);
template <class T>
idx gemv_split(idx N, int t, int team);

// The plain triple loop, kept as the documented reference and test oracle.
template <class T>
void gemm_reference(bool trans_a, bool trans_b, idx M, idx N, idx K, T alpha, const T* A, idx lda,
                    const T* B, idx ldb, T beta, T* C, idx ldc);

}  // namespace dp
