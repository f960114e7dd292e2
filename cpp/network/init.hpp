// Weight initialisation with a small self-contained generator (SplitMix64), so a seed gives the
// same weights on every platform and standard library.
#pragma once
#include <cmath>
#include <cstdint>
#include "../common/base.hpp"

namespace dp {

class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return (next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double normal() {                                         // Box-Muller
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  std::uint64_t state_;
};

// He (normal, std sqrt(2/fan_in)) for the ReLU family; Glorot/Xavier (uniform, limit
// sqrt(6/(fan_in+fan_out))) for sigmoid, tanh and identity.
template <class T>
void init_weights(T* W, idx fan_out, idx fan_in, Act act, SplitMix64& rng) {
  const idx count = fan_out * fan_in;
  if (act == Act::Relu || act == Act::LeakyRelu) {
    const double std_dev = std::sqrt(2.0 / double(fan_in));
    for (idx k = 0; k < count; ++k) W[k] = T(rng.normal() * std_dev);
  } else {
    const double limit = std::sqrt(6.0 / double(fan_in + fan_out));
    for (idx k = 0; k < count; ++k) W[k] = T((2.0 * rng.uniform() - 1.0) * limit);
  }
}

}  // namespace dp
