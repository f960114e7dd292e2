// Run-time choice of the instruction set: the per-ISA tables (GEMM context, vector maths), who
// fills them, and which one is active. Detected newest to oldest and cached; DELTAPROP_SIMD=
// generic|avx2|avx512 (or set_simd_level) lowers the level. A backend that is not a CPU
// instruction set (cpp/cuda/) brings its own table and does not go through this file.
#pragma once
#include <string>
#include "../arch/gemm_arch.hpp"
#include "../arch/vmath.hpp"

namespace dp {

enum class SimdLevel : int { Generic = 0, Avx2 = 1, Avx512 = 2 };

// The vendor families with their own GEMM choices at the avx512 and avx2 levels (AVX-512 on an
// Intel server core, two 512-bit FMA pipes and a 2 MiB L2, is not the same target as on Zen 4;
// the avx2 level's AMD choices were measured on Zen 3). Detected from the CPU's vendor;
// DELTAPROP_GEMM_VARIANT=intel|zen4 (or set_gemm_variant; "zen3" names the AMD family too) forces
// one, so each can be tested on any machine that has the level. Each level's table names what
// it was made for (GemmArch::variant: "intel", "zen4" at avx512, "zen3" at avx2).
enum class GemmVariant : int { Zen4 = 0, Intel = 1 };

// Filled by one translation unit per instruction set (cpp/arch/<isa>/, compiled with its flags).
void fill_arch_generic(GemmArch<float>& f32, GemmArch<double>& f64);
void fill_arch_avx2(GemmArch<float>& f32, GemmArch<double>& f64, GemmVariant variant);
void fill_arch_avx512(GemmArch<float>& f32, GemmArch<double>& f64, GemmVariant variant);
void fill_vmath_generic(VectorMath& vm);
void fill_vmath_avx2(VectorMath& vm);
void fill_vmath_avx512(VectorMath& vm);

// Best level the CPU supports, lowered by DELTAPROP_SIMD=generic|avx2|avx512.
SimdLevel cpu_max_simd_level();
SimdLevel active_simd_level();
void set_simd_level(SimdLevel level);  // throws std::invalid_argument if the CPU lacks it
const char* simd_level_name(SimdLevel level);
SimdLevel parse_simd_level(const std::string& name);  // throws std::invalid_argument

template <class T>
const GemmArch<T>& active_gemm_arch();

// Cache blocks of every level's GEMM: "table" (each instruction set's own), "model" (derived from
// this CPU's caches, runtime/blocking.hpp) or "MC,KC,NC"; DELTAPROP_GEMM_BLOCKS sets it at
// import. Not to be called while products run. Throws std::invalid_argument on a bad spec.
void set_gemm_blocks(const std::string& spec);
std::string gemm_blocks_source();
const VectorMath& active_vmath();

GemmVariant cpu_gemm_variant();  // what this CPU's vendor calls for
GemmVariant active_gemm_variant();
// Not to be called while products run (like set_gemm_blocks); the block setting is kept.
void set_gemm_variant(GemmVariant variant);
const char* gemm_variant_name(GemmVariant variant);
// The order of a GEMM block's tile loops: Auto (the rule in gemm.cpp, from the L2 size), Rows
// (row panels outside: A's panel in L1) or Columns (B's column panels outside: B's panel in L1).
// DELTAPROP_GEMM_ORDER=auto|rows|columns sets it at import (for measuring the rule on a new CPU,
// and for tests); every order gives the same bits.
enum class GemmLoopOrder { Auto, Rows, Columns };
GemmLoopOrder gemm_loop_order();
void set_gemm_loop_order(GemmLoopOrder order);
const char* gemm_loop_order_name(GemmLoopOrder order);
GemmLoopOrder parse_gemm_loop_order(const std::string& name);  // throws std::invalid_argument

// Changes each time the level, the blocks or the variant change (what the kernels' scratch
// sizes depend on besides the shapes).
unsigned gemm_config_generation();
GemmVariant parse_gemm_variant(const std::string& name);  // throws std::invalid_argument

}  // namespace dp
