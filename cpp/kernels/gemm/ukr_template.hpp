// The register-blocked micro-kernel, written once over a vector-traits class V and instantiated
// by each instruction-set translation unit. Only include it from inside an ISA namespace: the
// code generated depends on that TU's compiler flags.
//
// V provides: T, reg, width, zero(), bcast(T), load(const T*), store(T*, reg),
//             fma(a, b, c) = a*b + c, mul(a, b), load_partial(const T*, int count) (zero-filled),
//             sum(reg) (horizontal add); the edge kernel also store_partial(T*, reg, int count).
//
// The tile is MR rows x NV vectors. Per k: NV loads of B, MR broadcasts of A, MR*NV FMAs into
// MR*NV accumulators (AVX-512 fp32 6x4: 24 zmm accumulators, 24 FMAs per 10 loads).
#pragma once

// acc = the MR x NV*W tile of op(A) op(B) over k steps of the packed panels: the one sequence of
// FMAs of every tile kernel below, so an edge tile's elements get exactly the full tile's
// operations. kRowA as for gemm_ukr; kPrefetchB: prefetch packed B 8 steps ahead (the full tiles).
template <class V, int MR, int NV, bool kRowA, bool kPrefetchB>
__attribute__((always_inline)) inline void accumulate_tile(
    dp::idx k, const typename V::T* __restrict Ap, dp::idx a_ks, const typename V::T* __restrict Bp,
    dp::idx b_ks, typename V::reg (&acc)[MR][NV]) {
  using R = typename V::reg;
  constexpr int W = V::width;
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[i][j] = V::zero();
  // B with a stride wider than the tile (read in place for a small batch's C = A B: rows ldb
  // apart, 3 KiB in a 784-wide layer) is past the reach of the L1 stride prefetcher (2 KiB), so
  // every line of the row 8 steps ahead is prefetched, in the edge tiles too (Sapphire Rapids,
  // alternating builds: 8 x 784 x 784 NN 1.18x, 8 x 512 x 512 1.13x); full packed panels are
  // contiguous, and one line 8 steps ahead is enough there.
  const bool in_place_b = b_ks != NV * W;
  for (dp::idx p = 0; p < k; ++p) {
    R b[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) b[j] = V::load(Bp + j * W);
    if (in_place_b) {
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) __builtin_prefetch(Bp + 8 * b_ks + j * W);
    } else if (kPrefetchB) {
      __builtin_prefetch(Bp + 8 * b_ks);
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      R a = V::bcast(kRowA ? Ap[i * a_ks] : Ap[i]);
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[i][j] = V::fma(a, b[j], acc[i][j]);
    }
    Ap += kRowA ? 1 : a_ks;
    Bp += b_ks;
  }
}

// kRowA: the A panel is MR rows read in place from a row-major op(A) (row i at Ap + i*a_ks,
// consecutive in k), which saves packing A for C = A B; otherwise column k is at Ap + k*a_ks.
template <class V, int MR, int NV, bool kRowA = false>
void gemm_ukr(dp::idx k, const typename V::T* __restrict Ap, dp::idx a_ks,
              const typename V::T* __restrict Bp, dp::idx b_ks, typename V::T* __restrict C,
              dp::idx ldc, typename V::T alpha, typename V::T beta) {
  using R = typename V::reg;
  constexpr int W = V::width;
  R acc[MR][NV];
  accumulate_tile<V, MR, NV, kRowA, true>(k, Ap, a_ks, Bp, b_ks, acc);

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

// Edge tile (see GemmEdgeKernel): the first mr rows and nr columns of an MR x NV*W tile with
// only the ceil(nr / W) vectors of B that hold them (NV here), written straight to C, the last
// vector masked (V::load_partial / V::store_partial). Each element gets the full tile's
// sequence of operations, so results do not change with the kernel that computes them.
template <class V, int MR, int NV, bool kRowA>
void gemm_ukr_edge(dp::idx k, const typename V::T* __restrict Ap, dp::idx a_ks,
                   const typename V::T* __restrict Bp, dp::idx b_ks, typename V::T* __restrict C,
                   dp::idx ldc, typename V::T alpha, typename V::T beta, int mr, int nr) {
  using R = typename V::reg;
  constexpr int W = V::width;
  R acc[MR][NV];
  accumulate_tile<V, MR, NV, kRowA, false>(k, Ap, a_ks, Bp, b_ks, acc);
  const R va = V::bcast(alpha), vb = V::bcast(beta);
  const int last = nr - (NV - 1) * W;  // columns in the last vector, 1..W
  for (int i = 0; i < mr; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      typename V::T* c = C + i * ldc + j * W;
      const int count = j + 1 < NV ? W : last;
      R out = V::mul(va, acc[i][j]);
      if (beta != typename V::T(0)) out = V::fma(vb, V::load_partial(c, count), out);
      V::store_partial(c, out, count);
    }
}

// The edge kernels for 1..NV vectors, picked by the tile's width.
template <class V, int MR, int NV, bool kRowA>
void gemm_ukr_edge_width(dp::idx k, const typename V::T* Ap, dp::idx a_ks, const typename V::T* Bp,
                         dp::idx b_ks, typename V::T* C, dp::idx ldc, typename V::T alpha,
                         typename V::T beta, int mr, int nr) {
  static_assert(NV >= 1 && NV <= 4, "edge kernels for 1 to 4 vectors");
  const int nv = (nr + V::width - 1) / V::width;
  if (nv <= 1) return gemm_ukr_edge<V, MR, 1, kRowA>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta, mr, nr);
  if (NV >= 2 && nv == 2)
    return gemm_ukr_edge<V, MR, (NV >= 2 ? 2 : 1), kRowA>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta, mr, nr);
  if (NV >= 3 && nv == 3)
    return gemm_ukr_edge<V, MR, (NV >= 3 ? 3 : 1), kRowA>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta, mr, nr);
  gemm_ukr_edge<V, MR, NV, kRowA>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta, mr, nr);
}

