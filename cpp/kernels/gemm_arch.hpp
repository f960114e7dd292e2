// The per-instruction-set kernel table for GEMM (BLIS's "context"): tile shape, cache blocking
// and the micro-kernel. The blocked driver (gemm.cpp) only ever talks to this table.
#pragma once
#include <string>
#include "common.hpp"

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
template <class T>
using GemmDotKernel = void (*)(idx k, const T* A, idx lda, const T* B, idx ldb, T* C, idx ldc,
                               idx m, idx n, T alpha, T beta);

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
  int row_nr;                  // columns per call of row_ukr (a micro-kernel with MR = 1)
  GemmMicroKernel<T> row_ukr;  // C[1 x row_nr] from B rows read in place
  int row_dot_nr;              // rows of B per call of row_dot (a dot kernel with MR = 1)
  GemmDotKernel<T> row_dot;
};

enum class SimdLevel : int { Generic = 0, Avx2 = 1, Avx512 = 2 };

// Filled by one translation unit per instruction set (compiled with its own flags).
void fill_arch_generic(GemmArch<float>& f32, GemmArch<double>& f64);
void fill_arch_avx2(GemmArch<float>& f32, GemmArch<double>& f64);
void fill_arch_avx512(GemmArch<float>& f32, GemmArch<double>& f64);

// Dispatch: best level the CPU supports, lowered by DELTAPROP_SIMD=generic|avx2|avx512.
SimdLevel cpu_max_simd_level();
SimdLevel active_simd_level();
void set_simd_level(SimdLevel level);  // throws std::invalid_argument if the CPU lacks it
const char* simd_level_name(SimdLevel level);
SimdLevel parse_simd_level(const std::string& name);  // throws std::invalid_argument

template <class T>
const GemmArch<T>& active_gemm_arch();

}  // namespace dp
