// The network the bindings expose: a model (parameters, inference, backprop maths), its
// optimizer state and a trainer (workspaces, steps, epochs), kept apart in their own files and
// put together here behind one training mutex.
//
// Thread safety: inference (model().forward/output/activations/evaluate*) allocates per call and
// only reads the parameters, so concurrent inference calls are safe. Training calls (train_step*,
// train_epoch, gradient, apply_gradient, setting the optimizer state) serialise on the mutex
// (released while an epoch's between_batches callback runs); they must not overlap inference or
// optimizer-state reads on the same network (the Python layer guards this with a reader/writer
// lock).
#pragma once
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>
#include "../common/base.hpp"
#include "../kernels/losses.hpp"
#include "gradient_tree.hpp"
#include "model.hpp"
#include "optimizer_state.hpp"
#include "trainer.hpp"

namespace dp {

template <class T>
class Network {
 public:
  Network(std::vector<idx> sizes, std::vector<Act> hidden_acts, LossKind loss, std::uint64_t seed)
      : model_(std::move(sizes), std::move(hidden_acts), loss, seed) {}

  const Model<T>& model() const { return model_; }
  T* params() { return model_.params(); }  // for views that write the parameters in place
  // The products' precision (model.hpp); not while inference runs on this network.
  void set_precision(Precision p) {
    std::lock_guard<std::mutex> lock(train_mutex_);
    model_.set_precision(p);
  }

  // Mean loss + l2/2 Σ‖W‖²; grad (num_params) receives its gradient. With `weights` (n, or
  // null) the mean is weighted: Σ w_i loss_i / Σ w_i.
  double gradient(const T* X, Target<T> y, idx n, T l2, T* grad, const T* weights = nullptr);
  // Applies an externally computed gradient (num_params values, e.g. averaged over shards) as
  // train_step would: adds the coupled L2 term itself (cfg.l2, divided by `mass` — the batch's
  // rows or weight sum — when cfg.l2_per_sample), then clipping, decoupled weight decay and the
  // optimizer's update. So `grad` is the gradient of the data loss alone: gradient(l2 = 0).
  // `grad` is used as scratch (it is clipped and the L2 term added in place).
  void apply_gradient(T* grad, const OptimConfig& cfg, double mass);
  // The gradient sums of consecutive micro-batches added in the fixed tree (gradient_tree.hpp):
  // the cover's subtree sums into out, placed by `layout`; stats (leaves, 2): (loss sum, mass).
  void tree_gradient(const MicroBatches<T>& batch, const TreeLayout& layout, T* out, double* stats);
  // apply_gradient of grad_sum / mass (mass > 0: the batch's rows or weight sum), dividing in
  // place: grad_sum is scratch afterwards.
  void apply_gradient_sum(T* grad_sum, const OptimConfig& cfg, double mass);
  // apply_gradient_sum on the parameters [start, start + count) alone, from their part of the
  // sum (grad_part, plus addend where not null: the sum's last addition, rounded as its own),
  // when the update is element by element (plain SGD, no L2 term for this batch): each
  // parameter then gets the bits the whole update gives it, so processes can each update one
  // part and exchange the parameters. Counts the step; returns false (and changes nothing)
  // when the update needs the whole gradient.
  bool apply_gradient_sum_part(const T* grad_part, const T* addend, idx start, idx count,
                               const OptimConfig& cfg, double mass);
  // One fused minibatch SGD step; returns the loss before the update (with the L2 term).
  double train_step_sgd(const T* X, Target<T> y, idx n, T lr, T l2);
  // One step of any optimizer (plain SGD goes through the fused path); `weights` may be null.
  double train_step(const T* X, Target<T> y, const T* weights, idx n, const OptimConfig& cfg);
  // One epoch over the rows in `order` (all n rows in turn if null), in batches of `batch` rows,
  // with optional per-row weights (n, indexed like X); `between_batches` runs after every batch
  // (it may throw to stop at a batch boundary). Returns the mean per-sample loss of the epoch.
  double train_epoch(const T* X, Target<T> y, const T* weights, idx n, const std::int64_t* order,
                     idx batch, const OptimConfig& cfg, const std::function<void()>& between_batches);

  // Optimizer state, for checkpoints (reads: not under the mutex, see above).
  const OptimizerState<T>& optimizer() const { return opt_; }
  void set_optimizer_state(std::int64_t steps, std::vector<T> velocity, std::vector<T> m,
                           std::vector<T> v);
  void reset_optimizer_state();

 private:
  Model<T> model_;
  OptimizerState<T> opt_;
  Trainer<T> trainer_;
  GradientTree<T> tree_;
  std::mutex train_mutex_;
};

}  // namespace dp
