// Run-time choice of the instruction set: detect newest to oldest, cache the answer, and let
// DELTAPROP_SIMD (generic | avx2 | avx512) force a lower level.
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include "dispatch.hpp"

namespace dp {
namespace {

struct ArchTables {
  GemmArch<float> f32[3];
  GemmArch<double> f64[3];
  VectorMath vmath[3];
  ArchTables() {
    fill_arch_generic(f32[0], f64[0]);
    fill_vmath_generic(vmath[0]);
#ifdef DELTAPROP_X86_KERNELS
    fill_arch_avx2(f32[1], f64[1]);
    fill_arch_avx512(f32[2], f64[2]);
    fill_vmath_avx2(vmath[1]);
    fill_vmath_avx512(vmath[2]);
#else
    f32[1] = f32[2] = f32[0];
    f64[1] = f64[2] = f64[0];
    vmath[1] = vmath[2] = vmath[0];
#endif
  }
};

const ArchTables& tables() {
  static const ArchTables t;
  return t;
}

SimdLevel detect() {
#if defined(DELTAPROP_X86_KERNELS) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return SimdLevel::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SimdLevel::Avx2;
#endif
  return SimdLevel::Generic;
}

SimdLevel initial_level() {
  SimdLevel level = cpu_max_simd_level();
  if (const char* forced = std::getenv("DELTAPROP_SIMD")) {
    try {
      SimdLevel wanted = parse_simd_level(forced);
      if (static_cast<int>(wanted) < static_cast<int>(level)) level = wanted;
    } catch (const std::invalid_argument&) {
      // An unknown value keeps the detected level: never fail at import time.
    }
  }
  return level;
}

std::atomic<int>& level_slot() {
  static std::atomic<int> slot{static_cast<int>(initial_level())};
  return slot;
}

}  // namespace

SimdLevel cpu_max_simd_level() {
  static const SimdLevel level = detect();
  return level;
}

SimdLevel active_simd_level() { return static_cast<SimdLevel>(level_slot().load()); }

void set_simd_level(SimdLevel level) {
  if (static_cast<int>(level) > static_cast<int>(cpu_max_simd_level()))
    throw std::invalid_argument(std::string("simd level '") + simd_level_name(level) +
                                "' is not supported by this CPU (best: '" +
                                simd_level_name(cpu_max_simd_level()) + "')");
  level_slot().store(static_cast<int>(level));
}

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::Avx512: return "avx512";
    case SimdLevel::Avx2: return "avx2";
    default: return "generic";
  }
}

SimdLevel parse_simd_level(const std::string& name) {
  if (name == "avx512") return SimdLevel::Avx512;
  if (name == "avx2") return SimdLevel::Avx2;
  if (name == "generic") return SimdLevel::Generic;
  throw std::invalid_argument("simd level must be one of 'generic', 'avx2', 'avx512', got '" +
                              name + "'");
}

const VectorMath& active_vmath() { return tables().vmath[static_cast<int>(active_simd_level())]; }

template <>
const GemmArch<float>& active_gemm_arch<float>() {
  return tables().f32[static_cast<int>(active_simd_level())];
}
template <>
const GemmArch<double>& active_gemm_arch<double>() {
  return tables().f64[static_cast<int>(active_simd_level())];
}

}  // namespace dp
