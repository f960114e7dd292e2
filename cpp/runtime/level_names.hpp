// The names of an ordered enum of levels (instruction-set levels, bf16 levels, GEMM variants),
// index = the enum's value: printing, parsing with a clear error, the names up to a maximum, and
// the check that the CPU has a level before it is selected. One place for what every dispatcher
// says to its user.
#pragma once
#include <array>
#include <cstddef>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace dp {

template <class Level, std::size_t N>
struct LevelNames {
  const char* what;                  // "simd level", "bf16 level", ...
  std::array<const char*, N> names;  // lowest first

  const char* name(Level level) const {
    const auto i = static_cast<std::size_t>(level);
    return i < N ? names[i] : "unknown";
  }

  // throws std::invalid_argument: "<what> must be one of 'a', 'b', got 'x'"
  Level parse(const std::string& text) const {
    std::string choices;
    for (std::size_t i = 0; i < N; ++i) {
      if (text == names[i]) return static_cast<Level>(i);
      choices += (i ? ", '" : "'") + std::string(names[i]) + "'";
    }
    throw std::invalid_argument(std::string(what) + " must be one of " + choices + ", got '" +
                                text + "'");
  }

  std::vector<std::string> up_to(Level best) const {
    std::vector<std::string> out;
    for (std::size_t i = 0; i <= static_cast<std::size_t>(best) && i < N; ++i) out.push_back(names[i]);
    return out;
  }

  // `best`, lowered to the level the environment variable `variable` names, if it names a lower
  // one; an unknown value keeps `best` (never fail at import time).
  Level from_environment(const char* variable, Level best) const {
    const char* forced = std::getenv(variable);
    if (!forced) return best;
    for (std::size_t i = 0; i < N && i < static_cast<std::size_t>(best); ++i)
      if (std::string(forced) == names[i]) return static_cast<Level>(i);
    return best;
  }

  // throws std::invalid_argument where `level` is above what this machine has.
  void require_supported(Level level, Level best) const {
    if (static_cast<int>(level) > static_cast<int>(best))
      throw std::invalid_argument(std::string(what) + " '" + name(level) +
                                  "' is not available on this machine (best: '" + name(best) + "')");
  }
};

}  // namespace dp
