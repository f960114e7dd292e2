// The model: an ordered list of dense layers (an activation each) and a loss, its parameters in
// one flat vector (layer by layer: W row-major (out, in), then b). It runs inference and the
// maths of training — the forward pass that keeps what backprop needs, and backprop itself —
// on workspaces and gradient buffers its caller owns (the trainer).
//
// Inference (forward, output, activations, evaluate*) allocates per call and only reads the
// parameters, so concurrent inference calls are safe.
//
// Precision (precision.hpp): a float32 model may run its products in bf16, in training (the
// model's setting) and in inference (the setting, or one given per call); inference then reuses
// the bf16 panels of the weights between calls (bf16_weights.hpp).
#pragma once
#include <cstdint>
#include <vector>
#include "../common/base.hpp"
#include "../kernels/losses.hpp"
#include "bf16_weights.hpp"
#include "precision.hpp"
#include "workspace.hpp"

namespace dp {

// Where backprop's parameter gradient goes: into `grad` (num_params values, the parameters are
// only read), or — the fused plain-SGD step — into the parameters themselves, with no gradient
// buffer: W := (1 - lr·l2) W - lr dW inside the dW product, b -= lr db.
template <class T>
struct GradientSink {
  T* grad = nullptr;
  T lr = T(0), l2 = T(0);
  static GradientSink into(T* grad) { return {grad, T(0), T(0)}; }
  static GradientSink sgd_step(T lr, T l2) { return {nullptr, lr, l2}; }
};

template <class T>
class Model {
 public:
  // sizes: L+1 widths; hidden_acts: one activation per hidden layer (L-1); the output layer's
  // activation follows from the loss (vocabulary.hpp's table).
  Model(std::vector<idx> sizes, std::vector<Act> hidden_acts, LossKind loss, std::uint64_t seed);

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
  idx weight_count(idx l) const { return sizes_[l + 1] * sizes_[l]; }
  idx bias_offset(idx l) const { return w_off_[l] + weight_count(l); }

  // The precision of the products in training and (by default) inference. Bf16 needs T = float
  // (std::invalid_argument otherwise). Set it only while nothing else runs on the model.
  Precision precision() const { return precision_; }
  void set_precision(Precision p);

  // Inference, in the model's precision or the one given.
  // logits (n, out): the last layer's pre-activation.
  void forward(const T* X, idx n, T* logits) const { forward(X, n, logits, precision_); }
  void forward(const T* X, idx n, T* logits, Precision p) const;
  // outs[l] (n, sizes[l+1]) = a(l+1); the last is the output after softmax/sigmoid/identity.
  void activations(const T* X, idx n, const std::vector<T*>& outs) const {
    activations(X, n, outs, precision_);
  }
  void activations(const T* X, idx n, const std::vector<T*>& outs, Precision p) const;
  // predict_proba's output: the loss's output transform of the logits.
  void output(const T* X, idx n, T* out) const { output(X, n, out, precision_); }
  void output(const T* X, idx n, T* out, Precision p) const;
  double evaluate_loss(const T* X, Target<T> y, idx n) const { return evaluate_loss(X, y, n, precision_); }
  double evaluate_loss(const T* X, Target<T> y, idx n, Precision p) const;
  // The mean loss (no L2 term) and the logits (n, out), from one forward pass.
  double evaluate(const T* X, Target<T> y, idx n, T* logits) const {
    return evaluate(X, y, n, logits, precision_);
  }
  double evaluate(const T* X, Target<T> y, idx n, T* logits, Precision p) const;

  // Training maths. forward_train fills ws (reserved for n rows) with every layer's activation
  // and ws.delta_a() with d(weighted mean loss)/d(logits); returns that loss + l2/2 Σ‖W‖².
  // With `weights` (n, or null) the mean is weighted: Σ w_i loss_i / Σ w_i.
  double forward_train(const T* X, Target<T> y, const T* weights, idx n, T l2,
                       BackpropWorkspace<T>& ws) const;
  // Backpropagation after forward_train on the same X (and n, ws): the gradient of the data loss
  // (no L2 term) into sink.grad, or the fused SGD step.
  void backward(const T* X, idx n, BackpropWorkspace<T>& ws, const GradientSink<T>& sink);
  // grad += l2 · W over the weights (not the biases): the coupled L2 term's gradient.
  void add_l2_gradient(T* grad, T l2) const;

 private:
  double loss_of(const T* logits, Target<T> y, idx n, T* grad) const;
  double weighted_loss_of(const T* logits, Target<T> y, const T* weights, idx n, T* grad) const;
  double l2_penalty(T l2) const;
  void output_transform(T* logits, idx n) const;
  // Layer l's forward product (A = g(X Wᵀ + b)) in precision p; `panels`: the bf16 inference
  // panels, or null (packed inside the product).
  void layer_forward(idx l, const T* X, idx n, T* A, Precision p,
                     const Bf16InferenceWeights::Panels* panels) const;
  // One sample: logits (output_width()) from x (input_width()), in T, or in bf16 products through
  // `bf16` (bf16_gemv_arch()) when not null.
  void forward_one_sample(const T* x, T* logits, const GemmBf16Arch* bf16) const;
  // The bf16 inference panels when p is Bf16 (null otherwise).
  std::shared_ptr<const Bf16InferenceWeights::Panels> inference_panels(Precision p) const;
  void require_precision(Precision p) const;  // bf16 on a float64 model: invalid_argument

  std::vector<idx> sizes_;
  std::vector<Act> acts_;
  LossKind loss_;
  AlignedVector<T> params_;
  std::vector<idx> w_off_;
  Precision precision_ = Precision::Fp32;
  Bf16InferenceWeights bf16_weights_;  // used by float models only
};

}  // namespace dp
