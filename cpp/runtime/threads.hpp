// The size of the OpenMP team the kernels use. Defaults to OMP_NUM_THREADS or the core count.
#pragma once

namespace dp {

int get_num_threads();
void set_num_threads(int n);  // n >= 1
bool openmp_enabled();

// Threads worth using for `flops` floating-point operations when each extra thread needs
// `flops_per_thread` to pay for its fork/join (the GEMM context's policy says how many): at
// least 1, at most get_num_threads().
int threads_for_work(double flops, double flops_per_thread);

}  // namespace dp
