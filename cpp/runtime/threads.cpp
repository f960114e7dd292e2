#include "threads.hpp"
#include <algorithm>
#include <atomic>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <pthread.h>

namespace dp {
namespace {

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

}  // namespace

// One process-wide setting (not OpenMP's per-thread ICV), so it holds for calls made from any
// Python thread. It is capped by the calling thread's OpenMP limit, so that a limit set through
// omp_set_num_threads (threadpoolctl, a host library) is honoured too.
int get_num_threads() {
  if (in_forked_child.load(std::memory_order_relaxed)) return 1;
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

bool openmp_enabled() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

int threads_for_work(double flops, double flops_per_thread) {
  int useful = static_cast<int>(flops / flops_per_thread);
  return std::max(1, std::min(get_num_threads(), useful));
}

}  // namespace dp
