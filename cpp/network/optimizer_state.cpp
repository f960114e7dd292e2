#include "optimizer_state.hpp"
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include "../kernels/optimizers.hpp"
#include "../runtime/dispatch.hpp"
#include "../runtime/threads.hpp"

namespace dp {
namespace {

// Elements per thread below which a second thread costs more than it saves: a fork/join is a
// microsecond or two, and Adam's square root and division take a few ns per float64 element
// (the divider, not memory, bounds it at these sizes), so a few thousand elements pay for it.
constexpr idx kAdamElementsPerThread = 2048;

template <class T>
void (*adam_kernel())(const AdamSpan<T>&) {
  if constexpr (std::is_same_v<T, float>) return active_vmath().adam_f32;
  else return active_vmath().adam_f64;
}

// The part of `span` (which starts at element `offset` of the parameter vector) that falls in
// [begin, end) of that vector.
template <class T>
void adam_part(void (*kernel)(const AdamSpan<T>&), const AdamSpan<T>& span, idx offset, idx begin,
               idx end) {
  const idx lo = std::max(begin, offset), hi = std::min(end, offset + span.count);
  if (lo >= hi) return;
  AdamSpan<T> part = span;
  const idx skip = lo - offset;
  part.params += skip;
  part.m += skip;
  part.v += skip;
  part.grad += skip;
  part.count = hi - lo;
  kernel(part);
}

}  // namespace

// Adam with the coupled L2 term folded into the update's pass (no clipping, no decoupled decay:
// both need the whole L2-added gradient, or change W, before the update): the bits of
// add_l2_gradient followed by adam_update, in one pass over memory and in vectors of the CPU's
// width.
template <class T>
void OptimizerState<T>::apply_adam_fused(Model<T>& model, const T* grad, const OptimConfig& cfg,
                                         T l2) {
  // As adam_update: bias corrections in double (1 - b^t loses digits in float for b near 1).
  const double bc1 = 1.0 - std::pow(double(T(cfg.beta1)), double(steps_));
  const double bc2 = 1.0 - std::pow(double(T(cfg.beta2)), double(steps_));
  const AdamSpan<T> all{model.params(), adam_m_.data(), adam_v_.data(), grad, model.num_params(),
                        T(double(T(cfg.lr)) / bc1), T(1.0 / std::sqrt(bc2)), T(cfg.beta1),
                        T(cfg.beta2), T(cfg.eps), T(0)};
  // Per layer its weights (with the L2 term) and its biases (without): spans that tile the
  // parameter vector. One fork/join for all of them: each thread takes a contiguous range of
  // whole 64-byte lines and updates the pieces of the spans inside it; every element is computed
  // alone, so the result does not depend on the split.
  const auto kernel = adam_kernel<T>();
  const idx layers = model.num_layers();
  auto run_range = [&](idx begin, idx end) {
    for (idx l = 0; l < layers; ++l)
      for (const bool weights : {true, false}) {
        const idx off = weights ? model.weight_offset(l) : model.bias_offset(l);
        AdamSpan<T> span = all;
        span.params += off;
        span.m += off;
        span.v += off;
        span.grad += off;
        span.count = weights ? model.weight_count(l) : model.sizes()[std::size_t(l + 1)];
        span.l2 = weights ? l2 : T(0);
        adam_part(kernel, span, off, begin, end);
      }
  };
  const idx count = all.count;
  constexpr idx kLine = 64 / idx(sizeof(T));
  const idx lines = (count + kLine - 1) / kLine;
  const int team = static_cast<int>(std::min<idx>(
      lines, std::max<idx>(1, std::min<idx>(get_num_threads(), count / kAdamElementsPerThread))));
  run_team(team, [&](int t, int size) {
    for (int part = t; part < team; part += size)
      run_range(std::min(count, lines * part / team * kLine), std::min(count, lines * (part + 1) / team * kLine));
  });
}

template <class T>
void OptimizerState<T>::apply(Model<T>& model, T* grad, const OptimConfig& cfg, T l2) {
  const idx count = model.num_params();
  const T lr = T(cfg.lr);
  T* params = model.params();
  if (cfg.kind == OptimKind::Adam && cfg.clip_norm <= 0.0 && cfg.weight_decay == 0.0) {
    ++steps_;
    if (idx(adam_m_.size()) != count) adam_m_.assign(std::size_t(count), T(0));
    if (idx(adam_v_.size()) != count) adam_v_.assign(std::size_t(count), T(0));
    return apply_adam_fused(model, grad, cfg, l2);
  }
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
  velocity_.assign(velocity.begin(), velocity.end());
  adam_m_.assign(m.begin(), m.end());
  adam_v_.assign(v.begin(), v.end());
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
