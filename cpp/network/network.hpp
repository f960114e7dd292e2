// The network: an ordered list of dense layers (activation each) and a loss, its parameters in
// one flat vector (layer by layer: W row-major (out, in), then b), and workspaces per batch size.
//
// The optimizer state (momentum velocity, Adam moments, step count) lives here too, one flat
// vector each in the parameters' order, allocated on first use.
//
// Thread safety: inference (forward/activations/evaluate_loss) allocates per call and only reads
// the parameters, so concurrent inference calls are safe. Training calls (train_step*,
// train_epoch, gradient, apply_gradient, setting the optimizer state) serialise on an internal mutex; they
// must not overlap inference or optimizer-state reads on the same network (the Python layer
// guards this with a reader/writer lock).
#pragma once
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>
#include "../kernels/common.hpp"
#include "../kernels/losses.hpp"

namespace dp {

// How a training step updates the parameters. The gradient is that of the (weighted) mean loss
// plus the coupled L2 term l2 · W (weights only); it is clipped to clip_norm (0: off), then
// decoupled weight decay (weights only) and the optimizer's update are applied.
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
};

template <class T>
class Network {
 public:
  // sizes: L+1 widths; acts: one activation per hidden layer (L-1); the output layer's
  // activation follows from the loss (softmax, identity or sigmoid).
  Network(std::vector<idx> sizes, std::vector<Act> hidden_acts, LossKind loss, std::uint64_t seed);

  idx num_layers() const { return idx(sizes_.size()) - 1; }
  idx num_params() const { return idx(params_.size()); }
  idx input_width() const { return sizes_.front(); }
  idx output_width() const { return sizes_.back(); }
  const std::vector<idx>& sizes() const { return sizes_; }
  Act layer_act(idx l) const { return acts_[l]; }  // Identity for the output layer
  LossKind loss() const { return loss_; }
  T* params() { return params_.data(); }
  const T* params() const { return params_.data(); }
  idx weight_offset(idx l) const { return w_off_[l]; }
  idx bias_offset(idx l) const { return w_off_[l] + sizes_[l + 1] * sizes_[l]; }

  // logits (n, out): the last layer's pre-activation.
  void forward(const T* X, idx n, T* logits) const;
  // outs[l] (n, sizes[l+1]) = a(l+1); the last is the output after softmax/sigmoid/identity.
  void activations(const T* X, idx n, const std::vector<T*>& outs) const;
  // predict_proba's output: softmax / sigmoid / identity of the logits.
  void output(const T* X, idx n, T* out) const;
  double evaluate_loss(const T* X, Target<T> y, idx n) const;
  // The mean loss (no L2 term) and the logits (n, out), from one forward pass.
  double evaluate(const T* X, Target<T> y, idx n, T* logits) const;

  // Mean loss + l2/2 Σ‖W‖²; grad (num_params) receives its gradient. With `weights` (n, or
  // null) the mean is weighted: Σ w_i loss_i / Σ w_i.
  double gradient(const T* X, Target<T> y, idx n, T l2, T* grad, const T* weights = nullptr);
  // Applies an externally computed gradient (num_params values, e.g. averaged over shards) as
  // train_step would: adds the coupled L2 term itself (cfg.l2, divided by `mass` — the batch's
  // rows or weight sum — when cfg.l2_per_sample), then clipping, decoupled weight decay and the
  // optimizer's update. So `grad` is the gradient of the data loss alone: gradient(l2 = 0).
  // `grad` is used as scratch (it is clipped and the L2 term added in place).
  void apply_gradient(T* grad, const OptimConfig& cfg, double mass);
  // One fused minibatch SGD step; returns the loss before the update (with the L2 term).
  double train_step_sgd(const T* X, Target<T> y, idx n, T lr, T l2);
  // One step of any optimizer (plain SGD goes through the fused path); `weights` may be null.
  double train_step(const T* X, Target<T> y, const T* weights, idx n, const OptimConfig& cfg);
  // One epoch over the rows in `order` (all n rows in turn if null), in batches of `batch` rows,
  // with optional per-row weights (n, indexed like X); `between_batches` runs after every batch
  // (it may throw to stop at a batch boundary). Returns the mean per-sample loss of the epoch.
  double train_epoch(const T* X, Target<T> y, const T* weights, idx n, const std::int64_t* order,
                     idx batch, const OptimConfig& cfg, const std::function<void()>& between_batches);

  // Optimizer state, for checkpoints: steps taken, velocity / Adam moments (empty until used).
  std::int64_t optimizer_steps() const { return steps_; }
  const std::vector<T>& velocity() const { return velocity_; }
  const std::vector<T>& adam_m() const { return adam_m_; }
  const std::vector<T>& adam_v() const { return adam_v_; }
  // Each vector must be empty or hold num_params values.
  void set_optimizer_state(std::int64_t steps, std::vector<T> velocity, std::vector<T> m,
                           std::vector<T> v);
  void reset_optimizer_state();
 private:
  // Fills the acts_/delta_ workspaces; delta_a_ = d(weighted mean loss)/d(logits).
  double forward_train(const T* X, Target<T> y, const T* weights, idx n, T l2);
  double weighted_loss_of(const T* logits, Target<T> y, const T* weights, idx n, T* grad) const;
  void backward_to_grad(const T* X, idx n, T l2, T* grad);  // after forward_train
  double sgd_step(const T* X, Target<T> y, const T* weights, idx n, T lr, T l2);
  double optimizer_step(const T* X, Target<T> y, const T* weights, idx n, const OptimConfig& cfg);
  void apply_update(T* grad, const OptimConfig& cfg, T l2);
  void ensure_workspace(idx n);
  double loss_of(const T* logits, Target<T> y, idx n, T* grad) const;
  double l2_penalty(T l2) const;
  void output_transform(T* logits, idx n) const;
  T* act_buffer(idx l) { return acts_buf_.data() + act_off_[l]; }

  std::vector<idx> sizes_;
  std::vector<Act> acts_;
  LossKind loss_;
  std::vector<T> params_;
  std::vector<idx> w_off_;
  // Training workspaces for batches of up to ws_n_ rows: every layer's a (the output layer keeps logits),
  // two delta buffers (n x widest layer) and a bias-gradient buffer.
  idx ws_n_ = 0;
  std::vector<T> acts_buf_, delta_a_, delta_b_, db_;
  std::vector<T> batch_x_, batch_values_;  // gathered rows of a shuffled batch
  std::vector<T> batch_weights_;
  std::vector<std::int64_t> batch_labels_;
  std::vector<T> grad_;                          // (num_params) gradient of the non-fused steps
  std::vector<T> velocity_, adam_m_, adam_v_;    // (num_params) each, or empty
  std::int64_t steps_ = 0;
  std::vector<idx> act_off_;
  std::mutex train_mutex_;
};

}  // namespace dp
