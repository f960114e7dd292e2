// Small-batch backward through a dense layer fused with its plain SGD step: one pass over W
// computes the delta of the layer below (with the old W) and updates W, where the unfused
// products read W twice or three times (dX = dZ W, dW = dZᵀ X, then the update).
//
// Threads own blocks of rows of W, the same rows the forward pass gives them (the dot-product and
// one-row paths of gemm split a layer's outputs the same way), so at small batch each core keeps
// its part of every weight matrix in its own L2 from one step to the next. Each fixed block of
// kRowBlock rows leaves partial deltas; the partials are added in block order. The blocks, not
// the threads, fix the order of the sums: every thread count gives the same bits.
#include "dense.hpp"
#include <algorithm>
#include <cmath>
#include "../kernels/activations.hpp"
#include "../runtime/dispatch.hpp"
#include "../runtime/threads.hpp"

namespace dp {
namespace {

constexpr idx kRowBlock = 64;

// Rows [0, rows) of a block of W over all `in` columns: full panels, then single vectors, then
// the last few columns one at a time with the same operations as the vector kernels.
template <class T>
void block_backward_sgd(const GemmArch<T>& arch, idx rows, idx n, const T* dz, idx out, T* W,
                        idx in, const T* X, T* part, T alpha, T beta) {
  idx j = 0;
  if (n == 1) {  // one row of accumulators in registers
    const idx panel = arch.row_nr, vec = arch.row_nr / 8;
    for (; j + panel <= in; j += panel)
      arch.row_backward_sgd(rows, dz, W + j, in, X + j, part ? part + j : nullptr, alpha, beta);
    for (; j + vec <= in; j += vec)
      arch.row_backward_sgd_vec(rows, dz, W + j, in, X + j, part ? part + j : nullptr, alpha, beta);
  } else {
    const idx panel = arch.row_nr / 2, vec = arch.row_nr / 8;
    for (; j + panel <= in; j += panel)
      arch.rows_backward_sgd(rows, n, dz, out, W + j, in, X + j, in, part ? part + j : nullptr, in,
                             alpha, beta);
    for (; j + vec <= in; j += vec)
      arch.rows_backward_sgd_vec(rows, n, dz, out, W + j, in, X + j, in,
                                 part ? part + j : nullptr, in, alpha, beta);
  }
  for (; j < in; ++j) {
    if (part)
      for (idx i = 0; i < n; ++i) part[i * in + j] = T(0);
    for (idx p = 0; p < rows; ++p) {
      T& w = W[p * in + j];
      T g = T(0);
      for (idx i = 0; i < n; ++i) {
        const T d = dz[i * out + p];
        if (part) part[i * in + j] = std::fma(d, w, part[i * in + j]);
        g = std::fma(d, X[i * in + j], g);
      }
      w = std::fma(beta, w, alpha * g);
    }
  }
}

}  // namespace

template <class T>
bool dense_backward_sgd_fused(T* dX, const T* dZ, T* W, const T* X, const T* prev_A, Act prev_act,
                              idx n, idx in, idx out, T lr, T l2) {
  const GemmArch<T>& arch = active_gemm_arch<T>();
  if (n < 1 || n > std::min(kFusedSgdMaxBatch, arch.policy.fused_sgd_max_batch) || !arch.row_backward_sgd ||
      !arch.rows_backward_sgd)
    return false;
  const T alpha = -lr, beta = T(1) - lr * l2;
  const idx blocks = (out + kRowBlock - 1) / kRowBlock;
  const int team = static_cast<int>(std::min<idx>(
      threads_for_work(4.0 * double(n) * double(in) * double(out),
                       arch.policy.streaming_flops_per_thread),
      blocks));
  thread_local ScratchBuffer<T> partials;
  // Reserved before any thread starts: nothing inside the parallel region can throw.
  // (In a step team, the leader's.)
  T* part = dX ? team_leader([&] { return partials.reserve(std::size_t(blocks * n * in)); }) : nullptr;

  auto update_rows = [&](int t, int team) {
    for (idx b = blocks * t / team; b < blocks * (t + 1) / team; ++b) {
      const idx p0 = b * kRowBlock, rows = std::min(kRowBlock, out - p0);
      block_backward_sgd(arch, rows, n, dZ + p0, out, W + p0 * in, in, X,
                         part ? part + b * n * in : nullptr, alpha, beta);
    }
  };
  auto sum_partials = [&](int t, int team) {  // columns split across threads; blocks added in order
    const idx j0 = in * t / team, j1 = in * (t + 1) / team;
    for (idx i = 0; i < n; ++i) {
      T* d = dX + i * in;
      const T* p = part + i * in;
      for (idx j = j0; j < j1; ++j) d[j] = p[j];
      for (idx b = 1; b < blocks; ++b) {
        const T* pb = p + b * n * in;
#pragma omp simd
        for (idx j = j0; j < j1; ++j) d[j] += pb[j];
      }
      if (prev_A) activation_backward(prev_act, prev_A + i * in + j0, d + j0, d + j0, j1 - j0);
    }
  };

  run_team(team, [&](int t, int size) {
    update_rows(t, size);
    if (dX) {
      team_barrier();
      sum_partials(t, size);
    }
  });
  return true;
}

template bool dense_backward_sgd_fused<float>(float*, const float*, float*, const float*,
                                              const float*, Act, idx, idx, idx, float, float);
template bool dense_backward_sgd_fused<double>(double*, const double*, double*, const double*,
                                               const double*, Act, idx, idx, idx, double, double);

}  // namespace dp
