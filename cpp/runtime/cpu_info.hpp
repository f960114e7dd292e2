// What the CPU is, read at run time: vendor, model name, the caches of one core (CPUID leaf 4 on
// Intel, 0x8000001D on AMD; /sys/devices/system/cpu as the fallback), the instruction-set
// extensions the kernels care about, and the number of 512-bit FMA pipes where it can be told.
// Block sizes are derived from these facts (runtime/blocking.hpp), not from one machine's tuning.
#pragma once
#include <string>

namespace dp {

struct CacheLevel {
  long size = 0;  // bytes (0: unknown)
  int ways = 0, sets = 0, line = 64;
  int shared_by = 1;  // logical CPUs sharing it
};

struct CpuInfo {
  std::string vendor;  // "intel", "amd" or "other"
  std::string model;   // the brand string, e.g. "Intel(R) Xeon(R) Platinum 8480+"
  CacheLevel l1d, l2, l3;
  bool avx512 = false, avx512_bf16 = false, amx_bf16 = false;
  // 512-bit FMA pipes per core: 2 on Intel server cores with AVX-512 (1 on some low-end SKUs,
  // which CPUID does not tell), 1 on AMD Zen 4 (512-bit work on 256-bit units), 0 without AVX-512.
  int fma512_units = 0;
  std::string uarch;   // the dispatcher's name for it: "intel-avx512", "amd-avx512", "x86-avx2", ...
};

// Read once, then cached.
const CpuInfo& cpu_info();

}  // namespace dp