// ... and for 1..MR rows, picked by the tile's height: the last row panel of 8 rows (a batch of
// 8, 6 + 2) would otherwise do a full panel's FMAs for its 2 rows (8 x 784 x 784 NN on Sapphire
// Rapids: the 2-row tiles took as long as the 6-row ones). Row i's FMAs do not depend on how
// many rows the tile has, so the bits do not change.
template <class V, int MR, int NV, bool kRowA>
void gemm_ukr_edge_any(dp::idx k, const typename V::T* Ap, dp::idx a_ks, const typename V::T* Bp,
                       dp::idx b_ks, typename V::T* C, dp::idx ldc, typename V::T alpha,
                       typename V::T beta, int mr, int nr) {
  if constexpr (MR > 1) {
    if (mr < MR)
      return gemm_ukr_edge_any<V, MR - 1, NV, kRowA>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta, mr, nr);
  }
  gemm_ukr_edge_width<V, MR, NV, kRowA>(k, Ap, a_ks, Bp, b_ks, C, ldc, alpha, beta, mr, nr);
}

// The dot-product kernel (see GemmDotKernel): MR x NR accumulators, each a vector of partial sums
// along K, reduced at the end. Rows past m / n are clamped to a valid row and never stored.
// Per K-vector: MR + NR loads, MR*NR FMAs (AVX-512 fp32 4x4: 8 loads, 16 FMAs).
template <class V, int MR, int NR>
void gemm_dot_nt(dp::idx k, const typename V::T* A, dp::idx lda, const typename V::T* B,
                 dp::idx ldb, typename V::T* C, dp::idx ldc, dp::idx m, dp::idx n,
                 typename V::T alpha, typename V::T beta) {
  using T = typename V::T;
  using R = typename V::reg;
  constexpr int W = V::width;
  const T* a[MR];
  const T* b[NR];
  for (int i = 0; i < MR; ++i) a[i] = A + (i < m ? i : 0) * lda;
  for (int j = 0; j < NR; ++j) b[j] = B + (j < n ? j : 0) * ldb;
  R acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) acc[i][j] = V::zero();
  // The rows of B stream from L2 (a layer's weights): a prefetch 256 bytes ahead in each row
  // keeps up to NR line fills in flight, which the hardware prefetchers alone do not for NR
  // interleaved streams (one-sample GEMV from L2: 60 -> 70 GB/s on a Sapphire Rapids core).
  constexpr int kPrefetchAhead = 256 / int(sizeof(T));
  dp::idx p = 0;
  for (; p + W <= k; p += W) {
    R bv[NR];
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) {
      __builtin_prefetch(b[j] + p + kPrefetchAhead);
      bv[j] = V::load(b[j] + p);
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const R av = V::load(a[i] + p);
#pragma GCC unroll 8
      for (int j = 0; j < NR; ++j) acc[i][j] = V::fma(av, bv[j], acc[i][j]);
    }
  }
  if (p < k) {  // leftovers: one zero-filled partial vector
    const int rest = int(k - p);
    R bv[NR];
    for (int j = 0; j < NR; ++j) bv[j] = V::load_partial(b[j] + p, rest);
    for (int i = 0; i < MR; ++i) {
      const R av = V::load_partial(a[i] + p, rest);
      for (int j = 0; j < NR; ++j) acc[i][j] = V::fma(av, bv[j], acc[i][j]);
    }
  }
  for (dp::idx i = 0; i < m; ++i)
    for (dp::idx j = 0; j < n; ++j) {
      const T v = alpha * V::sum(acc[i][j]);
      T* c = C + i * ldc + j;
      *c = beta == T(0) ? v : v + beta * *c;
    }
}

