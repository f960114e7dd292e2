// The per-level context of the bf16 GEMM (fp32 in and out, bf16 products, fp32 accumulation):
// tile shape, the K granule, cache blocks, the micro-kernel and the packing routines that round
// float32 to bf16 while they lay out the panels. The driver (kernels/gemm_bf16/) only talks to
// this table; runtime/bf16_dispatch.hpp picks one.
//
// Panel layouts (Kp = K rounded up to the granule G, zero-padded, as are rows/columns past the
// matrix's edge):
//   A panel (MR rows of op(A)): chunks of G consecutive k, each MR rows x G values, row-major:
//       Ap[c*MR*G + i*G + g] = op(A)(i, c*G + g)
//     G = 2 gives the pair layout of VDPBF16PS (a 32-bit pair per row to broadcast), G = 32 the
//     16-row x 64-byte rows of an AMX tile.
//   B panel (NR columns of op(B)): pairs of consecutive k interleaved per column ("VNNI"):
//       Bp[p*2*NR + 2*j + e] = op(B)(2p + e, j)
//     which is both a VDPBF16PS operand (16 columns per vector) and AMX's B tile layout.
// A panel or a B panel covers all of K; the slice starting at k = pc (a multiple of G) begins at
// Ap + pc*MR and Bp + pc*NR, so a KC block of either is one pointer offset away.
#pragma once
#include "../common/base.hpp"
#include "../kernels/gemm/gemm.hpp"
#include "../kernels/gemm_bf16/bf16.hpp"

namespace dp {

// C[MR x NR] := alpha * A B + beta * C over kc values of k (kc a multiple of G), A and B slices of
// packed panels as above. beta == 0: C is not read.
using Bf16MicroKernel = void (*)(idx kc, const bf16* Ap, const bf16* Bp, float* C, idx ldc,
                                 float alpha, float beta);

// The same product for the first m rows of the A panel only (m <= rows_max): for levels whose
// tile is tall (AMX: 32 rows), a few rows (one sample, a small batch, an edge) are cheaper in
// vectors than in a mostly empty tile. Rows past m of C are neither read nor written.
using Bf16RowsKernel = void (*)(idx m, idx kc, const bf16* Ap, const bf16* Bp, float* C, idx ldc,
                                float alpha, float beta);

// C[m x n] = alpha * A Bᵀ + beta * C for m <= dot_rows rows of A and any n rows of B (dot_cols
// at a time), both rows along k, read in place and rounded in registers: a product of a few rows
// of A with an op(B) = Bᵀ used once (one sample's forward pass) skips packing B. A column's
// value does not depend on n.
using Bf16DotKernel = void (*)(idx K, const float* A, idx lda, const float* B, idx ldb, float* C,
                               idx ldc, idx m, idx n, float alpha, float beta);

// Rows [i0, i0 + m) of op(A) and all K columns, as ceil(m / MR) consecutive panels of MR * Kp
// values from Ap on (the last zero-padded). op(A)(i, k) = A[i*lda + k], or A[k*lda + i] when
// trans_a. Several panels per call let a vector level read the caller's rows in long runs.
using Bf16PackA = void (*)(const float* A, idx lda, bool trans_a, idx i0, idx m, idx K, bf16* Ap);
// Columns [j0, j0 + n) of op(B) and all K rows, as ceil(n / NR) consecutive panels of NR * Kp
// values from Bp on. op(B)(k, j) = B[k*ldb + j], or B[j*ldb + k] when trans_b.
using Bf16PackB = void (*)(const float* B, idx ldb, bool trans_b, idx j0, idx n, idx K, bf16* Bp);

// Per-thread set-up around a share of micro-kernel calls (AMX: load the tile configuration,
// then release the tiles); null where nothing is needed.
using Bf16ThreadHook = void (*)();

// The GEMM epilogue on C[i0 : i0+m, j0 : j0+n] in the level's vectors, or false (nothing done)
// for what it leaves to the driver's portable epilogue; null: the portable one always.
using Bf16Epilogue = bool (*)(const GemmEpilogue<float>& ep, float* C, idx ldc, idx i0, idx j0,
                              idx m, idx n);

// A position-sensitive 64-bit fingerprint of n floats (exact bits): any single changed value
// changes it. The inference cache of packed weights is keyed on it.
using Fingerprint = std::uint64_t (*)(const float* x, idx n);

struct GemmBf16Arch {
  const char* name;  // "amx", "avx512bf16" or "generic"
  int mr, nr;        // register tile (C block computed per micro-kernel call)
  int kg;            // K granule G: 2 (pairs) or 32 (AMX tile rows)
  idx mc, kc, nc;    // cache blocks, in rows / k / columns (kc a multiple of kg)
  Bf16MicroKernel ukr;
  int rows_max;                // panels of at most this many rows go to ukr_rows (0: none)
  Bf16RowsKernel ukr_rows;
  int dot_rows, dot_cols;      // C = A Bᵀ with at most dot_rows rows goes to dot (0: never)
  Bf16DotKernel dot;
  Bf16PackA pack_a;
  Bf16PackB pack_b;
  Bf16ThreadHook enter, leave;
  Bf16Epilogue epilogue;
  Fingerprint fingerprint;
  double flops_per_thread;  // products smaller than this run on fewer threads
};

}  // namespace dp
