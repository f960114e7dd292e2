// Reference-style loops: one pass per update, no branches in the loop bodies, so the compiler
// vectorises them (this file is built with -fno-math-errno: errno would keep sqrt scalar). Every
// element is computed alone, so results do not depend on the vector width or thread count.
#include "optimizers.hpp"
#include <cmath>

namespace dp {

template <class T>
void sgd_momentum_update(T* params, T* velocity, const T* grad, idx count, T lr, T momentum,
                         bool nesterov) {
  if (momentum == T(0)) {
    for (idx i = 0; i < count; ++i) params[i] -= lr * grad[i];
    return;
  }
  if (nesterov) {
    for (idx i = 0; i < count; ++i) {
      velocity[i] = momentum * velocity[i] + grad[i];
      params[i] -= lr * (grad[i] + momentum * velocity[i]);
    }
  } else {
    for (idx i = 0; i < count; ++i) {
      velocity[i] = momentum * velocity[i] + grad[i];
      params[i] -= lr * velocity[i];
    }
  }
}

template <class T>
void sgd_update_from_sum(T* params, const T* grad_sum, idx count, T lr, T mass) {
  for (idx i = 0; i < count; ++i) params[i] -= lr * (grad_sum[i] / mass);
}

template <class T>
void sgd_update_from_sum_of_two(T* params, const T* a, const T* b, idx count, T lr, T mass) {
  for (idx i = 0; i < count; ++i) {
    const T sum = a[i] + b[i];
    params[i] -= lr * (sum / mass);
  }
}

template <class T>
void adam_update(T* params, T* m, T* v, const T* grad, idx count, T lr, T beta1, T beta2, T eps,
                 std::int64_t step) {
  // Bias corrections in double: 1 - b^t loses digits in float for b close to 1.
  const double bc1 = 1.0 - std::pow(double(beta1), double(step));
  const double bc2 = 1.0 - std::pow(double(beta2), double(step));
  const T step_size = T(double(lr) / bc1);
  const T inv_sqrt_bc2 = T(1.0 / std::sqrt(bc2));
  const T one_b1 = T(1) - beta1, one_b2 = T(1) - beta2;
#pragma omp simd
  for (idx i = 0; i < count; ++i) {
    const T g = grad[i];
    m[i] = beta1 * m[i] + one_b1 * g;
    v[i] = beta2 * v[i] + one_b2 * g * g;
    params[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps);
  }
}

template <class T>
void decoupled_weight_decay(T* params, idx count, T lr, T weight_decay) {
  const T keep = T(1) - lr * weight_decay;
  for (idx i = 0; i < count; ++i) params[i] *= keep;
}

template <class T>
void add_l2_gradient(T* grad, const T* params, idx count, T l2) {
  for (idx i = 0; i < count; ++i) grad[i] += l2 * params[i];
}

template <class T>
double squared_norm(const T* x, idx count) {
  // Eight running sums (element i into sum i mod 8), added up at the end: the vector registers
  // keep eight additions in flight where one running sum waits on each add's latency. The
  // grouping is fixed, so the result does not depend on the vector width.
  constexpr idx kLanes = 8;
  double lane[kLanes] = {};
  idx i = 0;
  for (; i + kLanes <= count; i += kLanes)
#pragma omp simd
    for (idx j = 0; j < kLanes; ++j) lane[j] += double(x[i + j]) * double(x[i + j]);
  for (idx j = 0; i < count; ++i, ++j) lane[j] += double(x[i]) * double(x[i]);
  double sum = 0.0;
  for (idx j = 0; j < kLanes; ++j) sum += lane[j];
  return sum;
}

template <class T>
double clip_by_global_norm(T* grad, idx count, T max_norm) {
  const double norm = std::sqrt(squared_norm(grad, count));
  if (norm > double(max_norm)) {
    const T factor = T(double(max_norm) / (norm + 1e-6));
    for (idx i = 0; i < count; ++i) grad[i] *= factor;
  }
  return norm;
}

#define DP_INSTANTIATE(T)                                                                     \
  template void sgd_momentum_update<T>(T*, T*, const T*, idx, T, T, bool);                   \
  template void sgd_update_from_sum<T>(T*, const T*, idx, T, T);                             \
  template void sgd_update_from_sum_of_two<T>(T*, const T*, const T*, idx, T, T);            \
  template void adam_update<T>(T*, T*, T*, const T*, idx, T, T, T, T, std::int64_t);         \
  template void decoupled_weight_decay<T>(T*, idx, T, T);                                    \
  template void add_l2_gradient<T>(T*, const T*, idx, T);                                    \
  template double squared_norm<T>(const T*, idx);                                            \
  template double clip_by_global_norm<T>(T*, idx, T);
DP_INSTANTIATE(float)
DP_INSTANTIATE(double)
#undef DP_INSTANTIATE

}  // namespace dp
