#include "losses.hpp"
#include <cmath>
#include <vector>
#include "../runtime/dispatch.hpp"
#include "activations.hpp"

namespace dp {

namespace {
// Scratch of the softmax passes: (n x c) shifted logits, then their exps; per row the max and the
// log of the sum. Grows to the largest batch seen, per thread, so steady-state steps allocate
// nothing.
struct SoftmaxScratch {
  std::vector<double> e, row_max, log_sum;
};
SoftmaxScratch& softmax_scratch(idx n, idx c) {
  thread_local SoftmaxScratch s;
  if (s.e.size() < std::size_t(n * c)) s.e.resize(std::size_t(n * c));
  if (s.row_max.size() < std::size_t(n)) s.row_max.resize(std::size_t(n)), s.log_sum.resize(std::size_t(n));
  return s;
}
}  // namespace

// Work relative to the row max: logsumexp(z) - z_j = log(sum) + (zmax - z_j). Adding log(sum) to
// zmax first would lose it entirely for huge logits (1e30 + log 2 == 1e30). The exps of the whole
// batch go through the active level's exp_f64 in two sweeps (the sums, then the softmax).
template <class T>
double softmax_cross_entropy(const T* logits, idx n, idx c, Target<T> target, T* grad) {
  SoftmaxScratch& s = softmax_scratch(n, c);
  const auto exp_f64 = active_vmath().exp_f64;
  double* e = s.e.data();
  auto shifted = [&](idx i, idx j) { return double(logits[i * c + j]) - s.row_max[std::size_t(i)]; };  // <= 0
  for (idx i = 0; i < n; ++i) {
    const T* z = logits + i * c;
    T zmax = z[0];
    for (idx j = 1; j < c; ++j) zmax = z[j] > zmax ? z[j] : zmax;
    s.row_max[std::size_t(i)] = double(zmax);
    for (idx j = 0; j < c; ++j) e[i * c + j] = shifted(i, j);
  }
  exp_f64(e, e, n * c);
  double total = 0.0;
  for (idx i = 0; i < n; ++i) {
    double sum = 0.0;
    for (idx j = 0; j < c; ++j) sum += e[i * c + j];
    const double log_sum = std::log(sum);
    s.log_sum[std::size_t(i)] = log_sum;
    if (target.labels) {
      total += log_sum - shifted(i, static_cast<idx>(target.labels[i]));
    } else {
      const T* t = target.values + i * c;
      for (idx j = 0; j < c; ++j)
        if (t[j] != T(0)) total += double(t[j]) * (log_sum - shifted(i, j));
    }
  }
  if (grad) {  // softmax(z) = exp(shifted - log(sum))
    for (idx i = 0; i < n; ++i)
      for (idx j = 0; j < c; ++j) e[i * c + j] = shifted(i, j) - s.log_sum[std::size_t(i)];
    exp_f64(e, e, n * c);
    const T inv_n = T(1) / T(n);
    for (idx i = 0; i < n; ++i) {
      T* g = grad + i * c;
      const double* p = e + i * c;
      if (target.labels) {
        for (idx j = 0; j < c; ++j) g[j] = T(p[j]) * inv_n;
        g[static_cast<idx>(target.labels[i])] -= inv_n;
      } else {
        const T* t = target.values + i * c;
        double mass = 0.0;
        for (idx j = 0; j < c; ++j) mass += double(t[j]);
        for (idx j = 0; j < c; ++j) g[j] = T((p[j] * mass - double(t[j])) * double(inv_n));
      }
    }
  }
  return total / double(n);
}

template <class T>
double mean_squared_error(const T* pred, idx n, idx c, const T* target, T* grad) {
  const idx count = n * c;
  const T inv = T(1) / T(count);
  double total = 0.0;
  for (idx k = 0; k < count; ++k) {
    const T d = pred[k] - target[k];
    total += double(d) * double(d);
    if (grad) grad[k] = d * inv;
  }
  return 0.5 * total / double(count);
}

template <class T>
double sigmoid_binary_cross_entropy(const T* logits, idx n, idx c, const T* target, T* grad) {
  const idx count = n * c;
  const T inv = T(1) / T(count);
  double total = 0.0;
  for (idx k = 0; k < count; ++k) {
    const double z = logits[k], t = target[k];
    total += (z > 0 ? z : 0.0) - z * t + std::log1p(std::exp(-std::fabs(z)));
    if (grad) grad[k] = (activate(Act::Sigmoid, logits[k]) - target[k]) * inv;
  }
  return total / double(count);
}

template <class T>
double poisson_log_link(const T* logits, idx n, idx c, const T* target, T* grad) {
  const idx count = n * c;
  const T inv = T(1) / T(count);
  double total = 0.0;
  for (idx k = 0; k < count; ++k) {
    const double z = logits[k], t = target[k];
    const double rate = std::exp(z);  // inf past the type's range: the loss says so
    // t z is left out where t == 0 (an infinite z with a zero count adds nothing but the rate)
    total += rate - (t != 0.0 ? t * z : 0.0);
    if (grad) grad[k] = T(rate - t) * inv;
  }
  return total / double(count);
}

template <class T>
void softmax_rows(const T* in, idx n, idx c, T* out) {
  for (idx i = 0; i < n; ++i) {
    const T* z = in + i * c;
    T* p = out + i * c;
    T zmax = z[0];
    for (idx j = 1; j < c; ++j) zmax = z[j] > zmax ? z[j] : zmax;
    T sum = 0;
    for (idx j = 0; j < c; ++j) sum += (p[j] = std::exp(z[j] - zmax));
    const T inv = T(1) / sum;
    for (idx j = 0; j < c; ++j) p[j] *= inv;
  }
}

template <class T>
void sigmoid(const T* in, idx count, T* out) {
  for (idx k = 0; k < count; ++k) out[k] = activate(Act::Sigmoid, in[k]);
}

template <class T>
void exp_values(const T* in, idx count, T* out) {
  for (idx k = 0; k < count; ++k) out[k] = std::exp(in[k]);
}

#define DP_INSTANTIATE_LOSSES(T)                                                          \
  template double softmax_cross_entropy<T>(const T*, idx, idx, Target<T>, T*);            \
  template double mean_squared_error<T>(const T*, idx, idx, const T*, T*);                \
  template double sigmoid_binary_cross_entropy<T>(const T*, idx, idx, const T*, T*);      \
  template void softmax_rows<T>(const T*, idx, idx, T*);                                  \
  template void sigmoid<T>(const T*, idx, T*);                                            \
  template double poisson_log_link<T>(const T*, idx, idx, const T*, T*);                  \
  template void exp_values<T>(const T*, idx, T*);
DP_INSTANTIATE_LOSSES(float)
DP_INSTANTIATE_LOSSES(double)

}  // namespace dp
