#include "network.hpp"
#include <algorithm>
#include <stdexcept>
#include <utility>
#include "../kernels/losses.hpp"
#include "../kernels/optimizers.hpp"
#include "../layers/dense.hpp"
#include "init.hpp"

namespace dp {
namespace {
constexpr idx kInferenceChunk = 1024;  // rows per pass in inference: bounded scratch memory
}

template <class T>
Network<T>::Network(std::vector<idx> sizes, std::vector<Act> hidden_acts, LossKind loss,
                    std::uint64_t seed)
    : sizes_(std::move(sizes)), acts_(std::move(hidden_acts)), loss_(loss) {
  if (sizes_.size() < 2) throw std::invalid_argument("sizes: need at least 2 layer widths");
  if (acts_.size() != sizes_.size() - 2)
    throw std::invalid_argument("activation: need one activation per hidden layer");
  for (idx s : sizes_)
    if (s < 1) throw std::invalid_argument("sizes: every width must be >= 1");
  // The output layer's initialisation follows the hidden activation (Glorot if there is none).
  const Act output_init = acts_.empty() ? Act::Identity : acts_.back();
  acts_.push_back(Act::Identity);

  idx total = 0;
  for (idx l = 0; l < num_layers(); ++l) {
    w_off_.push_back(total);
    total += sizes_[l + 1] * sizes_[l] + sizes_[l + 1];
  }
  params_.assign(std::size_t(total), T(0));
  SplitMix64 rng(seed);
  for (idx l = 0; l < num_layers(); ++l) {
    const Act init_as = l + 1 < num_layers() ? acts_[l] : output_init;
    init_weights(params_.data() + w_off_[l], sizes_[l + 1], sizes_[l], init_as, rng);
  }
}

template <class T>
void Network<T>::output_transform(T* logits, idx n) const {
  switch (output_transform_of(loss_)) {
    case OutputTransform::Softmax: return softmax_rows(logits, n, output_width(), logits);
    case OutputTransform::Sigmoid: return sigmoid(logits, n * output_width(), logits);
    case OutputTransform::Identity: return;
  }
}

template <class T>
void Network<T>::forward(const T* X, idx n, T* logits) const {
  const idx widest = *std::max_element(sizes_.begin(), sizes_.end());
  std::vector<T> ping(std::size_t(std::min(n, kInferenceChunk) * widest)), pong(ping.size());
  for (idx r0 = 0; r0 < n; r0 += kInferenceChunk) {
    const idx rows = std::min(kInferenceChunk, n - r0);
    const T* in = X + r0 * input_width();
    for (idx l = 0; l < num_layers(); ++l) {
      const bool last = l + 1 == num_layers();
      T* out = last ? logits + r0 * output_width() : (l % 2 ? pong.data() : ping.data());
      dense_forward(out, static_cast<T*>(nullptr), in, params_.data() + w_off_[l],
                    params_.data() + bias_offset(l), rows, sizes_[l], sizes_[l + 1], acts_[l]);
      in = out;
    }
  }
}

template <class T>
void Network<T>::output(const T* X, idx n, T* out) const {
  forward(X, n, out);
  output_transform(out, n);
}

template <class T>
void Network<T>::activations(const T* X, idx n, const std::vector<T*>& outs) const {
  const T* in = X;
  for (idx l = 0; l < num_layers(); ++l) {
    dense_forward(outs[l], static_cast<T*>(nullptr), in, params_.data() + w_off_[l],
                  params_.data() + bias_offset(l), n, sizes_[l], sizes_[l + 1], acts_[l]);
    in = outs[l];
  }
  output_transform(outs.back(), n);
}

template <class T>
double Network<T>::loss_of(const T* logits, Target<T> y, idx n, T* grad) const {
  const idx c = output_width();
  switch (loss_) {
    case LossKind::CrossEntropy: return softmax_cross_entropy(logits, n, c, y, grad);
    case LossKind::MeanSquared: return mean_squared_error(logits, n, c, y.values, grad);
    default: return sigmoid_binary_cross_entropy(logits, n, c, y.values, grad);
  }
}

template <class T>
double Network<T>::evaluate_loss(const T* X, Target<T> y, idx n) const {
  std::vector<T> logits(std::size_t(n * output_width()));
  forward(X, n, logits.data());
  return loss_of(logits.data(), y, n, nullptr);
}

template <class T>
double Network<T>::evaluate(const T* X, Target<T> y, idx n, T* logits) const {
  forward(X, n, logits);
  return loss_of(logits, y, n, nullptr);
}

template <class T>
double Network<T>::l2_penalty(T l2) const {
  if (l2 == T(0)) return 0.0;
  double sum = 0.0;
  for (idx l = 0; l < num_layers(); ++l) {
    const T* W = params_.data() + w_off_[l];
    for (idx k = 0, count = sizes_[l + 1] * sizes_[l]; k < count; ++k) sum += double(W[k]) * W[k];
  }
  return 0.5 * double(l2) * sum;
}

template <class T>
void Network<T>::ensure_workspace(idx n) {
  // Sized for the largest batch seen: a smaller (e.g. last) batch reuses the same memory.
  act_off_.clear();  // keeps its capacity: no allocation after the first call
  idx total = 0;
  for (idx l = 0; l < num_layers(); ++l) {
    act_off_.push_back(total);
    total += n * sizes_[l + 1];
  }
  if (n <= ws_n_) return;
  const idx widest = *std::max_element(sizes_.begin() + 1, sizes_.end());
  acts_buf_.assign(std::size_t(total), T(0));
  delta_a_.assign(std::size_t(n * widest), T(0));
  delta_b_.assign(std::size_t(n * widest), T(0));
  db_.assign(std::size_t(widest), T(0));
  ws_n_ = n;
}

template <class T>
double Network<T>::weighted_loss_of(const T* logits, Target<T> y, const T* weights, idx n,
                                    T* grad) const {
  if (!weights) return loss_of(logits, y, n, grad);
  // Row by row: loss_i and d loss_i / d logits_i, then scaled by w_i / Σ w.
  const idx c = output_width();
  double wsum = 0.0;
  for (idx i = 0; i < n; ++i) wsum += double(weights[i]);
  const double inv = wsum > 0.0 ? 1.0 / wsum : 0.0;  // an all-zero batch contributes nothing
  double total = 0.0;
  for (idx i = 0; i < n; ++i) {
    Target<T> row{y.labels ? y.labels + i : nullptr, y.values ? y.values + i * c : nullptr};
    total += double(weights[i]) * loss_of(logits + i * c, row, 1, grad + i * c);
    const T scale = T(double(weights[i]) * inv);
    for (idx j = 0; j < c; ++j) grad[i * c + j] *= scale;
  }
  return total * inv;
}

template <class T>
double Network<T>::forward_train(const T* X, Target<T> y, const T* weights, idx n, T l2) {
  ensure_workspace(n);
  const T* in = X;
  for (idx l = 0; l < num_layers(); ++l) {
    dense_forward(act_buffer(l), static_cast<T*>(nullptr), in, params_.data() + w_off_[l],
                  params_.data() + bias_offset(l), n, sizes_[l], sizes_[l + 1], acts_[l]);
    in = act_buffer(l);
  }
  // delta_a_ receives dLoss/dlogits (already divided by the batch size: losses are means).
  return weighted_loss_of(act_buffer(num_layers() - 1), y, weights, n, delta_a_.data()) +
         l2_penalty(l2);
}

template <class T>
double Network<T>::train_step_sgd(const T* X, Target<T> y, idx n, T lr, T l2) {
  std::lock_guard<std::mutex> lock(train_mutex_);
  return sgd_step(X, y, nullptr, n, lr, l2);
}

template <class T>
double Network<T>::sgd_step(const T* X, Target<T> y, const T* weights, idx n, T lr, T l2) {
  const double loss = forward_train(X, y, weights, n, l2);
  T* delta = delta_a_.data();
  T* below = delta_b_.data();
  for (idx l = num_layers() - 1; l >= 0; --l) {
    const idx in_w = sizes_[l], out_w = sizes_[l + 1];
    const T* a_in = l == 0 ? X : act_buffer(l - 1);
    T* W = params_.data() + w_off_[l];
    T* b = params_.data() + bias_offset(l);
    // The delta of the layer below uses the old W, so it comes before W's update.
    if (l > 0) dense_backward_input(below, delta, W, act_buffer(l - 1), acts_[l - 1], n, in_w, out_w);
    column_sums(db_.data(), delta, n, out_w);
    dense_backward_weights(W, delta, a_in, n, in_w, out_w, -lr, T(1) - lr * l2);
    for (idx j = 0; j < out_w; ++j) b[j] -= lr * db_[j];
    std::swap(delta, below);
  }
  ++steps_;
  return loss;
}

template <class T>
void Network<T>::backward_to_grad(const T* X, idx n, T l2, T* grad) {
  T* delta = delta_a_.data();
  T* below = delta_b_.data();
  for (idx l = num_layers() - 1; l >= 0; --l) {
    const idx in_w = sizes_[l], out_w = sizes_[l + 1];
    const T* a_in = l == 0 ? X : act_buffer(l - 1);
    const T* W = params_.data() + w_off_[l];
    T* dW = grad + w_off_[l];
    if (l > 0) dense_backward_input(below, delta, W, act_buffer(l - 1), acts_[l - 1], n, in_w, out_w);
    column_sums(grad + bias_offset(l), delta, n, out_w);
    dense_backward_weights(dW, delta, a_in, n, in_w, out_w, T(1), T(0));
    if (l2 != T(0)) add_l2_gradient(dW, W, in_w * out_w, l2);
    std::swap(delta, below);
  }
}

namespace {
// The coupled L2 strength of a step: scikit-learn's alpha is divided by the batch's rows (or
// weight sum); an empty or all-zero-weight batch gets none.
double effective_l2(const OptimConfig& cfg, double mass) {
  if (!cfg.l2_per_sample) return cfg.l2;
  return mass > 0.0 ? cfg.l2 / mass : 0.0;
}

template <class T>
double batch_mass(const T* weights, idx n) {
  if (!weights) return double(n);
  double mass = 0.0;
  for (idx i = 0; i < n; ++i) mass += double(weights[i]);
  return mass;
}
}  // namespace

template <class T>
double Network<T>::optimizer_step(const T* X, Target<T> y, const T* weights, idx n,
                                  const OptimConfig& cfg) {
  const T l2 = T(effective_l2(cfg, cfg.l2_per_sample ? batch_mass(weights, n) : double(n)));
  if (cfg.is_plain_sgd()) return sgd_step(X, y, weights, n, T(cfg.lr), l2);

  const idx count = num_params();
  if (idx(grad_.size()) != count) grad_.assign(std::size_t(count), T(0));
  const double loss = forward_train(X, y, weights, n, l2);
  backward_to_grad(X, n, T(0), grad_.data());
  apply_update(grad_.data(), cfg, l2);
  return loss;
}

template <class T>
void Network<T>::apply_update(T* grad, const OptimConfig& cfg, T l2) {
  const idx count = num_params();
  const T lr = T(cfg.lr);
  if (l2 != T(0))
    for (idx l = 0; l < num_layers(); ++l)
      add_l2_gradient(grad + w_off_[l], params_.data() + w_off_[l], sizes_[l + 1] * sizes_[l], l2);
  if (cfg.clip_norm > 0.0) clip_by_global_norm(grad, count, T(cfg.clip_norm));
  if (cfg.weight_decay != 0.0)
    for (idx l = 0; l < num_layers(); ++l)
      decoupled_weight_decay(params_.data() + w_off_[l], sizes_[l + 1] * sizes_[l], lr,
                             T(cfg.weight_decay));
  ++steps_;
  if (cfg.kind == OptimKind::Adam) {
    if (idx(adam_m_.size()) != count) adam_m_.assign(std::size_t(count), T(0));
    if (idx(adam_v_.size()) != count) adam_v_.assign(std::size_t(count), T(0));
    adam_update(params_.data(), adam_m_.data(), adam_v_.data(), grad, count, lr,
                T(cfg.beta1), T(cfg.beta2), T(cfg.eps), steps_);
  } else {
    if (cfg.momentum != 0.0 && idx(velocity_.size()) != count)
      velocity_.assign(std::size_t(count), T(0));
    sgd_momentum_update(params_.data(), velocity_.empty() ? nullptr : velocity_.data(), grad,
                        count, lr, T(cfg.momentum), cfg.nesterov);
  }
}

template <class T>
void Network<T>::apply_gradient(T* grad, const OptimConfig& cfg, double mass) {
  std::lock_guard<std::mutex> lock(train_mutex_);
  apply_update(grad, cfg, T(effective_l2(cfg, mass)));
}

template <class T>
double Network<T>::train_step(const T* X, Target<T> y, const T* weights, idx n,
                              const OptimConfig& cfg) {
  std::lock_guard<std::mutex> lock(train_mutex_);
  return optimizer_step(X, y, weights, n, cfg);
}

template <class T>
double Network<T>::train_epoch(const T* X, Target<T> y, const T* weights, idx n,
                               const std::int64_t* order, idx batch, const OptimConfig& cfg,
                               const std::function<void()>& between_batches) {
  const idx in_w = input_width(), out_w = output_width();
  if (order) {  // staging for gathered rows, sized once
    batch_x_.resize(std::size_t(batch * in_w));
    if (y.labels) batch_labels_.resize(std::size_t(batch));
    if (y.values) batch_values_.resize(std::size_t(batch * out_w));
    if (weights) batch_weights_.resize(std::size_t(batch));
  }
  double total = 0.0, mass = 0.0;
  for (idx r0 = 0; r0 < n; r0 += batch) {
    const idx rows = std::min(batch, n - r0);
    const T* xb = X + r0 * in_w;
    const T* wb = weights ? weights + r0 : nullptr;
    Target<T> yb{y.labels ? y.labels + r0 : nullptr, y.values ? y.values + r0 * out_w : nullptr};
    if (order) {
      for (idx i = 0; i < rows; ++i) {
        const idx src = idx(order[r0 + i]);
        std::copy_n(X + src * in_w, in_w, batch_x_.data() + i * in_w);
        if (y.labels) batch_labels_[i] = y.labels[src];
        if (y.values) std::copy_n(y.values + src * out_w, out_w, batch_values_.data() + i * out_w);
        if (weights) batch_weights_[i] = weights[src];
      }
      xb = batch_x_.data();
      wb = weights ? batch_weights_.data() : nullptr;
      yb = {y.labels ? batch_labels_.data() : nullptr, y.values ? batch_values_.data() : nullptr};
    }
    // The epoch's loss is the mean over rows, weighted like the batches' losses.
    double batch_mass = double(rows);
    if (wb) {
      batch_mass = 0.0;
      for (idx i = 0; i < rows; ++i) batch_mass += double(wb[i]);
    }
    total += train_step(xb, yb, wb, rows, cfg) * batch_mass;
    mass += batch_mass;
    if (between_batches) between_batches();
  }
  return mass > 0.0 ? total / mass : 0.0;
}

template <class T>
double Network<T>::gradient(const T* X, Target<T> y, idx n, T l2, T* grad, const T* weights) {
  std::lock_guard<std::mutex> lock(train_mutex_);
  const double loss = forward_train(X, y, weights, n, l2);
  backward_to_grad(X, n, l2, grad);
  return loss;
}

template <class T>
void Network<T>::set_optimizer_state(std::int64_t steps, std::vector<T> velocity, std::vector<T> m,
                                     std::vector<T> v) {
  for (const auto* state : {&velocity, &m, &v})
    if (!state->empty() && idx(state->size()) != num_params())
      throw std::invalid_argument("optimizer state: expected empty or num_params values");
  if (steps < 0) throw std::invalid_argument("optimizer state: steps must be >= 0");
  std::lock_guard<std::mutex> lock(train_mutex_);
  steps_ = steps;
  velocity_ = std::move(velocity);
  adam_m_ = std::move(m);
  adam_v_ = std::move(v);
}

template <class T>
void Network<T>::reset_optimizer_state() {
  std::lock_guard<std::mutex> lock(train_mutex_);
  steps_ = 0;
  std::fill(velocity_.begin(), velocity_.end(), T(0));  // keeps the memory: no reallocation
  std::fill(adam_m_.begin(), adam_m_.end(), T(0));
  std::fill(adam_v_.begin(), adam_v_.end(), T(0));
}

template class Network<float>;
template class Network<double>;

}  // namespace dp