// M = 1, C[0, n) = alpha a B + beta C with B's rows read in place (a GEMV through the rows of B:
// the delta of a batch-1 layer): P rows at a time are added into acc[0, n), which stays in L1
// while each row of B streams through whole and contiguous, the next P rows prefetched column by
// column (Sapphire Rapids, 512 x 784 from L2: P = 4 with prefetch 1.4x P = 8 without); column
// panels of a row-major B stream worse, and an edge panel packed for the last columns of a
// 784-wide B cost more than the product). Each element's FMAs run in order of p from zero, as in
// gemm_ukr, and the last columns (n % width) go through zero-filled vectors: the bits do not
// depend on how columns are shared out in multiples of the width. acc may be C when beta == 0.
template <int Q>
struct RowCount {
  static constexpr int value = Q;
};

// kRealignB (V::load_aligned and V::realign needed): B's rows all start b_off elements into a
// cache line (numpy's arrays start 16 bytes into one); past the first vector each vector of a row
// is rebuilt from the two aligned lines it spans, carried from one column block to the next, so
// no load splits across lines. The same vectors meet the same FMAs: the same bits. Needs
// n >= 3 widths; only lines within the row's n columns are read.
template <class V, int P, bool kRealignB = false>
void gemm_row_axpy(dp::idx k, dp::idx n, const typename V::T* __restrict a, dp::idx a_ks,
                   const typename V::T* __restrict B, dp::idx ldb, typename V::T* C,
                   typename V::T alpha, typename V::T beta, typename V::T* acc, int b_off = 0) {
  using T = typename V::T;
  using R = typename V::reg;
  constexpr int W = V::width;
  const dp::idx full = n / W * W;
  const int rest = int(n - full);
  T tail[W];
  for (dp::idx j = 0; j < full; j += W) V::store(acc + j, V::zero());
  V::store(tail, V::zero());
  auto add_rows = [&](dp::idx p, auto rows) {  // acc += Σ_{q < rows} a[p+q] B[p+q, :], q in order
    constexpr int Q = decltype(rows)::value;
    R av[Q];
#pragma GCC unroll 8
    for (int q = 0; q < Q; ++q) av[q] = V::bcast(a[(p + q) * a_ks]);
    const T* b = B + p * ldb;
    auto add_block = [&](dp::idx j) {
      R y = V::load(acc + j);
#pragma GCC unroll 8
      for (int q = 0; q < Q; ++q) {
        __builtin_prefetch(b + (Q + q) * ldb + j);  // the next rows' same columns
        y = V::fma(av[q], V::load(b + q * ldb + j), y);
      }
      V::store(acc + j, y);
    };
    dp::idx j = 0;
    if constexpr (kRealignB) {
      add_block(0);
      R line[Q];  // the aligned line that holds column j of each row
#pragma GCC unroll 8
      for (int q = 0; q < Q; ++q) line[q] = V::load_aligned(b + q * ldb + W - b_off);
      for (j = W; j + 2 * W - b_off <= n && j < full; j += W) {
        R y = V::load(acc + j);
#pragma GCC unroll 8
        for (int q = 0; q < Q; ++q) {
          __builtin_prefetch(b + (Q + q) * ldb + j);
          const R next = V::load_aligned(b + q * ldb + j + W - b_off);
          y = V::fma(av[q], V::realign(line[q], next, b_off), y);
          line[q] = next;
        }
        V::store(acc + j, y);
      }
    }
    for (; j < full; j += W) add_block(j);
    if (rest) {
      R y = V::load(tail);
      for (int q = 0; q < Q; ++q) y = V::fma(av[q], V::load_partial(b + q * ldb + full, rest), y);
      V::store(tail, y);
    }
  };
  dp::idx p = 0;
  for (; p + P <= k; p += P) add_rows(p, RowCount<P>());
  for (; p < k; ++p) add_rows(p, RowCount<1>());

  const R va = V::bcast(alpha), vb = V::bcast(beta);
  auto finish = [&](T* c, R sum, int count) {  // as gemm_ukr's store of its accumulators
    T out[W];
    V::store(out, beta == T(0) ? V::mul(va, sum) : V::fma(vb, V::load_partial(c, count), V::mul(va, sum)));
    for (int i = 0; i < count; ++i) c[i] = out[i];
  };
  for (dp::idx j = 0; j < full; j += W) {
    const R sum = V::load(acc + j);
    if (beta == T(0)) {
      V::store(C + j, V::mul(va, sum));
    } else {
      V::store(C + j, V::fma(vb, V::load(C + j), V::mul(va, sum)));
    }
  }
  if (rest) finish(C + full, V::load(tail), rest);
}

