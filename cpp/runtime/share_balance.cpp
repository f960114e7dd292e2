#include "share_balance.hpp"
#include <algorithm>
#include <atomic>

namespace dp {
namespace {

// Relative speed per thread number, in 1/1024ths of the fastest thread's (fixed point, so a plain
// atomic holds it); 1024 = the default. Races between concurrent products only blur the
// estimate, never the results.
std::atomic<int> speed[kBalancedTeamMax];
std::atomic<bool> initialised{false};

void ensure_initialised() {
  if (initialised.load(std::memory_order_acquire)) return;
  for (auto& s : speed) s.store(1024, std::memory_order_relaxed);
  initialised.store(true, std::memory_order_release);
}

}  // namespace

void balanced_shares(int team, idx units, idx* bounds) {
  ensure_initialised();
  bounds[0] = 0;
  if (team > kBalancedTeamMax || units < 2 * team) {
    for (int t = 1; t <= team; ++t) bounds[t] = units * t / team;
    return;
  }
  double total = 0;
  for (int t = 0; t < team; ++t) total += speed[t].load(std::memory_order_relaxed);
  double cumulative = 0;
  for (int t = 1; t < team; ++t) {
    cumulative += speed[t - 1].load(std::memory_order_relaxed);
    const idx b = static_cast<idx>(double(units) * cumulative / total + 0.5);
    bounds[t] = std::clamp<idx>(b, bounds[t - 1] + 1, units - (team - t));
  }
  bounds[team] = units;
}

void record_share_times(int team, const idx* units, const double* seconds) {
  if (team < 2 || team > kBalancedTeamMax) return;
  double rates[kBalancedTeamMax], fastest = 0;
  for (int t = 0; t < team; ++t) {
    if (units[t] < 1 || seconds[t] < 2e-5) return;  // too short to time: keep the estimate
    rates[t] = double(units[t]) / seconds[t];
    fastest = std::max(fastest, rates[t]);
  }
  ensure_initialised();
  for (int t = 0; t < team; ++t) {  // smoothed: one noisy product moves a share by a quarter
    const int measured = static_cast<int>(1024.0 * rates[t] / fastest);
    const int old = speed[t].load(std::memory_order_relaxed);
    speed[t].store(std::clamp((3 * old + measured) / 4, 128, 1024), std::memory_order_relaxed);
  }
}

void reset_share_balance() {
  initialised.store(false, std::memory_order_release);
  ensure_initialised();
}

}  // namespace dp
