// Run-time choice of the instruction set: detect newest to oldest, cache the answer, and let
// DELTAPROP_SIMD (generic | avx2 | avx512) force a lower level.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include "dispatch.hpp"
#include "level_names.hpp"
#include "blocking.hpp"
#include "cpu_info.hpp"

namespace dp {
namespace {

constexpr LevelNames<SimdLevel, 3> kSimdLevels{"simd level", {"generic", "avx2", "avx512"}};

struct ArchTables {
  GemmArch<float> f32[3];
  GemmArch<double> f64[3];
  VectorMath vmath[3];
  GemmBlocks table_f32[3], table_f64[3];  // each level's own blocks, for "table"
  std::string blocks_source = "table";
  std::string blocks_spec = "table";
  GemmVariant variant = initial_variant();
  ArchTables() {
    fill_arch_generic(f32[0], f64[0]);
    fill_vmath_generic(vmath[0]);
    f32[1] = f32[2] = f32[0];
    f64[1] = f64[2] = f64[0];
    vmath[1] = vmath[2] = vmath[0];
#ifdef DELTAPROP_X86_KERNELS
    // A level's fill functions run only where the CPU has the level: their translation unit is
    // compiled for it, and the compiler may use its instructions anywhere there, even to store a
    // table (the AVX-512 one fills it with zmm stores: SIGILL on an AVX2 CPU). A level above the
    // CPU's keeps the copy of the one below; set_simd_level never selects it.
    const SimdLevel best = cpu_max_simd_level();
    if (static_cast<int>(best) >= static_cast<int>(SimdLevel::Avx2)) {
      fill_arch_avx2(f32[1], f64[1], variant);
      fill_vmath_avx2(vmath[1]);
      f32[2] = f32[1];
      f64[2] = f64[1];
      vmath[2] = vmath[1];
    }
    if (best == SimdLevel::Avx512) {
      fill_arch_avx512(f32[2], f64[2], variant);
      fill_vmath_avx512(vmath[2]);
    }
#endif
    for (int i = 0; i < 3; ++i) {
      table_f32[i] = {f32[i].mc, f32[i].kc, f32[i].nc};
      table_f64[i] = {f64[i].mc, f64[i].kc, f64[i].nc};
    }
    if (const char* spec = std::getenv("DELTAPROP_GEMM_BLOCKS")) {
      try {
        apply(spec);
      } catch (const std::invalid_argument& e) {
        blocks_source = std::string("table (ignored: ") + e.what() + ")";  // never fail at import
      }
    }
  }

  template <class T>
  static void set(GemmArch<T>& a, GemmBlocks b) {
    a.mc = std::max<idx>(a.mr, (b.mc + a.mr - 1) / a.mr * a.mr);
    a.kc = std::max<idx>(1, b.kc);
    a.nc = std::max<idx>(a.nr, (b.nc + a.nr - 1) / a.nr * a.nr);
  }

  static GemmVariant initial_variant() {
    if (const char* forced = std::getenv("DELTAPROP_GEMM_VARIANT")) {
      try {
        return parse_gemm_variant(forced);
      } catch (const std::invalid_argument&) {
        // An unknown value keeps the detected variant: never fail at import time.
      }
    }
    return cpu_gemm_variant();
  }

  void set_variant(GemmVariant v) {
#ifdef DELTAPROP_X86_KERNELS
    variant = v;
    const SimdLevel best = cpu_max_simd_level();
    if (static_cast<int>(best) < static_cast<int>(SimdLevel::Avx2)) return;  // no table to refill
    fill_arch_avx2(f32[1], f64[1], v);
    if (best == SimdLevel::Avx512) {
      fill_arch_avx512(f32[2], f64[2], v);
    } else {  // the avx512 slot keeps a copy of the level below
      f32[2] = f32[1];
      f64[2] = f64[1];
    }
    for (int i = 1; i < 3; ++i) {
      table_f32[i] = {f32[i].mc, f32[i].kc, f32[i].nc};
      table_f64[i] = {f64[i].mc, f64[i].kc, f64[i].nc};
    }
    apply(blocks_spec);
#else
    variant = v;
#endif
  }

