#include "network.hpp"
#include <algorithm>
#include <stdexcept>
#include <utility>
#include "../kernels/losses.hpp"
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
  if (loss_ == LossKind::CrossEntropy) softmax_rows(logits, n, output_width(), logits);
  if (loss_ == LossKind::BinaryCrossEntropy) sigmoid(logits, n * output_width(), logits);
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
double Network<T>::forward_train(const T* X, Target<T> y, idx n, T l2) {
  ensure_workspace(n);
  const T* in = X;
  for (idx l = 0; l < num_layers(); ++l) {
    dense_forward(act_buffer(l), static_cast<T*>(nullptr), in, params_.data() + w_off_[l],
                  params_.data() + bias_offset(l), n, sizes_[l], sizes_[l + 1], acts_[l]);
    in = act_buffer(l);
  }
  // delta_a_ receives dLoss/dlogits (already divided by the batch size: losses are means).
  return loss_of(act_buffer(num_layers() - 1), y, n, delta_a_.data()) + l2_penalty(l2);
}

template <class T>
double Network<T>::train_step_sgd(const T* X, Target<T> y, idx n, T lr, T l2) {
  std::lock_guard<std::mutex> lock(train_mutex_);
  const double loss = forward_train(X, y, n, l2);
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
  return loss;
}

template <class T>
double Network<T>::train_epoch_sgd(const T* X, Target<T> y, idx n, const std::int64_t* order,
                                   idx batch, T lr, T l2,
                                   const std::function<void()>& between_batches) {
  const idx in_w = input_width(), out_w = output_width();
  if (order) {  // staging for gathered rows, sized once
    batch_x_.resize(std::size_t(batch * in_w));
    if (y.labels) batch_labels_.resize(std::size_t(batch));
    if (y.values) batch_values_.resize(std::size_t(batch * out_w));
  }
  double total = 0.0;
  for (idx r0 = 0; r0 < n; r0 += batch) {
    const idx rows = std::min(batch, n - r0);
    const T* xb = X + r0 * in_w;
    Target<T> yb{y.labels ? y.labels + r0 : nullptr, y.values ? y.values + r0 * out_w : nullptr};
    if (order) {
      for (idx i = 0; i < rows; ++i) {
        const idx src = idx(order[r0 + i]);
        std::copy_n(X + src * in_w, in_w, batch_x_.data() + i * in_w);
        if (y.labels) batch_labels_[i] = y.labels[src];
        if (y.values) std::copy_n(y.values + src * out_w, out_w, batch_values_.data() + i * out_w);
      }
      xb = batch_x_.data();
      yb = {y.labels ? batch_labels_.data() : nullptr, y.values ? batch_values_.data() : nullptr};
    }
    total += train_step_sgd(xb, yb, rows, lr, l2) * double(rows);
    if (between_batches) between_batches();
  }
  return total / double(n);
}

template <class T>
double Network<T>::loss_and_grad(const T* X, Target<T> y, idx n, T l2, T* grad) {
  std::lock_guard<std::mutex> lock(train_mutex_);
  const double loss = forward_train(X, y, n, l2);
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
    if (l2 != T(0))
      for (idx k = 0, count = in_w * out_w; k < count; ++k) dW[k] += l2 * W[k];
    std::swap(delta, below);
  }
  return loss;
}

template class Network<float>;
template class Network<double>;

}  // namespace dp
