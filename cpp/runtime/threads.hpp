// The size of the OpenMP team the kernels use. Defaults to OMP_NUM_THREADS or the core count.
#pragma once
#include <algorithm>
#include <atomic>
#include <thread>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace dp {

int get_num_threads();
void set_num_threads(int n);  // n >= 1
bool openmp_enabled();

// Whether a training step runs as one parallel region (run_step_team) rather than a region per
// product: off by default, DELTAPROP_STEP_TEAM=1 at import or set_step_team at run time. On a
// 2-vCPU Zen 3 (paired steps, [784,512,512,10]) its barriers cost what the fork/joins did:
// b1 0.975x, b8-b32 1.00x, b128 1.01x, [784,128,10] b64 0.99x.
bool step_team_enabled();
void set_step_team(bool on);

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

// ------------------------------------------------------------- one parallel region per step
// Inside run_step_team every thread of one parallel region runs the same code (a whole training
// step), and the kernels' run_team calls there do not fork: each thread takes its share, and the
// team meets at a barrier after it. Work that is done once (a loss, bias updates) goes through
// team_single, scratch the team shares through team_leader (the leader's thread-local buffers:
// the ones a forked region's caller uses, so a step that ran forked once allocates nothing here).

// A barrier for the first n threads of a step team (the share of a run_team that asked for fewer
// threads than the team has, while the others wait at the team's own barrier).
class SpinBarrier {
 public:
  void wait(int n) {
    const unsigned phase = phase_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == n) {
      arrived_.store(0, std::memory_order_relaxed);
      phase_.store(phase + 1, std::memory_order_release);
      return;
    }
    for (int spins = 0; phase_.load(std::memory_order_acquire) == phase; ++spins) {
      if (spins < 4096) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      } else {
        std::this_thread::yield();  // the other thread may be descheduled (a busy VM)
      }
    }
  }

 private:
  alignas(64) std::atomic<int> arrived_{0};
  alignas(64) std::atomic<unsigned> phase_{0};
};

struct StepTeamShared {
  static constexpr unsigned kSlots = 16;  // reused only after 16 team barriers
  SpinBarrier share_barrier;
  void* slots[kSlots] = {};
};

struct StepTeam {
  int t = 0, size = 0;    // this thread's index and the team's size; size 0: not in a step team
  int share = 0;          // threads of the run_team share this thread is in (0: none)
  unsigned next_slot = 0; // team_leader's next slot (the same sequence on every thread)
  StepTeamShared* shared = nullptr;
};
inline thread_local StepTeam t_step_team;

inline bool in_step_team() { return t_step_team.size > 0; }

// Every thread of the current team waits here for the others: of a run_team share inside a step
// team, the threads of that share; otherwise the OpenMP team's.
inline void team_barrier() {
  StepTeam& s = t_step_team;
  if (s.size > 0 && s.share > 0 && s.share < s.size) return s.shared->share_barrier.wait(s.share);
#pragma omp barrier
}

// Runs body(t, size) on every thread of one parallel region of at most `team` threads, t = 0 ..
// size - 1. size is the team OpenMP actually gave (it may give fewer), so work split by it is all
// done. body may call team_barrier() and must not throw. A team of one runs on the caller.
// Inside a step team: the first min(team, step size) threads run body, then all meet.
template <class Body>
void run_team(int team, Body&& body) {
  StepTeam& s = t_step_team;
  if (s.size > 0) {
    if (s.share > 0) return body(0, 1);  // called from inside a share: on this thread alone
    const int n = std::max(1, std::min(team, s.size));
    if (s.t < n) {
      s.share = n;
      body(s.t, n);
      s.share = 0;
    }
#pragma omp barrier
    return;
  }
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

// Runs body(t) on every thread of one parallel region of `team` threads (one thread: the
// caller), each a member of the step team that the run_team calls inside it share.
template <class Body>
void run_step_team(int team, Body&& body) {
  if (team <= 1 || in_step_team()) return body(t_step_team.t);
  StepTeamShared shared;
  const int caller_cpu = current_cpu();
#pragma omp parallel num_threads(team)
  {
#ifdef _OPENMP
    const int t = omp_get_thread_num();
    if (t != 0) keep_worker_off(t, caller_cpu);
    t_step_team = StepTeam{t, omp_get_num_threads(), 0, 0, &shared};
#else
    const int t = 0;
    t_step_team = StepTeam{0, 1, 0, 0, &shared};
#endif
    body(t);
    t_step_team = StepTeam{};
  }
}

// f() once, on the leader (thread 0) of a step team, the others waiting for it; anywhere else
// simply f().
template <class F>
void team_single(F&& f) {
  if (!in_step_team()) return f();
  if (t_step_team.t == 0) f();
#pragma omp barrier
}

// The pointer f() returns on the leader of a step team, handed to every thread of it (f runs on
// the leader only, so it names the leader's thread-local buffers); anywhere else simply f().
template <class F>
auto team_leader(F&& f) -> decltype(f()) {
  if (!in_step_team()) return f();
  StepTeam& s = t_step_team;
  void*& slot = s.shared->slots[s.next_slot++ % StepTeamShared::kSlots];
  if (s.t == 0) slot = const_cast<void*>(static_cast<const void*>(f()));
#pragma omp barrier
  return static_cast<decltype(f())>(slot);
}

}  // namespace dp
