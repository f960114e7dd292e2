// The size of the OpenMP team the kernels use. Defaults to OMP_NUM_THREADS or the core count.
#pragma once

namespace dp {

int get_num_threads();
void set_num_threads(int n);  // n >= 1
bool openmp_enabled();

// Threads worth using for a product of `flops` floating-point operations: small products stay
// on one thread, where a fork/join would cost more than it saves.
int threads_for_work(double flops);

}  // namespace dp
