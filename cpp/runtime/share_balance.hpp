// Shares of a parallel product sized to how fast each thread of the team has been running.
// The cores a process gets are not always equal: a hybrid CPU's efficiency cores, or the vCPUs of
// a shared cloud host (one vCPU of a 2-vCPU Sapphire Rapids guest measured 25% slower than the
// other on a pure FMA loop, which capped an even split's 1 -> 2 thread speed-up at 1.5x). Each
// thread's rate (work units per second, smoothed over calls) sets its share of the next product.
// Only how many whole tiles each thread gets changes, never how a tile is computed, so results
// stay bitwise the same whatever the shares.
#pragma once
#include "../common/base.hpp"

namespace dp {

inline constexpr int kBalancedTeamMax = 16;  // larger teams split evenly

// bounds[0..team]: thread t takes units [bounds[t], bounds[t+1]) of `units`; each thread gets at
// least one unit while there are enough.
void balanced_shares(int team, idx units, idx* bounds);

// After a product: thread t did units[t] units in seconds[t]; fold the team's rates into the
// running estimate (called by the caller once the team has joined).
void record_share_times(int team, const idx* units, const double* seconds);

// Forget what was measured (tests; a changed thread setting).
void reset_share_balance();

}  // namespace dp
