// bfloat16: the upper half of an IEEE float32 (8 exponent bits, 8 significant bits). Stored as
// raw 16-bit words; the conversion is the one VCVTNEPS2BF16 performs, so every instruction-set
// level rounds a value to the same bf16: round to nearest even, NaN kept quiet, float32
// subnormals to a zero of the same sign (the bf16 dot-product instructions read subnormals as
// zero anyway).
#pragma once
#include <cstdint>
#include <cstring>

namespace dp {

using bf16 = std::uint16_t;

inline bf16 bf16_from_float(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  const std::uint32_t magnitude = u & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return bf16((u >> 16) | 0x40u);   // NaN: quiet, payload truncated
  if (magnitude < 0x00800000u) return bf16((u >> 16) & 0x8000u);  // zero or subnormal: signed zero
  u += 0x7fffu + ((u >> 16) & 1u);                                 // ties to even (inf stays inf)
  return bf16(u >> 16);
}

inline float bf16_to_float(bf16 h) {
  const std::uint32_t u = std::uint32_t(h) << 16;
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

}  // namespace dp
