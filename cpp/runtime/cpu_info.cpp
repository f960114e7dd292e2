#include "cpu_info.hpp"
#include <cstring>
#include <fstream>
#include <string>
#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define DP_HAVE_CPUID 1
#endif

namespace dp {
namespace {

#ifdef DP_HAVE_CPUID
bool cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
  return __get_cpuid_count(leaf, sub, &r[0], &r[1], &r[2], &r[3]) != 0;
}

std::string vendor_of() {
  unsigned r[4];
  if (!cpuid(0, 0, r)) return "other";
  char v[13];
  std::memcpy(v, &r[1], 4);
  std::memcpy(v + 4, &r[3], 4);
  std::memcpy(v + 8, &r[2], 4);
  v[12] = 0;
  if (std::strcmp(v, "GenuineIntel") == 0) return "intel";
  if (std::strcmp(v, "AuthenticAMD") == 0) return "amd";
  return "other";
}

std::string brand() {
  unsigned r[4];
  if (!cpuid(0x80000000u, 0, r) || r[0] < 0x80000004u) return "";
  char text[49] = {0};
  for (unsigned i = 0; i < 3; ++i) {
    cpuid(0x80000002u + i, 0, r);
    std::memcpy(text + 16 * i, r, 16);
  }
  std::string s(text);
  const auto first = s.find_first_not_of(' ');
  const auto last = s.find_last_not_of(' ');
  return first == std::string::npos ? "" : s.substr(first, last - first + 1);
}

// Deterministic cache parameters: Intel leaf 4, AMD leaf 0x8000001D (same register layout).
bool caches_from_cpuid(const std::string& vendor, CpuInfo& info) {
  const unsigned leaf = vendor == "amd" ? 0x8000001Du : 4u;
  unsigned r[4];
  if (vendor == "amd" && (!cpuid(0x80000000u, 0, r) || r[0] < 0x8000001Du)) return false;
  bool any = false;
  for (unsigned sub = 0; sub < 16; ++sub) {
    if (!cpuid(leaf, sub, r)) break;
    const unsigned type = r[0] & 0x1f;
    if (type == 0) break;
    const unsigned level = (r[0] >> 5) & 0x7;
    CacheLevel c;
    c.ways = int(((r[1] >> 22) & 0x3ff) + 1);
    const long partitions = long(((r[1] >> 12) & 0x3ff) + 1);
    c.line = int((r[1] & 0xfff) + 1);
    c.sets = int(r[2] + 1);
    c.size = long(c.ways) * partitions * c.line * c.sets;
    c.shared_by = int(((r[0] >> 14) & 0xfff) + 1);
    if (level == 1 && type == 1) info.l1d = c, any = true;          // data cache
    else if (level == 2 && type != 2) info.l2 = c, any = true;      // not an instruction cache
    else if (level == 3 && type != 2) info.l3 = c, any = true;
  }
  return any;
}

void features(CpuInfo& info) {
  unsigned r[4];
  if (cpuid(7, 0, r)) {
    info.avx512 = (r[1] >> 16) & 1;   // EBX bit 16: AVX512F
    info.amx_bf16 = (r[3] >> 22) & 1; // EDX bit 22: AMX-BF16
  }
  if (cpuid(7, 1, r)) info.avx512_bf16 = (r[0] >> 5) & 1;  // EAX bit 5: AVX512_BF16
  // AVX-512 needs the OS to save the ZMM state too (XCR0 bits 5-7), or it is not usable.
  if (info.avx512 && !__builtin_cpu_supports("avx512f")) info.avx512 = false;
}
#endif

long read_long(const std::string& path, long otherwise) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text.empty()) return otherwise;
  long value = std::strtol(text.c_str(), nullptr, 10);
  const char unit = text.back();
  if (unit == 'K') value <<= 10;
  if (unit == 'M') value <<= 20;
  return value;
}

void caches_from_sysfs(CpuInfo& info) {
  for (int i = 0; i < 8; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    const long level = read_long(dir + "level", -1);
    if (level < 0) break;
    std::ifstream type_file(dir + "type");
    std::string type;
    type_file >> type;
    if (type == "Instruction") continue;
    CacheLevel c;
    c.size = read_long(dir + "size", 0);
    c.ways = int(read_long(dir + "ways_of_associativity", 0));
    c.sets = int(read_long(dir + "number_of_sets", 0));
    c.line = int(read_long(dir + "coherency_line_size", 64));
    if (level == 1) info.l1d = c;
    if (level == 2) info.l2 = c;
    if (level == 3) info.l3 = c;
  }
}

CpuInfo detect() {
  CpuInfo info;
  info.vendor = "other";
#ifdef DP_HAVE_CPUID
  info.vendor = vendor_of();
  info.model = brand();
  features(info);
  if (!caches_from_cpuid(info.vendor, info)) caches_from_sysfs(info);
#else
  caches_from_sysfs(info);
#endif
  if (info.l1d.size == 0) info.l1d = {32 << 10, 8, 64, 64, 1};  // a common core, when nothing says
  if (info.l2.size == 0) info.l2 = {1 << 20, 16, 1024, 64, 1};
  if (info.avx512) info.fma512_units = info.vendor == "intel" ? 2 : 1;
  info.uarch = info.vendor + (info.avx512 ? "-avx512" : "-x86");
  return info;
}

}  // namespace

const CpuInfo& cpu_info() {
  static const CpuInfo info = detect();
  return info;
}

}  // namespace dp
