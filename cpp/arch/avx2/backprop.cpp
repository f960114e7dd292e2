// The backpropagation loops (kernels/backprop_loops.hpp) in 256-bit vectors (-mavx2): they run
// on one thread between the products of a step, where the baseline level's 128-bit code shows.
#include "../../kernels/backprop_loops.hpp"
#include "../vmath.hpp"

namespace dp {

void column_sums_avx2_f32(float* db, const float* dZ, idx n, idx out) { column_sums_loop(db, dZ, n, out); }
void column_sums_avx2_f64(double* db, const double* dZ, idx n, idx out) { column_sums_loop(db, dZ, n, out); }
void relu_backward_avx2_f32(const float* A, const float* dA, float* dZ, idx n) { relu_backward_loop(A, dA, dZ, n); }
void relu_backward_avx2_f64(const double* A, const double* dA, double* dZ, idx n) { relu_backward_loop(A, dA, dZ, n); }

}  // namespace dp
