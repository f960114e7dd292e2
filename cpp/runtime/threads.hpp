// The size of the OpenMP team the kernels use. Defaults to OMP_NUM_THREADS or the core count.
#pragma once
#ifdef _OPENMP
#include <omp.h>
#endif

namespace dp {

int get_num_threads();
void set_num_threads(int n);  // n >= 1
bool openmp_enabled();

// Threads worth using for `flops` floating-point operations when each extra thread needs
// `flops_per_thread` to pay for its fork/join (the GEMM context's policy says how many): at
// least 1, at most get_num_threads().
int threads_for_work(double flops, double flops_per_thread);

// Runs body(t, size) on every thread of one parallel region of at most `team` threads, t = 0 ..
// size - 1. size is the team OpenMP actually gave (it may give fewer), so work split by it is all
// done. body may call team_barrier() and must not throw. A team of one runs on the caller.
template <class Body>
void run_team(int team, Body&& body) {
  if (team <= 1) return body(0, 1);
#pragma omp parallel num_threads(team)
  {
#ifdef _OPENMP
    body(omp_get_thread_num(), omp_get_num_threads());
#else
    body(0, 1);
#endif
  }
}

// Every thread of the current run_team team waits here for the others.
inline void team_barrier() {
#pragma omp barrier
}

}  // namespace dp
