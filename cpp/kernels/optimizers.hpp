// Optimizer updates: element-wise free functions over flat parameter / state / gradient arrays
// (params first, then state, then the gradient, then sizes and hyperparameters). Every array
// holds `count` elements in the same order; none allocates. The maths follows torch.optim.
#pragma once
#include <cstdint>
#include "../common/base.hpp"

namespace dp {

// SGD with momentum (velocity in gradient units, as torch.optim.SGD with dampening 0):
//   v = momentum v + g;  step = nesterov ? g + momentum v : v;  p -= lr step.
// momentum == 0 gives plain SGD and leaves `velocity` untouched (it may then be null).
template <class T>
void sgd_momentum_update(T* params, T* velocity, const T* grad, idx count, T lr, T momentum,
                         bool nesterov);

// Plain SGD from a gradient sum over `mass` rows: p -= lr · (g / mass), the division rounded
// on its own (as dividing first, then stepping, would); grad_sum is only read.
template <class T>
void sgd_update_from_sum(T* params, const T* grad_sum, idx count, T lr, T mass);
// The same from a sum given as two terms: p -= lr · ((a + b) / mass), a + b rounded on its own,
// so bitwise the update from the sum a + b (saves writing and reading the sum).
template <class T>
void sgd_update_from_sum_of_two(T* params, const T* a, const T* b, idx count, T lr, T mass);

// Adam (Kingma & Ba, with torch's epsilon placement), at 1-based step `step`:
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;
//   p -= lr / (1 - b1^step) · m / (sqrt(v) / sqrt(1 - b2^step) + eps).
template <class T>
void adam_update(T* params, T* m, T* v, const T* grad, idx count, T lr, T beta1, T beta2, T eps,
                 std::int64_t step);

// Decoupled weight decay (AdamW / SGDW): p *= 1 - lr · weight_decay.
template <class T>
void decoupled_weight_decay(T* params, idx count, T lr, T weight_decay);

// Coupled L2: g += l2 · p.
template <class T>
void add_l2_gradient(T* grad, const T* params, idx count, T l2);

// Σ x², accumulated in double.
template <class T>
double squared_norm(const T* x, idx count);

// Gradient-norm clipping: if ‖g‖ > max_norm, g *= max_norm / (‖g‖ + 1e-6) (as PyTorch's
// clip_grad_norm_). Returns ‖g‖ before clipping.
template <class T>
double clip_by_global_norm(T* grad, idx count, T max_norm);

}  // namespace dp
