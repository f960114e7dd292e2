// Run-time choice of the bf16 GEMM level: AMX tiles (TDPBF16PS), AVX512-BF16 (VDPBF16PS) or the
// portable emulation. Detected best first and cached; AMX also needs the kernel's permission to
// use the tile state (requested once per process), and falls back when it is refused.
// DELTAPROP_BF16=generic|avx512bf16|amx (or set_bf16_level) picks a level the CPU supports; a
// SIMD level below avx512 (DELTAPROP_SIMD, set_simd_level) also keeps bf16 on the portable code.
#pragma once
#include <string>
#include <vector>
#include "../arch/gemm_bf16_arch.hpp"

namespace dp {

enum class Bf16Level : int { Generic = 0, Avx512Bf16 = 1, Amx = 2 };

// Filled by one translation unit per level (cpp/arch/<isa>/, compiled with its flags).
void fill_bf16_arch_generic(GemmBf16Arch& a);
void fill_bf16_arch_avx512bf16(GemmBf16Arch& a);
void fill_bf16_arch_amx(GemmBf16Arch& a);

Bf16Level cpu_max_bf16_level();     // what this CPU, OS and build support
Bf16Level active_bf16_level();      // the level the products run at now
void set_bf16_level(Bf16Level level);  // throws std::invalid_argument if unsupported here
const char* bf16_level_name(Bf16Level level);
Bf16Level parse_bf16_level(const std::string& name);  // throws std::invalid_argument
std::vector<std::string> supported_bf16_levels();      // lowest first
// Why AMX is not used, when the CPU has it ("" otherwise): e.g. the OS refused the tile state.
std::string amx_unavailable_reason();

const GemmBf16Arch& active_bf16_arch();

// Cache blocks of every bf16 level: "table" or "MC,KC,NC" (KC is rounded up to the level's K
// granule). For tests; not to be called while products run. Throws std::invalid_argument.
void set_bf16_gemm_blocks(const std::string& spec);

}  // namespace dp