  void apply(const std::string& spec) {
    blocks_spec = spec;
    bool use_model = false;
    GemmBlocks given;
    const bool any = spec != "table" && parse_blocks_override(spec, &use_model, &given);
    for (int i = 0; i < 3; ++i) {
      if (!any) {
        set(f32[i], table_f32[i]);
        set(f64[i], table_f64[i]);
      } else if (use_model) {
        set(f32[i], model_blocks(cpu_info(), f32[i].mr, f32[i].nr, sizeof(float)));
        set(f64[i], model_blocks(cpu_info(), f64[i].mr, f64[i].nr, sizeof(double)));
      } else {
        set(f32[i], given);
        set(f64[i], given);
      }
    }
    blocks_source = !any ? "table" : use_model ? "model" : "override";
  }
};

ArchTables& tables() {
  static ArchTables t;
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
  return kSimdLevels.from_environment("DELTAPROP_SIMD", cpu_max_simd_level());
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

namespace {
std::atomic<unsigned> config_generation{0};
}

unsigned gemm_config_generation() { return config_generation.load(std::memory_order_relaxed); }

namespace {
std::atomic<int>& loop_order_slot() {
  static std::atomic<int> slot{[] {
    const char* env = std::getenv("DELTAPROP_GEMM_ORDER");
    try {
      return static_cast<int>(env ? parse_gemm_loop_order(env) : GemmLoopOrder::Auto);
    } catch (const std::invalid_argument&) {
      return static_cast<int>(GemmLoopOrder::Auto);  // never fail at import time
    }
  }()};
  return slot;
}
}  // namespace

GemmLoopOrder gemm_loop_order() {
  return static_cast<GemmLoopOrder>(loop_order_slot().load(std::memory_order_relaxed));
}

void set_gemm_loop_order(GemmLoopOrder order) { loop_order_slot().store(static_cast<int>(order)); }

const char* gemm_loop_order_name(GemmLoopOrder order) {
  return order == GemmLoopOrder::Rows ? "rows" : order == GemmLoopOrder::Columns ? "columns" : "auto";
}

GemmLoopOrder parse_gemm_loop_order(const std::string& name) {
  if (name == "auto") return GemmLoopOrder::Auto;
  if (name == "rows") return GemmLoopOrder::Rows;
  if (name == "columns") return GemmLoopOrder::Columns;
  throw std::invalid_argument("GEMM loop order must be one of 'auto', 'rows', 'columns', got '" + name + "'");
}

void set_simd_level(SimdLevel level) {
  kSimdLevels.require_supported(level, cpu_max_simd_level());
  level_slot().store(static_cast<int>(level));
  config_generation.fetch_add(1);
}

const char* simd_level_name(SimdLevel level) { return kSimdLevels.name(level); }

SimdLevel parse_simd_level(const std::string& name) { return kSimdLevels.parse(name); }

void set_gemm_blocks(const std::string& spec) {
  tables().apply(spec.empty() ? "table" : spec);
  config_generation.fetch_add(1);
}

std::string gemm_blocks_source() { return tables().blocks_source; }

GemmVariant cpu_gemm_variant() {
  return cpu_info().vendor == "intel" ? GemmVariant::Intel : GemmVariant::Zen4;
}

GemmVariant active_gemm_variant() { return tables().variant; }

void set_gemm_variant(GemmVariant variant) {
  tables().set_variant(variant);
  config_generation.fetch_add(1);
}

const char* gemm_variant_name(GemmVariant variant) {
  return variant == GemmVariant::Intel ? "intel" : "zen4";
}

GemmVariant parse_gemm_variant(const std::string& name) {
  if (name == "intel") return GemmVariant::Intel;
  if (name == "zen4" || name == "zen3") return GemmVariant::Zen4;
  if (name == "auto") return cpu_gemm_variant();
  throw std::invalid_argument("GEMM variant must be one of 'auto', 'intel', 'zen4', 'zen3', got '" + name +
                              "'");
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
