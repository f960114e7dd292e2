#include "model.hpp"
#include <algorithm>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include "../kernels/gemm/gemm.hpp"
#include "../kernels/losses.hpp"
#include "../kernels/optimizers.hpp"
#include "../layers/dense.hpp"
#include "../layers/dense_bf16.hpp"
#include "../runtime/threads.hpp"
#include "init.hpp"

namespace dp {
namespace {
constexpr idx kInferenceChunk = 1024;  // rows per pass in inference: bounded scratch memory
constexpr idx kFewRows = 4;            // bf16 inference of at most this many rows: no cached panels
}

template <class T>
Model<T>::Model(std::vector<idx> sizes, std::vector<Act> hidden_acts, LossKind loss,
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
    total += weight_count(l) + sizes_[l + 1];
  }
  params_.assign(std::size_t(total), T(0));
  SplitMix64 rng(seed);
  for (idx l = 0; l < num_layers(); ++l) {
    const Act init_as = l + 1 < num_layers() ? acts_[l] : output_init;
    init_weights(params_.data() + w_off_[l], sizes_[l + 1], sizes_[l], init_as, rng);
  }
}

template <class T>
void Model<T>::set_precision(Precision p) {
  if (p == Precision::Bf16 && !std::is_same_v<T, float>)
    throw std::invalid_argument("precision: 'bf16' applies to float32 models, this one is float64");
  precision_ = p;
}

// ------------------------------------------------------------------------------- inference

template <class T>
void Model<T>::require_precision(Precision p) const {
  if (!std::is_same_v<T, float> && p == Precision::Bf16)
    throw std::invalid_argument("precision: 'bf16' applies to float32 models, this one is float64");
}

template <class T>
std::shared_ptr<const Bf16InferenceWeights::Panels> Model<T>::inference_panels(Precision p) const {
  require_precision(p);
  if constexpr (std::is_same_v<T, float>) {
    if (p == Precision::Bf16) return bf16_weights_.get(params_.data(), num_params(), sizes_, w_off_);
  }
  return nullptr;
}

template <class T>
void Model<T>::layer_forward(idx l, const T* X, idx n, T* A, Precision p,
                             const Bf16InferenceWeights::Panels* panels) const {
  const T* W = params_.data() + w_off_[l];
  const T* b = params_.data() + bias_offset(l);
  if constexpr (std::is_same_v<T, float>) {
    if (p == Precision::Bf16)
      return dense_forward_bf16(A, X, W, b, n, sizes_[l], sizes_[l + 1], acts_[l],
                                panels ? &panels->layers[std::size_t(l)] : nullptr);
  }
  dense_forward(A, static_cast<T*>(nullptr), X, W, b, n, sizes_[l], sizes_[l + 1], acts_[l]);
}

template <class T>
void Model<T>::output_transform(T* logits, idx n) const {
  switch (output_transform_of(loss_)) {
    case OutputTransform::Softmax: return softmax_rows(logits, n, output_width(), logits);
    case OutputTransform::Sigmoid: return sigmoid(logits, n * output_width(), logits);
    case OutputTransform::Exp: return exp_values(logits, n * output_width(), logits);
    case OutputTransform::Identity: return;
  }
}

namespace {

// Thread t's share of one sample through a layer (K inputs, N outputs): its columns of
// out = g(W in + b), in bf16 products through `bf16` (float32 models) or, if null, in T.
template <class T>
void one_sample_columns(int t, int team, idx K, idx N, const T* in, const T* W, T* out,
                        const GemmEpilogue<T>& ep, const GemmBf16Arch* bf16) {
  if constexpr (std::is_same_v<T, float>) {
    if (bf16)
      return gemv_columns_bf16(*bf16, gemv_split_bf16(*bf16, N, t, team),
                               gemv_split_bf16(*bf16, N, t + 1, team), K, in, W, K, out, &ep);
  }
  gemv_columns(gemv_split<T>(N, t, team), gemv_split<T>(N, t + 1, team), K, in, W, K, out, &ep);
}

}  // namespace

