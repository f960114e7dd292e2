// The register-blocked micro-kernel, written once over a vector-traits class V and instantiated
// by each instruction-set translation unit. Only include it from inside an ISA namespace: the
// code generated depends on that TU's compiler flags.
//
// V provides: T, reg, width, zero(), bcast(T), load(const T*), store(T*, reg),
//             fma(a, b, c) = a*b + c, mul(a, b).
//
// The tile is MR rows x NV vectors. Per k: NV loads of B, MR broadcasts of A, MR*NV FMAs into
// MR*NV accumulators (AVX-512 fp32 6x4: 24 zmm accumulators, 24 FMAs per 10 loads).
#pragma once

template <class V, int MR, int NV>
void gemm_ukr(dp::idx k, const typename V::T* __restrict Ap, dp::idx a_ks,
              const typename V::T* __restrict Bp, dp::idx b_ks, typename V::T* __restrict C,
              dp::idx ldc, typename V::T alpha, typename V::T beta) {
  using R = typename V::reg;
  constexpr int W = V::width;
  R acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[i][j] = V::zero();

  for (dp::idx p = 0; p < k; ++p) {
    R b[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) b[j] = V::load(Bp + j * W);
    __builtin_prefetch(Bp + 8 * b_ks);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      R a = V::bcast(Ap[i]);
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[i][j] = V::fma(a, b[j], acc[i][j]);
    }
    Ap += a_ks;
    Bp += b_ks;
  }

  const R va = V::bcast(alpha);
  if (beta == typename V::T(0)) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) V::store(C + i * ldc + j * W, V::mul(va, acc[i][j]));
  } else {
    const R vb = V::bcast(beta);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) {
        typename V::T* c = C + i * ldc + j * W;
        V::store(c, V::fma(vb, V::load(c), V::mul(va, acc[i][j])));
      }
  }
}