// Batch-1 backward through a dense layer with a plain SGD step, in one pass over a k x (NV
// vectors) panel of W (rows at stride ldw): dx = Σ_p dz[p] W[p,:] with the old W (p ascending,
// the one-row kernel's order), then W[p,:] = beta W[p,:] + alpha (dz[p] x) (alpha = -lr,
// beta = 1 - lr l2). dx == nullptr: the input layer, no delta below. Reading W once instead of
// twice is what matters here: at batch 1 the step streams W from L2/L3.
template <class V, int NV>
void row_backward_sgd(dp::idx k, const typename V::T* __restrict dz, typename V::T* __restrict W,
                      dp::idx ldw, const typename V::T* __restrict x, typename V::T* __restrict dx,
                      typename V::T alpha, typename V::T beta) {
  using R = typename V::reg;
  constexpr int Wd = V::width;
  R acc[NV], xv[NV];
#pragma GCC unroll 8
  for (int j = 0; j < NV; ++j) {
    acc[j] = V::zero();
    xv[j] = V::load(x + j * Wd);
  }
  const R va = V::bcast(alpha), vb = V::bcast(beta);
  for (dp::idx p = 0; p < k; ++p) {
    const R d = V::bcast(dz[p]);
    typename V::T* w = W + p * ldw;
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      const R wv = V::load(w + j * Wd);
      acc[j] = V::fma(d, wv, acc[j]);
      V::store(w + j * Wd, V::fma(vb, wv, V::mul(va, V::mul(d, xv[j]))));
    }
  }
  if (dx)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) V::store(dx + j * Wd, acc[j]);
}

// The same for a small batch of n rows (dz: n x k at stride ld_dz, X: n rows at stride ldx, part:
// n rows at stride ldp or null): part[i,:] = Σ_p dz[i,p] W[p,:] (old W, p ascending), then
// W[p,:] = beta W[p,:] + alpha Σ_i dz[i,p] X[i,:] (i ascending). The partial rows and the X panel
// stay in L1 while each element of W is loaded and stored once.
template <class V, int NV>
void rows_backward_sgd(dp::idx k, dp::idx n, const typename V::T* __restrict dz, dp::idx ld_dz,
                       typename V::T* __restrict W, dp::idx ldw, const typename V::T* __restrict X,
                       dp::idx ldx, typename V::T* __restrict part, dp::idx ldp,
                       typename V::T alpha, typename V::T beta) {
  using R = typename V::reg;
  constexpr int Wd = V::width;
  if (part)
    for (dp::idx i = 0; i < n; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) V::store(part + i * ldp + j * Wd, V::zero());
  const R va = V::bcast(alpha), vb = V::bcast(beta);
  for (dp::idx p = 0; p < k; ++p) {
    typename V::T* w = W + p * ldw;
    R wv[NV], g[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      wv[j] = V::load(w + j * Wd);
      g[j] = V::zero();
    }
    for (dp::idx i = 0; i < n; ++i) {
      const R d = V::bcast(dz[i * ld_dz + p]);
      const typename V::T* x = X + i * ldx;
      if (part) {
        typename V::T* q = part + i * ldp;
#pragma GCC unroll 8
        for (int j = 0; j < NV; ++j) V::store(q + j * Wd, V::fma(d, wv[j], V::load(q + j * Wd)));
      }
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) g[j] = V::fma(d, V::load(x + j * Wd), g[j]);
    }
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) V::store(w + j * Wd, V::fma(vb, wv[j], V::mul(va, g[j])));
  }
}
