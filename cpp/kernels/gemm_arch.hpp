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

template <class T>
struct GemmArch {
  const char* name;     // "avx512", "avx2" or "generic"
  int mr, nr;           // register tile
  idx mc, kc, nc;       // cache blocks: A block mc x kc, B block kc x nc (fits L2)
  GemmMicroKernel<T> ukr;
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
