// The size of the OpenMP team the kernels use. Defaults to OMP_NUM_THREADS or the core count.
#pragma once

namespace dp {

int get_num_threads();
void set_num_threads(int n);  // n >= 1
bool openmp_enabled();

// Threads worth using for a product of `flops` floating-point operations: small products stay
// on one thread, where a fork/join (and, on a busy machine, waiting for a descheduled worker)
// would cost more than it saves. Memory-bound work (GEMV) pays off at a lower size.
constexpr double kComputeFlopsPerThread = 1.0e6;
constexpr double kStreamingFlopsPerThread = 2.5e5;
int threads_for_work(double flops, double flops_per_thread = kComputeFlopsPerThread);

}  // namespace dp
