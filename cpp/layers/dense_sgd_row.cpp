// Batch-1 backward through a dense layer fused with its plain SGD step: one pass over W computes
// the delta of the layer below (with the old W) and updates W, where the unfused products read W
// twice (dX = dzᵀ W, then W += -lr dz xᵀ).
//
// Threads own blocks of rows of W, the same rows the forward pass gives them (gemm_row splits the
// outputs of a layer the same way), so at small batch each core keeps its part of every weight
// matrix in its own L2 from one step to the next. Each fixed block of kRowBlock rows leaves a
// partial dX; the partials are added in block order. The blocks, not the threads, fix the order of
// the sums: every thread count gives the same bits.
#include "dense.hpp"
#include <algorithm>
#include <cmath>
#include "../kernels/activations.hpp"
#include "../runtime/dispatch.hpp"
#include "../runtime/threads.hpp"
#ifdef _OPENMP
#include <omp.h>
#endif

namespace dp {
namespace {

constexpr idx kRowBlock = 64;

// Rows [p0, p0 + rows) of W over all `in` columns: full panels, then single vectors, then the
// last few columns one at a time (the same operations as the vector kernel).
template <class T>
void block_backward_sgd(const GemmArch<T>& arch, idx rows, const T* dz, T* W, idx in, const T* x,
                        T* part, T alpha, T beta) {
  const idx panel = arch.row_nr, vec = arch.row_nr / 8;
  idx j = 0;
  for (; j + panel <= in; j += panel)
    arch.row_backward_sgd(rows, dz, W + j, in, x + j, part ? part + j : nullptr, alpha, beta);
  for (; j + vec <= in; j += vec)
    arch.row_backward_sgd_vec(rows, dz, W + j, in, x + j, part ? part + j : nullptr, alpha, beta);
  for (; j < in; ++j) {
    T acc = T(0);
    for (idx p = 0; p < rows; ++p) {
      T& w = W[p * in + j];
      acc = std::fma(dz[p], w, acc);
      w = std::fma(beta, w, alpha * (dz[p] * x[j]));
    }
    if (part) part[j] = acc;
  }
}

}  // namespace

template <class T>
bool dense_backward_sgd_row(T* dX, const T* dz, T* W, const T* x, const T* prev_A, Act prev_act,
                            idx in, idx out, T lr, T l2) {
  const GemmArch<T>& arch = active_gemm_arch<T>();
  if (!arch.row_backward_sgd || !arch.row_backward_sgd_vec) return false;
  const T alpha = -lr, beta = T(1) - lr * l2;
  const idx blocks = (out + kRowBlock - 1) / kRowBlock;
  const int team = static_cast<int>(std::min<idx>(
      threads_for_work(4.0 * double(in) * double(out), arch.policy.streaming_flops_per_thread),
      blocks));
  thread_local ScratchBuffer<T> partials;
  T* part = dX ? partials.reserve(std::size_t(blocks * in)) : nullptr;  // before any thread starts

  auto update_rows = [&](int t) {
    for (idx b = blocks * t / team; b < blocks * (t + 1) / team; ++b) {
      const idx p0 = b * kRowBlock, rows = std::min(kRowBlock, out - p0);
      block_backward_sgd(arch, rows, dz + p0, W + p0 * in, in, x, part ? part + b * in : nullptr,
                         alpha, beta);
    }
  };
  auto sum_partials = [&](int t) {  // columns split across threads; blocks added in order
    const idx j0 = in * t / team, j1 = in * (t + 1) / team;
    for (idx j = j0; j < j1; ++j) dX[j] = part[j];
    for (idx b = 1; b < blocks; ++b) {
      const T* pb = part + b * in;
#pragma omp simd
      for (idx j = j0; j < j1; ++j) dX[j] += pb[j];
    }
    if (prev_A) activation_backward(prev_act, prev_A + j0, dX + j0, dX + j0, j1 - j0);
  };

  if (team == 1) {
    update_rows(0);
    if (dX) sum_partials(0);
    return true;
  }
#pragma omp parallel num_threads(team)
  {
#ifdef _OPENMP
    const int t = omp_get_thread_num();
#else
    const int t = 0;
#endif
    update_rows(t);
    if (dX) {
#pragma omp barrier
      sum_partials(t);
    }
  }
  return true;
}

template bool dense_backward_sgd_row<float>(float*, const float*, float*, const float*,
                                            const float*, Act, idx, idx, float, float);
template bool dense_backward_sgd_row<double>(double*, const double*, double*, const double*,
                                             const double*, Act, idx, idx, double, double);

}  // namespace dp
