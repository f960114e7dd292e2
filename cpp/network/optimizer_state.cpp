#include "optimizer_state.hpp"
#include <algorithm>
#include <stdexcept>
#include <utility>
#include "../kernels/optimizers.hpp"

namespace dp {

template <class T>
void OptimizerState<T>::apply(Model<T>& model, T* grad, const OptimConfig& cfg, T l2) {
  const idx count = model.num_params();
  const T lr = T(cfg.lr);
  T* params = model.params();
  model.add_l2_gradient(grad, l2);
  if (cfg.clip_norm > 0.0) clip_by_global_norm(grad, count, T(cfg.clip_norm));
  if (cfg.weight_decay != 0.0)
    for (idx l = 0; l < model.num_layers(); ++l)
      decoupled_weight_decay(params + model.weight_offset(l), model.weight_count(l), lr,
                             T(cfg.weight_decay));
  ++steps_;
  if (cfg.kind == OptimKind::Adam) {
    if (idx(adam_m_.size()) != count) adam_m_.assign(std::size_t(count), T(0));
    if (idx(adam_v_.size()) != count) adam_v_.assign(std::size_t(count), T(0));
    adam_update(params, adam_m_.data(), adam_v_.data(), grad, count, lr, T(cfg.beta1),
                T(cfg.beta2), T(cfg.eps), steps_);
  } else {
    if (cfg.momentum != 0.0 && idx(velocity_.size()) != count)
      velocity_.assign(std::size_t(count), T(0));
    sgd_momentum_update(params, velocity_.empty() ? nullptr : velocity_.data(), grad, count, lr,
                        T(cfg.momentum), cfg.nesterov);
  }
}

template <class T>
void OptimizerState<T>::set(idx num_params, std::int64_t steps, std::vector<T> velocity,
                            std::vector<T> m, std::vector<T> v) {
  for (const auto* state : {&velocity, &m, &v})
    if (!state->empty() && idx(state->size()) != num_params)
      throw std::invalid_argument("optimizer state: expected empty or num_params values");
  if (steps < 0) throw std::invalid_argument("optimizer state: steps must be >= 0");
  steps_ = steps;
  velocity_ = std::move(velocity);
  adam_m_ = std::move(m);
  adam_v_ = std::move(v);
}

template <class T>
void OptimizerState<T>::reset() {
  steps_ = 0;
  std::fill(velocity_.begin(), velocity_.end(), T(0));  // keeps the memory: no reallocation
  std::fill(adam_m_.begin(), adam_m_.end(), T(0));
  std::fill(adam_v_.begin(), adam_v_.end(), T(0));
}

template class OptimizerState<float>;
template class OptimizerState<double>;

}  // namespace dp
