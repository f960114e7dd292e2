// The trainer: runs steps and epochs of a model with an optimizer state. It owns what training
// needs between steps and nothing else — the backprop workspace, the gradient buffer of the
// non-fused optimizers, and staging for the gathered rows of a shuffled batch — so steady-state
// training allocates nothing.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>
#include "../common/base.hpp"
#include "../kernels/losses.hpp"
#include "model.hpp"
#include "optimizer_state.hpp"
#include "workspace.hpp"

namespace dp {

template <class T>
class Trainer {
 public:
  // Mean loss + l2/2 Σ‖W‖² and its gradient into grad (num_params); parameters unchanged.
  double gradient(Model<T>& model, const T* X, Target<T> y, const T* weights, idx n, T l2, T* grad);
  // The same (without L2) times `scale`, the scaling made on d(loss)/d(logits) before
  // backpropagation — no pass over grad, but rounded differently from scaling the gradient.
  double scaled_gradient(Model<T>& model, const T* X, Target<T> y, const T* weights, idx n, T scale,
                         T* grad);
  // One fused minibatch SGD step (W := (1 - lr·l2) W - lr dW inside the dW product); returns the
  // loss before the update, with the L2 term.
  double sgd_step(Model<T>& model, OptimizerState<T>& opt, const T* X, Target<T> y,
                  const T* weights, idx n, T lr, T l2);
  // One step of any optimizer: plain SGD goes through sgd_step, the others through the
  // gradient and OptimizerState::apply. `weights` (n) may be null.
  double step(Model<T>& model, OptimizerState<T>& opt, const T* X, Target<T> y, const T* weights,
              idx n, const OptimConfig& cfg);
  // One epoch over the rows in `order` (all n rows in turn if null) in batches of `batch` rows,
  // with optional per-row weights (n, indexed like X); `between_batches` runs after every batch
  // (it may throw to stop at a batch boundary). Returns the mean per-sample loss of the epoch.
  double epoch(Model<T>& model, OptimizerState<T>& opt, const T* X, Target<T> y, const T* weights,
               idx n, const std::int64_t* order, idx batch, const OptimConfig& cfg,
               const std::function<void()>& between_batches);

 private:
  // forward_train + backward (+ the loss) of one batch: as one parallel region where that is
  // ready (step_team_ready), else with a region per product.
  double forward_backward(Model<T>& model, const T* X, Target<T> y, const T* weights, idx n,
                          T l2, const GradientSink<T>& sink);
  // Whether a batch of n rows may run as one step team: on (step_team_enabled), float products
  // (bf16 packs its weights inside the product), 2+ threads, and a step of this shape already
  // ran with a region per product under the same kernel configuration — which reserved every
  // scratch buffer the team's leader hands out, so nothing inside the region allocates.
  bool step_team_ready(const Model<T>& model, idx n, bool fused_sgd);
  struct StepShape {
    idx rows = -1;
    int threads = 0;
    unsigned config = 0;
    bool fused_sgd = false;  // the fused SGD update's kernels (and scratch), or a gradient's
    bool operator==(const StepShape& o) const {
      return rows == o.rows && threads == o.threads && config == o.config && fused_sgd == o.fused_sgd;
    }
  };
  StepShape warm_[2];  // the shapes that ran forked last (an epoch's batch and its last one)
  int next_warm_ = 0;

  BackpropWorkspace<T> ws_;
  AlignedVector<T> grad_;                      // (num_params) gradient of the non-fused steps
  AlignedVector<T> batch_x_, batch_values_, batch_weights_;  // gathered rows of a shuffled batch
  std::vector<std::int64_t> batch_labels_;
};

}  // namespace dp
