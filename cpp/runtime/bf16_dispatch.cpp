// The bf16 level: detected once (CPU flags, the OS's tile-state permission for AMX), lowered by
// DELTAPROP_BF16 or set_bf16_level, and capped to the portable code when the SIMD level in use is
// below avx512 (a user who lowered DELTAPROP_SIMD asked for no AVX-512 instructions at all).
#include "bf16_dispatch.hpp"
#include "level_names.hpp"
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include "blocking.hpp"
#include "cpu_info.hpp"
#include "dispatch.hpp"
#if defined(__linux__) && defined(DELTAPROP_AMX_KERNELS)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

namespace dp {
namespace {

constexpr LevelNames<Bf16Level, 3> kBf16Levels{"bf16 level", {"generic", "avx512bf16", "amx"}};

constexpr int kLevels = 3;

struct Bf16Tables {
  GemmBf16Arch arch[kLevels];
  GemmBf16Arch table[kLevels];  // each level's own blocks, for "table"
  Bf16Tables() {
    fill_bf16_arch_generic(arch[0]);
    arch[1] = arch[2] = arch[0];
    // As for the GEMM tables: a level's fill runs only where the CPU (and OS) have the level.
    [[maybe_unused]] const int best = static_cast<int>(cpu_max_bf16_level());
#ifdef DELTAPROP_BF16_KERNELS
    if (best >= static_cast<int>(Bf16Level::Avx512Bf16)) {
      fill_bf16_arch_avx512bf16(arch[1]);
      arch[2] = arch[1];
    }
#endif
#ifdef DELTAPROP_AMX_KERNELS
    if (best >= static_cast<int>(Bf16Level::Amx)) fill_bf16_arch_amx(arch[2]);
#endif
    for (int i = 0; i < kLevels; ++i) table[i] = arch[i];
  }
};

Bf16Tables& tables() {
  static Bf16Tables t;
  return t;
}

std::string& amx_reason() {
  static std::string reason;
  return reason;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// XCR0: which register states the OS saves on a context switch.
unsigned long long xcr0() {
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}
#endif

// AMX needs AMX-TILE and AMX-BF16, the OS saving the tile state (XCR0 bits 17-18) and, on Linux,
// this process's permission to use it (arch_prctl ARCH_REQ_XCOMP_PERM, once per process).
bool amx_usable() {
#if defined(DELTAPROP_AMX_KERNELS) && defined(__x86_64__)
  unsigned r[4];
  if (!__get_cpuid_count(7, 0, &r[0], &r[1], &r[2], &r[3])) return false;
  const bool tile = (r[3] >> 24) & 1, bf16 = (r[3] >> 22) & 1;
  if (!tile || !bf16) return false;
  if (!__get_cpuid(1, &r[0], &r[1], &r[2], &r[3]) || !((r[2] >> 27) & 1)) {  // OSXSAVE
    amx_reason() = "the OS does not enable XSAVE";
    return false;
  }
  if ((xcr0() & (3ull << 17)) != (3ull << 17)) {
    amx_reason() = "the OS does not enable the AMX tile state (XCR0)";
    return false;
  }
#if defined(__linux__)
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) {
    amx_reason() = "the kernel refused the AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM)";
    return false;
  }
#endif
  return true;
#else
  return false;
#endif
}

Bf16Level detect() {
  const CpuInfo& cpu = cpu_info();
#ifdef DELTAPROP_AMX_KERNELS
  if (cpu.avx512 && cpu.avx512_bf16 && amx_usable()) return Bf16Level::Amx;
#endif
#ifdef DELTAPROP_BF16_KERNELS
  if (cpu.avx512 && cpu.avx512_bf16) return Bf16Level::Avx512Bf16;
#endif
  (void)cpu;
  return Bf16Level::Generic;
}

Bf16Level initial_level() {
  return kBf16Levels.from_environment("DELTAPROP_BF16", cpu_max_bf16_level());
}

std::atomic<int>& level_slot() {
  static std::atomic<int> slot{static_cast<int>(initial_level())};
  return slot;
}

}  // namespace

Bf16Level cpu_max_bf16_level() {
  static const Bf16Level level = detect();
  return level;
}

Bf16Level active_bf16_level() {
  const auto chosen = static_cast<Bf16Level>(level_slot().load());
  return static_cast<int>(active_simd_level()) < static_cast<int>(SimdLevel::Avx512)
             ? Bf16Level::Generic
             : chosen;
}

void set_bf16_level(Bf16Level level) {
  kBf16Levels.require_supported(level, cpu_max_bf16_level());
  level_slot().store(static_cast<int>(level));
}

const char* bf16_level_name(Bf16Level level) { return kBf16Levels.name(level); }

Bf16Level parse_bf16_level(const std::string& name) { return kBf16Levels.parse(name); }

std::vector<std::string> supported_bf16_levels() { return kBf16Levels.up_to(cpu_max_bf16_level()); }

std::string amx_unavailable_reason() {
  cpu_max_bf16_level();  // detection fills the reason
  return amx_reason();
}

const GemmBf16Arch& active_bf16_arch() {
  return tables().arch[static_cast<int>(active_bf16_level())];
}

void set_bf16_gemm_blocks(const std::string& spec) {
  Bf16Tables& t = tables();
  if (spec.empty() || spec == "table") {
    for (int i = 0; i < kLevels; ++i) t.arch[i] = t.table[i];
    return;
  }
  bool use_model = false;
  GemmBlocks b;
  try {
    parse_blocks_override(spec, &use_model, &b);
  } catch (const std::invalid_argument&) {
    use_model = true;  // reported below with this function's own message
  }
  if (use_model)
    throw std::invalid_argument("expected 'table' or 'MC,KC,NC' (integers >= 1), got '" + spec + "'");
  for (int i = 0; i < kLevels; ++i) {
    GemmBf16Arch& a = t.arch[i];
    a.mc = std::max<idx>(a.mr, (b.mc + a.mr - 1) / a.mr * a.mr);
    a.kc = std::max<idx>(a.kg, (b.kc + a.kg - 1) / a.kg * a.kg);
    a.nc = std::max<idx>(a.nr, (b.nc + a.nr - 1) / a.nr * a.nr);
  }
}

}  // namespace dp
