// The per-instruction-set context for GEMM (BLIS's "cntx"): tile shape, cache blocking, the
// micro-kernels and the driver's policy (thresholds measured on a CPU of that level). The driver
// (kernels/gemm/gemm.cpp) only ever talks to this table; runtime/dispatch.hpp picks one.
#pragma once
#include "../common/base.hpp"

namespace dp {

// Micro-kernel contract: C[MR x NR] := alpha * Ap * Bp + beta * C, where Ap is an MR x k panel
// whose k-th column is MR consecutive values at Ap + p*a_ks, and Bp a k x NR panel whose p-th row
// is NR consecutive values at Bp + p*b_ks. Packed panels have a_ks = MR and b_ks = NR; a panel
// read in place from the caller's matrix has its leading dimension there. beta == 0 means C is
// not read (it may hold garbage or NaN).
template <class T>
using GemmMicroKernel = void (*)(idx k, const T* Ap, idx a_ks, const T* Bp, idx b_ks, T* C, idx ldc,
                                 T alpha, T beta);

// Dot-product kernel for C = alpha * A Bᵀ + beta * C when both operands are row-major in K
// (a layer's forward pass Z = X Wᵀ at small batch): C[i,j] = alpha * dot(A[i,:], B[j,:]) + ...
// for an m x n tile (m <= dot_mr, n <= dot_nr), vectors along K, nothing packed.
// Batch-1 backward + SGD step over a panel of row_nr columns of W (ukr_template.hpp's
// row_backward_sgd): dx = dzᵀ W with the old W, then W = beta W + alpha dz xᵀ, one pass over W.
template <class T>
using RowBackwardSgdKernel = void (*)(idx k, const T* dz, T* W, idx ldw, const T* x, T* dx,
                                      T alpha, T beta);

// Small-batch form (ukr_template.hpp's rows_backward_sgd): n rows of dz, X and partial deltas.
template <class T>
using RowsBackwardSgdKernel = void (*)(idx k, idx n, const T* dz, idx ld_dz, T* W, idx ldw,
                                       const T* X, idx ldx, T* part, idx ldp, T alpha, T beta);

// M = 1: C[0, n) = alpha * a B + beta * C with the k rows of B (ldb apart) read in place and a's
// elements a_ks apart; acc is n values of scratch (it may be C when beta == 0).
template <class T>
using GemmRowKernel = void (*)(idx k, idx n, const T* a, idx a_ks, const T* B, idx ldb, T* C,
                               T alpha, T beta, T* acc);

template <class T>
using GemmDotKernel = void (*)(idx k, const T* A, idx lda, const T* B, idx ldb, T* C, idx ldc,
                               idx m, idx n, T alpha, T beta);

// Where the driver switches between its paths and how it sizes its thread team: numbers measured
// on one CPU per instruction set, kept here with the kernels they were measured with (BLIS
// keeps its block sizes and thresholds in the per-architecture context, never in the loops).
struct GemmPolicy {
  // B is read in place (no packing) while a thread's block of C has at most this many rows ...
  idx direct_b_max_rows;
  // ... or the product is at most this deep: packing pays off only when reused or deep.
  idx direct_b_max_depth;
  // C = A Bᵀ with at most this many rows of A runs as dot products (no packing of B).
  idx dot_max_rows;
  // Rows of A the dot path keeps in L2 while rows of B sweep them.
  idx dot_row_chunk;
  // Floating-point operations worth one more thread: compute-bound products, and memory-bound
  // ones (M = 1, a dot product of few rows, a short inner dimension), which pay off earlier.
  double compute_flops_per_thread;
  double streaming_flops_per_thread;
  idx streaming_max_rows;   // the dot path with at most this many rows of A is memory-bound
  idx streaming_max_depth;  // the blocked path with K at most this is memory-bound
  // C = A B with A row-major: full MR-row panels of A are read in place by ukr_rows (MR row
  // streams, no packing) instead of being transposed into a packed panel.
  bool a_rows_in_place = false;
  // C = Aᵀ B (a weight gradient dZᵀ X): MR-wide column slices of A are read in place, a row of A
  // (this many bytes at most) apart, instead of being packed. Each k step then touches a new row:
  // cheap for short rows, but a 16 KiB stride (4096 columns) misses the TLB on every step. (The
  // same limit holds B read in place for the few row panels of a small M, gemm.cpp.)
  idx a_columns_max_stride = idx(1) << 40;
  // An operand read in place with a stride that maps its kc rows onto too few L1 sets (a 2 KiB
  // stride: 2 of 64 sets, 16 lines for 256 rows) is packed instead, whatever the limits above:
  // in place, every micro-tile would fetch its panel from L2 again (in_place_fits_l1, gemm.cpp).
  bool in_place_needs_l1_sets = false;
  // Batches up to this size run backward + plain SGD fused (layers/dense_sgd_fused.cpp), larger
  // ones as products. With 16 ymm registers the fused kernel's partial rows and X panel go
  // through L1 for every row of W: on Zen 3 it beats the products up to ~12 rows and loses
  // 15-20% at 16 (train_step [784,512,512,10], alternating builds: b4 16.3k vs 7.0-12.6k
  // samples/s, b12 about equal, b16 19.5-25.6k vs 24.0-30.0k).
  idx fused_sgd_max_batch = 16;
};

// Measured on Zen 4 at the avx512 level (2 threads where it matters):
// - direct B: MLP shapes gain 10-20% with B in place (128x784x512 NN: 180 vs 150 GFLOP/s;
//   512x784x128 TN: 186 vs 153), large squares lose 15% (2048³ NN: 159 vs 191);
// - dot path, one thread, K = 512/784: M = 32: 92 vs 64 GFLOP/s; M = 64 about equal; M >= 128
//   packed ahead by 5-15%;
// - threads: below ~1 MFLOP a fork/join (and, on a busy machine, waiting for a descheduled
//   worker) costs more than a second thread saves; streaming work pays off at a quarter of that.
inline constexpr GemmPolicy kGemmPolicyZen4 = {
    /*direct_b_max_rows=*/256, /*direct_b_max_depth=*/128,
    /*dot_max_rows=*/64,       /*dot_row_chunk=*/128,
    /*compute_flops_per_thread=*/1.0e6, /*streaming_flops_per_thread=*/2.5e5,
    /*streaming_max_rows=*/8,  /*streaming_max_depth=*/16,
};

// Measured on a Sapphire Rapids class Xeon at the avx512 level (2 cores, 2 MiB L2, two 512-bit
// FMA pipes): B read in place with the caller's stride (2 KiB, 16 KiB: powers of two in MLPs)
// loses to a packed B by up to 2x at 2 threads (256x4096x4096 NN: 70 vs 113 GFLOP/s on one
// core), except for the few rows of a small batch, where packing costs as much as the product;
// rows of A read in place for C = A B beat the transposing pack (MLP dX products); the blocked
// path beats dot products from 16 rows of A up (C = A Bᵀ, K = 784: 16 rows 1.1x, 32 rows 1.4x,
// 64 rows 1.6x at 2 threads), where Zen 4 keeps dot products up to 64 rows; the transposed A of
// a weight gradient is packed once its rows pass 2 KiB (4096x4096x256 TN, one core, CPU time
// on a busy machine: 81 -> 111 GFLOP/s; numpy 106-120).
inline constexpr GemmPolicy kGemmPolicyIntelAvx512 = {
    /*direct_b_max_rows=*/16, /*direct_b_max_depth=*/0,
    /*dot_max_rows=*/8,        /*dot_row_chunk=*/128,
    /*compute_flops_per_thread=*/1.0e6, /*streaming_flops_per_thread=*/2.5e5,
    /*streaming_max_rows=*/8,  /*streaming_max_depth=*/16,
    /*a_rows_in_place=*/true,
    /*a_columns_max_stride=*/2048,
};

// Measured on an AMD EPYC Zen 3 (Milan) at the avx2 level (2 vCPUs, 32 KiB 8-way L1d, 512 KiB L2,
// two 256-bit FMA pipes), medians of interleaved rounds against numpy at 2 threads: rows of A read
// in place (no transposing pack); operands in place only where their stride spreads over the L1
// sets (a 512-wide layer's 2 KiB rows use 2 of 64: 128x512x512 NN 0.83 -> 0.95x numpy), and a
// transposed A packed past 2 KiB rows (1024³ TN, one thread: 0.65-0.73 -> 1.0x); the dot path
// up to 64 rows (C = A Bᵀ, 32 x 512 x 784: 1.25x numpy, 0.81x with the packed path from 8 rows).
inline constexpr GemmPolicy kGemmPolicyZen3 = {
    /*direct_b_max_rows=*/256, /*direct_b_max_depth=*/128,
    /*dot_max_rows=*/64,       /*dot_row_chunk=*/128,
    /*compute_flops_per_thread=*/1.0e6, /*streaming_flops_per_thread=*/2.5e5,
    /*streaming_max_rows=*/8,  /*streaming_max_depth=*/16,
    /*a_rows_in_place=*/true,
    /*a_columns_max_stride=*/2048,
    /*in_place_needs_l1_sets=*/true,
    /*fused_sgd_max_batch=*/12,
};

// Intel cores at the avx2 level (Haswell to Skylake-client class: 32 KiB 8-way L1d, 256 KiB -
// 1 MiB L2, two 256-bit FMA pipes). Not measured on such a CPU: the Sapphire Rapids findings that
// follow from the cache geometry, not from AVX-512 (B packed past a small batch, rows of A in place,
// a transposed A packed past 2 KiB rows) and the set rule, with the dot path kept to 8 rows.
inline constexpr GemmPolicy kGemmPolicyIntelAvx2 = {
    /*direct_b_max_rows=*/16, /*direct_b_max_depth=*/0,
    /*dot_max_rows=*/8,        /*dot_row_chunk=*/128,
    /*compute_flops_per_thread=*/1.0e6, /*streaming_flops_per_thread=*/2.5e5,
    /*streaming_max_rows=*/8,  /*streaming_max_depth=*/16,
    /*a_rows_in_place=*/true,
    /*a_columns_max_stride=*/2048,
    /*in_place_needs_l1_sets=*/true,
    /*fused_sgd_max_batch=*/12,
};

// Edge-tile kernel: C[mr x nr] := alpha * Ap * Bp + beta * C for a tile at the edge of C (mr <=
// MR, nr <= NR), the panels as for GemmMicroKernel (a_rows: A's panel is MR rows read in place,
// as for ukr_rows), computing only the vectors that hold the nr columns and writing C directly.
template <class T>
using GemmEdgeKernel = void (*)(idx k, const T* Ap, idx a_ks, bool a_rows, const T* Bp, idx b_ks,
                                T* C, idx ldc, T alpha, T beta, int mr, int nr);

template <class T>
struct GemmArch {
  const char* name;     // "avx512", "avx2" or "generic"
  int mr, nr;           // register tile
  idx mc, kc, nc;       // cache blocks: A block mc x kc, B block kc x nc (fits L2)
  GemmMicroKernel<T> ukr;
  int dot_mr, dot_nr;   // tile of the dot-product kernel
  GemmDotKernel<T> dot;
  // One-row kernels for M == 1 (batch-1 layers, GEMV): memory-bound, so a single row of
  // accumulators that streams each element of B exactly once.
  int row_nr;                  // columns of W per panel of the fused batch-1 SGD kernels
  GemmRowKernel<T> row_ukr;    // C = a B, any width, B's rows read in place
  int row_dot_nr;              // rows of B per call of row_dot (a dot kernel with MR = 1)
  GemmDotKernel<T> row_dot;
  GemmPolicy policy;
  // The micro-architecture these choices were made for ("zen4", "intel"; "" where one serves).
  const char* variant = "";
  // ukr with A's panel read as MR rows in place (see policy.a_rows_in_place); null: not offered.
  GemmMicroKernel<T> ukr_rows = nullptr;
  // pack_b (kernels/gemm/pack.hpp) compiled for this instruction set, a transposed B with vector
  // transposes; null: the portable pack_b.
  void (*pack_b_panels)(const T* B, idx ldb, bool trans_b, idx p0, idx k, idx j0, idx n, int NR,
                        T* Bp) = nullptr;
  // Fused batch-1 backward + SGD step on row_nr columns, and on one vector (row_nr / 8 columns)
  // for the edge; null: the unfused products.
  RowBackwardSgdKernel<T> row_backward_sgd = nullptr;
  RowBackwardSgdKernel<T> row_backward_sgd_vec = nullptr;
  // Its small-batch form on 4 vectors (row_nr / 2 columns) and on one vector.
  RowsBackwardSgdKernel<T> rows_backward_sgd = nullptr;
  RowsBackwardSgdKernel<T> rows_backward_sgd_vec = nullptr;
  // Edge tiles (N = 100 in 32-wide tiles, a 10-wide output layer) without computing the full
  // tile into scratch; null: the full kernel into scratch, then the valid part copied.
  GemmEdgeKernel<T> ukr_edge = nullptr;
};

}  // namespace dp
