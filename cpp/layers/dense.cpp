#include "dense.hpp"
#include "../kernels/activations.hpp"
#include "../kernels/gemm/gemm.hpp"
#include "../runtime/dispatch.hpp"
#include <type_traits>

namespace dp {

template <class T>
void dense_forward(T* A, T* Z, const T* X, const T* W, const T* b, idx n, idx in, idx out,
                   Act act) {
  // One sample runs as a GEMV inside gemm (gemm_row), its epilogue on each thread's columns.
  GemmEpilogue<T> ep;
  ep.bias = b;
  ep.act = act;
  ep.z_out = Z;
  ep.ld_z = out;
  gemm(false, true, n, out, in, T(1), X, in, W, in, T(0), A, out, &ep);
}

template <class T>
void dense_backward_input(T* dX, const T* dZ, const T* W, const T* prev_A, Act prev_act, idx n,
                          idx in, idx out) {
  GemmEpilogue<T> ep;
  ep.slope_of = prev_A;
  ep.ld_slope = in;
  ep.slope_act = prev_act;
  gemm(false, false, n, in, out, T(1), dZ, out, W, in, T(0), dX, in, prev_A ? &ep : nullptr);
}

template <class T>
void dense_backward_weights(T* dW, const T* dZ, const T* X, idx n, idx in, idx out, T alpha,
                            T beta) {
  gemm(true, false, out, in, n, alpha, dZ, out, X, in, beta, dW, in);
}

template <class T>
void column_sums(T* db, const T* dZ, idx n, idx out) {
  if constexpr (std::is_same_v<T, float>) active_vmath().column_sums_f32(db, dZ, n, out);
  else active_vmath().column_sums_f64(db, dZ, n, out);
}

#define DP_INSTANTIATE_DENSE(T)                                                                \
  template void dense_forward<T>(T*, T*, const T*, const T*, const T*, idx, idx, idx, Act);    \
  template void dense_backward_input<T>(T*, const T*, const T*, const T*, Act, idx, idx, idx); \
  template void dense_backward_weights<T>(T*, const T*, const T*, idx, idx, idx, T, T);        \
  template void column_sums<T>(T*, const T*, idx, idx);
DP_INSTANTIATE_DENSE(float)
DP_INSTANTIATE_DENSE(double)

}  // namespace dp