// A single sample is memory-bound: each layer reads its weights once. Every layer's outputs are
// split among the threads of one parallel region, the same outputs on every call, so each core
// reads its share of the weights from its own L2; a barrier between layers costs less than a
// fork/join per layer. Each output is one dot product whatever the split (bitwise the same). In
// bf16 the weights are rounded in registers as they stream (the cached bf16 panels would cost a
// read of every weight to check first).
template <class T>
void Model<T>::forward_one_sample(const T* x, T* logits, const GemmBf16Arch* bf16) const {
  // The two hidden-output buffers come from the calling thread's scratch: allocating them took
  // ~0.8 us of a ~20 us call.
  constexpr std::size_t kLine = 64 / sizeof(T);
  const std::size_t widest = std::size_t(*std::max_element(sizes_.begin() + 1, sizes_.end()));
  const std::size_t stride = (widest + kLine - 1) / kLine * kLine;  // pong on its own cache line
  thread_local ScratchBuffer<T> hidden;
  T* const ping = hidden.reserve(2 * stride);
  T* const pong = ping + stride;
  double flops = 0;
  for (idx l = 0; l < num_layers(); ++l) flops += 2.0 * double(sizes_[l]) * double(sizes_[l + 1]);
  run_team(gemv_team<T>(flops), [&](int t, int team) {
    const T* in = x;
    for (idx l = 0; l < num_layers(); ++l) {
      const bool last = l + 1 == num_layers();
      T* out = last ? logits : (l % 2 ? pong : ping);
      GemmEpilogue<T> ep;
      ep.bias = params_.data() + bias_offset(l);
      ep.act = acts_[l];
      const idx n_out = sizes_[l + 1];
      one_sample_columns(t, team, sizes_[l], n_out, in, params_.data() + w_off_[l], out, ep, bf16);
      if (!last) team_barrier();
      in = out;
    }
  });
}

template <class T>
void Model<T>::forward(const T* X, idx n, T* logits, Precision p) const {
  require_precision(p);
  if (n == 1) {
    const GemmBf16Arch* bf16 = p == Precision::Bf16 ? bf16_gemv_arch() : nullptr;
    if (p == Precision::Fp32 || bf16) return forward_one_sample(X, logits, bf16);
  }
  // A few rows (one sample) read the weights once, rounding them in registers: cheaper than
  // checking the cached panels (one read of the weights) and reading them too.
  const auto panels = inference_panels(n > kFewRows ? p : Precision::Fp32);
  const idx widest = *std::max_element(sizes_.begin(), sizes_.end());
  AlignedVector<T> ping(std::size_t(std::min(n, kInferenceChunk) * widest)), pong(ping.size());
  for (idx r0 = 0; r0 < n; r0 += kInferenceChunk) {
    const idx rows = std::min(kInferenceChunk, n - r0);
    const T* in = X + r0 * input_width();
    for (idx l = 0; l < num_layers(); ++l) {
      const bool last = l + 1 == num_layers();
      T* out = last ? logits + r0 * output_width() : (l % 2 ? pong.data() : ping.data());
      layer_forward(l, in, rows, out, p, panels.get());
      in = out;
    }
  }
}

template <class T>
void Model<T>::output(const T* X, idx n, T* out, Precision p) const {
  forward(X, n, out, p);
  output_transform(out, n);
}

template <class T>
void Model<T>::activations(const T* X, idx n, const std::vector<T*>& outs, Precision p) const {
  const auto panels = inference_panels(n > kFewRows ? p : Precision::Fp32);
  const T* in = X;
  for (idx l = 0; l < num_layers(); ++l) {
    layer_forward(l, in, n, outs[l], p, panels.get());
    in = outs[l];
  }
  output_transform(outs.back(), n);
}

template <class T>
double Model<T>::loss_of(const T* logits, Target<T> y, idx n, T* grad) const {
  const idx c = output_width();
  switch (loss_) {
    case LossKind::CrossEntropy: return softmax_cross_entropy(logits, n, c, y, grad);
    case LossKind::MeanSquared: return mean_squared_error(logits, n, c, y.values, grad);
    case LossKind::Poisson: return poisson_log_link(logits, n, c, y.values, grad);
    default: return sigmoid_binary_cross_entropy(logits, n, c, y.values, grad);
  }
}

template <class T>
double Model<T>::evaluate_loss(const T* X, Target<T> y, idx n, Precision p) const {
  std::vector<T> logits(std::size_t(n * output_width()));
  return evaluate(X, y, n, logits.data(), p);
}

template <class T>
double Model<T>::evaluate(const T* X, Target<T> y, idx n, T* logits, Precision p) const {
  forward(X, n, logits, p);
  return loss_of(logits, y, n, nullptr);
}

// -------------------------------------------------------------------------------- training

template <class T>
double Model<T>::l2_penalty(T l2) const {
  if (l2 == T(0)) return 0.0;
  double sum = 0.0;
  for (idx l = 0; l < num_layers(); ++l) sum += squared_norm(params_.data() + w_off_[l], weight_count(l));
  return 0.5 * double(l2) * sum;
}

