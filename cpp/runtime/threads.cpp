#include "threads.hpp"
#include <algorithm>
#include <atomic>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <pthread.h>
#include <sched.h>
#include <cstdlib>
#include <vector>

namespace dp {
namespace {

// What one more thread's share costs inside a step team, relative to a fork/join.
constexpr double kStepTeamShareCost = 0.25;

std::atomic<int>& thread_slot() {
#ifdef _OPENMP
  static std::atomic<int> slot{std::max(1, omp_get_max_threads())};
#else
  static std::atomic<int> slot{1};
#endif
  return slot;
}

// libgomp's thread pool does not survive fork() (GCC bug 60035): a child that enters a parallel
// region after its parent used OpenMP waits forever for threads that were not copied. A forked
// child therefore runs the kernels on its calling thread only.
std::atomic<bool> in_forked_child{false};
void mark_forked_child() { in_forked_child.store(true, std::memory_order_relaxed); }
[[maybe_unused]] const bool fork_handler_registered =
    pthread_atfork(nullptr, nullptr, mark_forked_child) == 0;

// The CPUs workers are pinned to, in order (empty: do not pin). Read on the first worker's first
// region: its mask is the one the process had when the pool was made.
std::vector<int> pinning_plan() {
  std::vector<int> cpus;
  if (!worker_pinning_enabled()) return cpus;
#ifdef __linux__
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
#endif
  return cpus;
}

}  // namespace

bool worker_pinning_enabled() {
#ifdef __linux__
  const char* own = std::getenv("DELTAPROP_PIN_THREADS");
  return !((own && own[0] == '0') || std::getenv("OMP_PROC_BIND") || std::getenv("OMP_PLACES") ||
           std::getenv("GOMP_CPU_AFFINITY"));
#else
  return false;
#endif
}

int current_cpu() {
#ifdef __linux__
  return sched_getcpu();
#else
  return -1;
#endif
}

int pin_worker_off(int t, int caller_cpu) {
#ifdef __linux__
  static const std::vector<int> cpus = pinning_plan();
  // More workers than CPUs: the scheduler shares them out better than a fixed plan.
  const int n = static_cast<int>(cpus.size());
  if (t < 1 || t >= n) return -1;
  // The t-th CPU counting from the one after the caller's: never the caller's own.
  int at = 0;
  while (at < n && cpus[std::size_t(at)] != caller_cpu) ++at;
  const int cpu = cpus[std::size_t((at < n ? at + t : t) % n)];
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0 ? cpu : -1;
#else
  (void)t;
  (void)caller_cpu;
  return -1;
#endif
}

// One process-wide setting (not OpenMP's per-thread ICV), so it holds for calls made from any
// Python thread. It is capped by the calling thread's OpenMP limit, so that a limit set through
// omp_set_num_threads (threadpoolctl, a host library) is honoured too.
int get_num_threads() {
  if (in_forked_child.load(std::memory_order_relaxed)) return 1;
  // Inside a step team every thread must size its shares alike: by the team.
  if (in_step_team()) return t_step_team.size;
  int own = thread_slot().load(std::memory_order_relaxed);
#ifdef _OPENMP
  return std::max(1, std::min(own, omp_get_max_threads()));
#else
  return own;
#endif
}

// Also sets the calling thread's OpenMP limit: a later cap by that limit starts from n, and
// threadpoolctl reports what the kernels use.
void set_num_threads(int n) {
  int threads = openmp_enabled() ? std::max(1, n) : 1;
  thread_slot().store(threads);
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
}

namespace {
std::atomic<bool>& step_team_slot() {
  static std::atomic<bool> on{[] {
    const char* env = std::getenv("DELTAPROP_STEP_TEAM");
    return env && env[0] == '1';
  }()};
  return on;
}
}  // namespace

bool step_team_enabled() { return step_team_slot().load(std::memory_order_relaxed); }
void set_step_team(bool on) { step_team_slot().store(on, std::memory_order_relaxed); }

bool openmp_enabled() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

int threads_for_work(double flops, double flops_per_thread) {
  // In a step team the threads are already running: a share costs a barrier, not a fork/join.
  if (in_step_team()) flops_per_thread *= kStepTeamShareCost;
  int useful = static_cast<int>(flops / flops_per_thread);
  return std::max(1, std::min(get_num_threads(), useful));
}

}  // namespace dp
