// How a step updates the parameters (OptimConfig) and what an optimizer remembers between steps
// (OptimizerState: momentum velocity, Adam moments, the step count — one flat vector each in the
// parameters' order, allocated on first use).
#pragma once
#include <cstdint>
#include <vector>
#include "../common/base.hpp"
#include "model.hpp"

namespace dp {

// The gradient is that of the (weighted) mean loss plus the coupled L2 term l2 · W (weights
// only); it is clipped to clip_norm (0: off), then decoupled weight decay (weights only) and the
// optimizer's update are applied.
struct OptimConfig {
  OptimKind kind = OptimKind::Sgd;
  double lr = 0.01;
  double momentum = 0.0;  // SGD
  bool nesterov = false;  // SGD
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // Adam
  double weight_decay = 0.0;  // decoupled: W *= 1 - lr * weight_decay
  double l2 = 0.0;            // coupled: adds l2/2 · Σ‖W‖² to the loss
  bool l2_per_sample = false; // l2 / rows (or weight sum) of the batch: scikit-learn's alpha
  double clip_norm = 0.0;
  // Plain SGD takes the fused path: W -= lr·(dW + l2·W) inside the dW GEMM.
  bool is_plain_sgd() const {
    return kind == OptimKind::Sgd && momentum == 0.0 && weight_decay == 0.0 && clip_norm == 0.0;
  }
  // The coupled L2 strength of a step over a batch of `mass` rows (or weight sum): cfg.l2, or
  // with l2_per_sample cfg.l2 / mass (none for an empty or all-zero-weight batch).
  double l2_for_batch(double mass) const {
    if (!l2_per_sample) return l2;
    return mass > 0.0 ? l2 / mass : 0.0;
  }
};

template <class T>
class OptimizerState {
 public:
  // One step from `grad` (num_params values, the gradient of the data loss; used as scratch):
  // grad += l2 · W, clipping, decoupled weight decay, then SGD (momentum, Nesterov) or Adam.
  void apply(Model<T>& model, T* grad, const OptimConfig& cfg, T l2);
  // The fused plain-SGD step updated the parameters itself; only the step count moves.
  void count_fused_step() { ++steps_; }

  // For checkpoints: steps taken, velocity / Adam moments (empty until used).
  std::int64_t steps() const { return steps_; }
  const AlignedVector<T>& velocity() const { return velocity_; }
  const AlignedVector<T>& adam_m() const { return adam_m_; }
  const AlignedVector<T>& adam_v() const { return adam_v_; }
  // Each vector must be empty or hold num_params values.
  void set(idx num_params, std::int64_t steps, std::vector<T> velocity, std::vector<T> m,
           std::vector<T> v);
  void reset();  // zeros, keeping the memory

 private:
  void apply_adam_fused(Model<T>& model, const T* grad, const OptimConfig& cfg, T l2);

  AlignedVector<T> velocity_, adam_m_, adam_v_;  // (num_params) each, or empty
  std::int64_t steps_ = 0;
};

}  // namespace dp