template <class T>
void Model<T>::add_l2_gradient(T* grad, T l2) const {
  if (l2 == T(0)) return;
  for (idx l = 0; l < num_layers(); ++l)
    dp::add_l2_gradient(grad + w_off_[l], params_.data() + w_off_[l], weight_count(l), l2);
}

template <class T>
double Model<T>::weighted_loss_of(const T* logits, Target<T> y, const T* weights, idx n,
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
double Model<T>::forward_train(const T* X, Target<T> y, const T* weights, idx n, T l2,
                               BackpropWorkspace<T>& ws) const {
  const T* in = X;
  for (idx l = 0; l < num_layers(); ++l) {
    layer_forward(l, in, n, ws.act(l), precision_, nullptr);  // bf16: W packed inside the product
    in = ws.act(l);
  }
  // delta_a receives dLoss/dlogits (already divided by the batch size: losses are means). In a
  // step team the leader computes it (the others return 0).
  double loss = 0.0;
  team_single([&] {
    loss = weighted_loss_of(ws.act(num_layers() - 1), y, weights, n, ws.delta_a()) + l2_penalty(l2);
  });
  return loss;
}

template <class T>
void Model<T>::backward(const T* X, idx n, BackpropWorkspace<T>& ws, const GradientSink<T>& sink) {
  // The two backward products in the model's precision (bias gradients and updates: float32).
  const bool bf16 = precision_ == Precision::Bf16;
  auto backward_input = [bf16](T* dX, const T* dZ, const T* W, const T* prev_A, Act act, idx rows,
                               idx in, idx out) {
    if constexpr (std::is_same_v<T, float>)
      if (bf16) return dense_backward_input_bf16(dX, dZ, W, prev_A, act, rows, in, out);
    dense_backward_input(dX, dZ, W, prev_A, act, rows, in, out);
  };
  auto backward_weights = [bf16](T* dW, const T* dZ, const T* Xl, idx rows, idx in, idx out,
                                 T alpha, T beta) {
    if constexpr (std::is_same_v<T, float>)
      if (bf16) return dense_backward_weights_bf16(dW, dZ, Xl, rows, in, out, alpha, beta);
    dense_backward_weights(dW, dZ, Xl, rows, in, out, alpha, beta);
  };
  const bool fused = sink.grad == nullptr;
  T* delta = ws.delta_a();
  T* below = ws.delta_b();
  for (idx l = num_layers() - 1; l >= 0; --l) {
    const idx in_w = sizes_[l], out_w = sizes_[l + 1];
    const T* a_in = l == 0 ? X : ws.act(l - 1);
    T* W = params_.data() + w_off_[l];
    T* b = params_.data() + bias_offset(l);
    // Small batch, plain SGD: the delta below and the update of W in one pass over W (float32
    // products: not in bf16).
    if (fused && !bf16 && dense_backward_sgd_fused(l > 0 ? below : static_cast<T*>(nullptr), delta, W, a_in,
                                          l > 0 ? ws.act(l - 1) : nullptr,
                                          l > 0 ? acts_[l - 1] : Act::Identity, n, in_w, out_w,
                                          sink.lr, sink.l2)) {
      team_single([&] {
        column_sums(ws.db(), delta, n, out_w);
        for (idx j = 0; j < out_w; ++j) b[j] -= sink.lr * ws.db()[j];
      });
      std::swap(delta, below);
      continue;
    }
    // The delta of the layer below uses the old W, so it comes before a fused update of W.
    if (l > 0) backward_input(below, delta, W, ws.act(l - 1), acts_[l - 1], n, in_w, out_w);
    if (fused) {
      // b is read by the forward pass only: updated before W's product, in one pass.
      team_single([&] {
        column_sums(ws.db(), delta, n, out_w);
        for (idx j = 0; j < out_w; ++j) b[j] -= sink.lr * ws.db()[j];
      });
      backward_weights(W, delta, a_in, n, in_w, out_w, -sink.lr, T(1) - sink.lr * sink.l2);
    } else {
      team_single([&] { column_sums(sink.grad + bias_offset(l), delta, n, out_w); });
      backward_weights(sink.grad + w_off_[l], delta, a_in, n, in_w, out_w, T(1), T(0));
    }
    std::swap(delta, below);
  }
}

template class Model<float>;
template class Model<double>;

}  // namespace dp
