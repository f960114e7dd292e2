// Batch-1 backward through a dense layer fused with its plain SGD step: one pass over W computes
// the delta of the layer below (with the old W) and updates W, where the unfused products read W
// twice (dX = dzᵀ W, then W += -lr dz xᵀ). Threads split the columns of W on the fixed grid of
// the kernel's panels, so every element sees the same operations for any thread count.
#include "dense.hpp"
#include <algorithm>
#include <cmath>
#include "../kernels/activations.hpp"
#include "../runtime/dispatch.hpp"
#include "../runtime/threads.hpp"

namespace dp {

template <class T>
bool dense_backward_sgd_row(T* dX, const T* dz, T* W, const T* x, const T* prev_A, Act prev_act,
                            idx in, idx out, T lr, T l2) {
  const GemmArch<T>& arch = active_gemm_arch<T>();
  if (!arch.row_backward_sgd) return false;
  const idx step = arch.row_nr;
  const idx panels = (in + step - 1) / step;
  const T alpha = -lr, beta = T(1) - lr * l2;
  const int team = static_cast<int>(std::min<idx>(
      threads_for_work(4.0 * double(in) * double(out), arch.policy.streaming_flops_per_thread),
      panels));
  auto run_share = [&](int t) {
    const idx j0 = panels * t / team * step, j1 = std::min(in, panels * (t + 1) / team * step);
    for (idx j = j0; j < j1; j += step) {
      const idx n = std::min(step, j1 - j);
      if (n == step) {
        arch.row_backward_sgd(out, dz, W + j, in, x + j, dX ? dX + j : nullptr, alpha, beta);
      } else {  // the last, partial panel: the same operations, one column at a time
        for (idx c = j; c < j + n; ++c) {
          T acc = T(0);
          for (idx p = 0; p < out; ++p) {
            T& w = W[p * in + c];
            acc = std::fma(dz[p], w, acc);
            w = std::fma(beta, w, alpha * (dz[p] * x[c]));
          }
          if (dX) dX[c] = acc;
        }
      }
      if (dX && prev_A) activation_backward(prev_act, prev_A + j, dX + j, dX + j, n);
    }
  };
  if (team == 1) {
    run_share(0);
  } else {
#pragma omp parallel for num_threads(team) schedule(static, 1)
    for (int t = 0; t < team; ++t) run_share(t);
  }
  return true;
}

template bool dense_backward_sgd_row<float>(float*, const float*, float*, const float*,
                                            const float*, Act, idx, idx, float, float);
template bool dense_backward_sgd_row<double>(double*, const double*, double*, const double*,
                                             const double*, Act, idx, idx, double, double);

}  // namespace dp
