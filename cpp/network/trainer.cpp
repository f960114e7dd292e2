#include "trainer.hpp"
#include <algorithm>
#include "../runtime/dispatch.hpp"
#include "../runtime/threads.hpp"

namespace dp {
namespace {
// Bytes of gathered rows per thread below which one thread copies them all: a fork/join costs
// about as much as copying this much from memory.
constexpr double kGatherBytesPerThread = 128.0 * 1024.0;

// Rows order[0..rows) of X (width `width`) into `out`, one after another. A large batch of a wide
// data set is copied by several threads (rows in random order miss every cache, so the copy is
// bound by memory latency, which more threads hide); each row is a plain copy whoever makes it.
template <class T>
void gather_rows(const T* X, idx width, const std::int64_t* order, idx rows, T* out) {
  const int team = threads_for_work(double(rows) * double(width) * double(sizeof(T)),
                                    kGatherBytesPerThread);
  if (team <= 1) {
    for (idx i = 0; i < rows; ++i) std::copy_n(X + idx(order[i]) * width, width, out + i * width);
    return;
  }
  parallel_for(team, rows, [&](idx i) { std::copy_n(X + idx(order[i]) * width, width, out + i * width); });
}
// Rows of a batch, or the sum of their weights: what a weighted mean divides by.
template <class T>
double batch_mass(const T* weights, idx n) {
  if (!weights) return double(n);
  double mass = 0.0;
  for (idx i = 0; i < n; ++i) mass += double(weights[i]);
  return mass;
}
}  // namespace

template <class T>
bool Trainer<T>::step_team_ready(const Model<T>& model, idx n, bool fused_sgd) {
  const int threads = get_num_threads();
  if (!step_team_enabled() || model.precision() == Precision::Bf16 || threads < 2) return false;
  const StepShape shape{n, threads, gemm_config_generation(), fused_sgd};
  for (const StepShape& warm : warm_)
    if (warm == shape) return true;
  warm_[next_warm_] = shape;
  next_warm_ = (next_warm_ + 1) % 2;
  return false;
}

template <class T>
double Trainer<T>::forward_backward(Model<T>& model, const T* X, Target<T> y, const T* weights,
                                    idx n, T l2, const GradientSink<T>& sink) {
  ws_.reserve(model.sizes(), n);
  if (!step_team_ready(model, n, sink.grad == nullptr)) {
    const double loss = model.forward_train(X, y, weights, n, l2, ws_);
    model.backward(X, n, ws_, sink);
    return loss;
  }
  // Every thread runs the step; the loss is the leader's.
  double loss = 0.0;
  run_step_team(get_num_threads(), [&](int t) {
    const double mine = model.forward_train(X, y, weights, n, l2, ws_);
    model.backward(X, n, ws_, sink);
    if (t == 0) loss = mine;
  });
  return loss;
}

template <class T>
double Trainer<T>::gradient(Model<T>& model, const T* X, Target<T> y, const T* weights, idx n,
                            T l2, T* grad) {
  const double loss = forward_backward(model, X, y, weights, n, l2, GradientSink<T>::into(grad));
  model.add_l2_gradient(grad, l2);
  return loss;
}

template <class T>
double Trainer<T>::scaled_gradient(Model<T>& model, const T* X, Target<T> y, const T* weights,
                                   idx n, T scale, T* grad) {
  ws_.reserve(model.sizes(), n);
  const double loss = model.forward_train(X, y, weights, n, T(0), ws_);
  T* delta = ws_.delta_a();  // backpropagation is linear in it
  for (idx i = 0, count = n * model.output_width(); i < count; ++i) delta[i] *= scale;
  model.backward(X, n, ws_, GradientSink<T>::into(grad));
  return loss;
}

template <class T>
double Trainer<T>::sgd_step(Model<T>& model, OptimizerState<T>& opt, const T* X, Target<T> y,
                            const T* weights, idx n, T lr, T l2) {
  const double loss = forward_backward(model, X, y, weights, n, l2, GradientSink<T>::sgd_step(lr, l2));
  opt.count_fused_step();
  return loss;
}

template <class T>
double Trainer<T>::step(Model<T>& model, OptimizerState<T>& opt, const T* X, Target<T> y,
                        const T* weights, idx n, const OptimConfig& cfg) {
  const T l2 = T(cfg.l2_for_batch(cfg.l2_per_sample ? batch_mass(weights, n) : double(n)));
  if (cfg.is_plain_sgd()) return sgd_step(model, opt, X, y, weights, n, T(cfg.lr), l2);

  if (idx(grad_.size()) != model.num_params()) grad_.assign(std::size_t(model.num_params()), T(0));
  const double loss = forward_backward(model, X, y, weights, n, l2, GradientSink<T>::into(grad_.data()));
  opt.apply(model, grad_.data(), cfg, l2);  // adds the L2 term's gradient first
  return loss;
}

template <class T>
double Trainer<T>::epoch(Model<T>& model, OptimizerState<T>& opt, const T* X, Target<T> y,
                         const T* weights, idx n, const std::int64_t* order, idx batch,
                         const OptimConfig& cfg, const std::function<void()>& between_batches) {
  const idx in_w = model.input_width(), out_w = model.output_width();
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
      gather_rows(X, in_w, order + r0, rows, batch_x_.data());
      for (idx i = 0; i < rows; ++i) {
        const idx src = idx(order[r0 + i]);
        if (y.labels) batch_labels_[i] = y.labels[src];
        if (y.values) std::copy_n(y.values + src * out_w, out_w, batch_values_.data() + i * out_w);
        if (weights) batch_weights_[i] = weights[src];
      }
      xb = batch_x_.data();
      wb = weights ? batch_weights_.data() : nullptr;
      yb = {y.labels ? batch_labels_.data() : nullptr, y.values ? batch_values_.data() : nullptr};
    }
    // The epoch's loss is the mean over rows, weighted like the batches' losses.
    const double batch_weight = batch_mass(wb, rows);
    total += step(model, opt, xb, yb, wb, rows, cfg) * batch_weight;
    mass += batch_weight;
    if (between_batches) between_batches();
  }
  return mass > 0.0 ? total / mass : 0.0;
}

template class Trainer<float>;
template class Trainer<double>;

}  // namespace dp
