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

// Keeps an OpenMP worker (t >= 1) of a team off the CPU its caller runs on (caller_cpu, -1 if
// unknown): a worker found there is pinned to another CPU this process may use, the t-th of
// them; pinned, it moves again only if the caller moves onto its CPU. The caller's own thread is
// never pinned. Left alone, Linux's wake-up placement can put a worker on the CPU of the thread
// that woke it: on a 2-vCPU VM (AMD EPYC) both then shared one vCPU for seconds, and a 2-thread
// product ran 4x slower than alone (110 -> 28 GFLOP/s). Off with DELTAPROP_PIN_THREADS=0, or when
// OMP_PROC_BIND, OMP_PLACES or GOMP_CPU_AFFINITY place the threads.
int pin_worker_off(int t, int caller_cpu);  // the CPU pinned to, or -1: leave this thread alone
bool worker_pinning_enabled();               // what the environment says (read at each call)
int current_cpu();                           // the calling thread's CPU, -1 if unknown
inline void keep_worker_off(int t, int caller_cpu) {
  thread_local int pinned = -2;  // -2: not yet decided, -1: never pinned
  if (pinned == -1 || (pinned >= 0 && pinned != caller_cpu)) return;
  pinned = pin_worker_off(t, caller_cpu);
}

// Runs body(t, size) on every thread of one parallel region of at most `team` threads, t = 0 ..
// size - 1. size is the team OpenMP actually gave (it may give fewer), so work split by it is all
// done. body may call team_barrier() and must not throw. A team of one runs on the caller.
template <class Body>
void run_team(int team, Body&& body) {
  if (team <= 1) return body(0, 1);
  const int caller_cpu = current_cpu();
#pragma omp parallel num_threads(team)
  {
#ifdef _OPENMP
    if (omp_get_thread_num() != 0) keep_worker_off(omp_get_thread_num(), caller_cpu);
    body(omp_get_thread_num(), omp_get_num_threads());
#else
    body(0, 1);
#endif
  }
}

// for (t = 0; t < count; ++t) body(t) with the indices shared out in contiguous ranges over one
// run_team team of at most `team` threads (OpenMP's schedule(static)).
template <class Body>
void parallel_for(int team, long count, Body&& body) {
  run_team(team, [&](int t, int size) {
    for (long i = count * t / size; i < count * (t + 1) / size; ++i) body(i);
  });
}

// Every thread of the current run_team team waits here for the others.
inline void team_barrier() {
#pragma omp barrier
}

}  // namespace dp
