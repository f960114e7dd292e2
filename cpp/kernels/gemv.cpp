// Row-major GEMV. No transpose: one dot product per row, rows split across threads.
// Transposed: y += x[i] * A[i, :] row after row, columns split across threads. Each y element is
// owned by one thread and summed in a fixed order: results do not depend on the thread count.
#include "gemv.hpp"
#include <algorithm>
#include "threads.hpp"

namespace dp {
namespace {

template <class T>
T dot(const T* a, const T* b, idx n) {
  // Eight partial sums break the dependency chain so the loop runs at load speed.
  T s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  idx i = 0;
  for (; i + 8 <= n; i += 8)
    for (int u = 0; u < 8; ++u) s[u] += a[i + u] * b[i + u];
  T tail = 0;
  for (; i < n; ++i) tail += a[i] * b[i];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + tail;
}

template <class T>
T scaled(T alpha, T value, T beta, T old) {
  return beta == T(0) ? alpha * value : alpha * value + beta * old;
}

}  // namespace

template <class T>
void gemv(bool trans, idx rows, idx cols, T alpha, const T* A, idx lda, const T* x, T beta, T* y) {
  const int team = threads_for_work(2.0 * double(rows) * double(cols));
  if (!trans) {
#pragma omp parallel for num_threads(team) schedule(static) if (team > 1)
    for (idx i = 0; i < rows; ++i) y[i] = scaled(alpha, dot(A + i * lda, x, cols), beta, y[i]);
    return;
  }
  // y (cols) = Aᵀ x: split the columns into one contiguous chunk per thread, 16-aligned.
  const idx chunk = ((cols + team - 1) / team + 15) / 16 * 16;
#pragma omp parallel for num_threads(team) schedule(static) if (team > 1)
  for (int t = 0; t < team; ++t) {
    const idx j0 = std::min(cols, t * chunk), j1 = std::min(cols, j0 + chunk);
    constexpr idx kBlock = 256;  // accumulate a block of y in registers/L1, then write it once
    T acc[kBlock];
    for (idx jb = j0; jb < j1; jb += kBlock) {
      const idx w = std::min(kBlock, j1 - jb);
      for (idx j = 0; j < w; ++j) acc[j] = 0;
      for (idx i = 0; i < rows; ++i) {
        const T xi = x[i];
        const T* row = A + i * lda + jb;
#pragma omp simd
        for (idx j = 0; j < w; ++j) acc[j] += xi * row[j];
      }
      for (idx j = 0; j < w; ++j) y[jb + j] = scaled(alpha, acc[j], beta, y[jb + j]);
    }
  }
}

template void gemv<float>(bool, idx, idx, float, const float*, idx, const float*, float, float*);
template void gemv<double>(bool, idx, idx, double, const double*, idx, const double*, double,
                           double*);

}  // namespace dp
