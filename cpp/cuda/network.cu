#include "network.hpp"
#include <algorithm>
#include <cstring>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <utility>

namespace dp::cuda {
namespace {
constexpr std::size_t kSegmentAlignBytes = 256;
constexpr std::size_t kInferenceBytes = std::size_t(1) << 30;  // per inference buffer: few, large products

idx align_up(idx count, idx elems) { return (count + elems - 1) / elems * elems; }
}  // namespace

// What a step does; its flags and row count key the graph cache.
template <class T>
struct Network<T>::StepShape {
  idx rows = 0;
  bool gather = false;   // rows come from the bound data set through the order
  bool labels = false, values = false, weights = false;
  bool update = false;   // false: gradient only (loss_and_grad)
  bool l2 = false;
  UpdateKind kind{};
  int flags() const {
    return int(gather) | int(labels) << 1 | int(values) << 2 | int(weights) << 3 | int(update) << 4 |
           int(l2) << 5 | int(kind.adam) << 6 | int(kind.momentum) << 7 | int(kind.nesterov) << 8 |
           int(kind.weight_decay) << 9 | int(kind.clip) << 10;
  }
};

template <class T>
Network<T>::Network(int device, std::vector<idx> sizes, std::vector<Act> hidden_acts, LossId loss,
                    const T* params)
    : ctx_(device), matmul_(ctx_), sizes_(std::move(sizes)), acts_(std::move(hidden_acts)), loss_(loss) {
  if (sizes_.size() < 2 || acts_.size() != sizes_.size() - 2)
    throw std::invalid_argument("sizes/activations: need L+1 widths and L-1 hidden activations");
  acts_.push_back(Act::Identity);
  const idx align = idx(kSegmentAlignBytes / sizeof(T));
  idx at = 0, host = 0;
  for (idx l = 0; l < num_layers(); ++l) {
    w_off_.push_back(at);
    host_w_off_.push_back(host);
    at += align_up(sizes_[l + 1] * sizes_[l], align);
    host += sizes_[l + 1] * sizes_[l] + sizes_[l + 1];
  }
  weight_end_ = at;
  for (idx l = 0; l < num_layers(); ++l) {
    b_off_.push_back(at);
    at += align_up(sizes_[l + 1], align);
  }
  device_count_ = at;
  host_count_ = host;
  params_.reserve(std::size_t(device_count_), "the parameters");
  grad_.reserve(std::size_t(device_count_), "the gradient");
  check(cudaMemsetAsync(params_.data(), 0, sizeof(T) * device_count_, ctx_.stream()), "zero parameters");
  check(cudaMemsetAsync(grad_.data(), 0, sizeof(T) * device_count_, ctx_.stream()), "zero gradient");
  state_.reserve(1, "the step state");
  hyper_.reserve(1, "the optimizer settings");
  partials_.reserve(kReducePartials, "reduction scratch");
  check(cudaMemsetAsync(state_.data(), 0, sizeof(StepState), ctx_.stream()), "zero state");
  check(cudaMallocHost(&host_hyper_, sizeof(Hyper)), "pinned host memory");
  check(cudaMallocHost(&host_state_, sizeof(StepState)), "pinned host memory");
  upload_params(params);
}

template <class T>
Network<T>::~Network() {
  cudaSetDevice(ctx_.device());
  cudaStreamSynchronize(ctx_.stream());
  clear_graphs();
  if (host_hyper_) cudaFreeHost(host_hyper_);
  if (host_state_) cudaFreeHost(host_state_);
  if (host_order_) cudaFreeHost(host_order_);
  free_staging();
}

template <class T>
void Network<T>::clear_graphs() {
  for (auto& entry : graphs_) cudaGraphExecDestroy(entry.second);
  graphs_.clear();
  eager_runs_.clear();
}

template <class T>
void Network<T>::set_epilogues(bool on) {
  std::lock_guard<std::mutex> lock(mutex_);
  matmul_.allow_epilogues = on;
  clear_graphs();
}

// ------------------------------------------------------------------ layout conversions
template <class T>
void Network<T>::copy_layout(T* host, const T* dev, bool to_host) {
  cudaStream_t s = ctx_.stream();
  for (idx l = 0; l < num_layers(); ++l) {
    const idx nw = sizes_[l + 1] * sizes_[l], nb = sizes_[l + 1];
    T* h = host + host_w_off_[l];
    T* d = const_cast<T*>(dev);
    if (to_host) {
      check(cudaMemcpyAsync(h, d + w_off_[l], sizeof(T) * nw, cudaMemcpyDeviceToHost, s), "download");
      check(cudaMemcpyAsync(h + nw, d + b_off_[l], sizeof(T) * nb, cudaMemcpyDeviceToHost, s), "download");
    } else {
      check(cudaMemcpyAsync(d + w_off_[l], h, sizeof(T) * nw, cudaMemcpyHostToDevice, s), "upload");
      check(cudaMemcpyAsync(d + b_off_[l], h + nw, sizeof(T) * nb, cudaMemcpyHostToDevice, s), "upload");
    }
  }
  ctx_.synchronize();
}

template <class T>
void Network<T>::copy_layout_in(T* dev, const T* host) {
  copy_layout(const_cast<T*>(host), dev, false);
}

template <class T>
void Network<T>::upload_params(const T* in) { copy_layout_in(params_.data(), in); }

template <class T>
void Network<T>::get_params(T* out) {
  std::lock_guard<std::mutex> lock(mutex_);
  ctx_.activate();
  copy_layout(out, params_.data(), true);
}

template <class T>
void Network<T>::set_params(const T* in) {
  std::lock_guard<std::mutex> lock(mutex_);
  ctx_.activate();
  upload_params(in);
}

template <class T>
void Network<T>::save_snapshot() {
  std::lock_guard<std::mutex> lock(mutex_);
  ctx_.activate();
  snapshot_.reserve(std::size_t(device_count_), "a copy of the parameters");
  check(cudaMemcpyAsync(snapshot_.data(), params_.data(), sizeof(T) * device_count_, cudaMemcpyDeviceToDevice,
                        ctx_.stream()),
        "snapshot the parameters");
  ctx_.synchronize();
}

template <class T>
void Network<T>::restore_snapshot() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!snapshot_.data()) throw std::logic_error("restore_snapshot: no snapshot taken");
  ctx_.activate();
  check(cudaMemcpyAsync(params_.data(), snapshot_.data(), sizeof(T) * device_count_, cudaMemcpyDeviceToDevice,
                        ctx_.stream()),
        "restore the parameters");
  ctx_.synchronize();
}

template <class T>
bool Network<T>::params_finite() {
  std::lock_guard<std::mutex> lock(mutex_);
  ctx_.activate();
  // Σ p² in double: inf or NaN exactly when some parameter is (|p| < 1e154 for any finite float).
  double* out = &state_.data()->grad_sq;
  reduce_sum<T>(ctx_.stream(), params_.data(), device_count_, true, partials_.data(), out);
  double sum = 0.0;
  check(cudaMemcpyAsync(&sum, out, sizeof(double), cudaMemcpyDeviceToHost, ctx_.stream()), "read the norm");
  ctx_.synchronize();
  return std::isfinite(sum);
}

// ------------------------------------------------------------------ optimizer state
template <class T>
std::int64_t Network<T>::optimizer_steps() {
  std::lock_guard<std::mutex> lock(mutex_);
  ctx_.activate();
  long long steps = 0;
  check(cudaMemcpyAsync(&steps, &state_.data()->steps, sizeof(steps), cudaMemcpyDeviceToHost, ctx_.stream()),
        "read steps");
  ctx_.synchronize();
  return steps;
}

template <class T>
void Network<T>::ensure_optimizer_state(const StepConfig& cfg) {
  auto make = [&](DeviceBuffer<T>& buf, const char* what) {
    clear_graphs();  // a graph without this state must not be replayed with it
    buf.reserve(std::size_t(device_count_), what);
    check(cudaMemsetAsync(buf.data(), 0, sizeof(T) * device_count_, ctx_.stream()), what);
  };
  if (cfg.adam && !have_adam_) {
    make(adam_m_, "the Adam moments");
    make(adam_v_, "the Adam moments");
    have_adam_ = true;  // only once both exist
  } else if (!cfg.adam && cfg.momentum != 0.0 && !have_velocity_) {
    make(velocity_, "the momentum velocity");
    have_velocity_ = true;
  }
}

template <class T>
void Network<T>::get_optimizer_state(T* velocity, T* m, T* v, bool* have) {
  std::lock_guard<std::mutex> lock(mutex_);
  ctx_.activate();
  have[0] = have_velocity_;
  have[1] = have[2] = have_adam_;
  if (have_velocity_ && velocity) copy_layout(velocity, velocity_.data(), true);
  if (have_adam_ && m) copy_layout(m, adam_m_.data(), true);
  if (have_adam_ && v) copy_layout(v, adam_v_.data(), true);
}

template <class T>
void Network<T>::set_optimizer_state(std::int64_t steps, const T* velocity, const T* m, const T* v) {
  if (steps < 0) throw std::invalid_argument("optimizer state: steps must be >= 0");
  std::lock_guard<std::mutex> lock(mutex_);
  ctx_.activate();
  StepConfig momentum_cfg, adam_cfg;
  momentum_cfg.momentum = 1.0;
  adam_cfg.adam = true;
  if (velocity) {
    ensure_optimizer_state(momentum_cfg);
    copy_layout_in(velocity_.data(), velocity);
  } else if (have_velocity_) {
    check(cudaMemsetAsync(velocity_.data(), 0, sizeof(T) * device_count_, ctx_.stream()), "zero velocity");
  }
  if (m && v) {
    ensure_optimizer_state(adam_cfg);
    copy_layout_in(adam_m_.data(), m);
    copy_layout_in(adam_v_.data(), v);
  } else if (have_adam_) {
    check(cudaMemsetAsync(adam_m_.data(), 0, sizeof(T) * device_count_, ctx_.stream()), "zero moments");
    check(cudaMemsetAsync(adam_v_.data(), 0, sizeof(T) * device_count_, ctx_.stream()), "zero moments");
  }
  const long long s = steps;
  check(cudaMemcpyAsync(&state_.data()->steps, &s, sizeof(s), cudaMemcpyHostToDevice, ctx_.stream()), "steps");
  ctx_.synchronize();
}

template <class T>
void Network<T>::reset_optimizer_state() {
  std::lock_guard<std::mutex> lock(mutex_);
  ctx_.activate();
  cudaStream_t s = ctx_.stream();
  if (have_velocity_) check(cudaMemsetAsync(velocity_.data(), 0, sizeof(T) * device_count_, s), "reset");
  if (have_adam_) {
    check(cudaMemsetAsync(adam_m_.data(), 0, sizeof(T) * device_count_, s), "reset");
    check(cudaMemsetAsync(adam_v_.data(), 0, sizeof(T) * device_count_, s), "reset");
  }
  check(cudaMemsetAsync(&state_.data()->steps, 0, sizeof(long long), s), "reset");
  ctx_.synchronize();
}

// ------------------------------------------------------------------ layers
template <class T>
void Network<T>::forward_layers(const T* x, idx rows, T* const* outs) {
  cudaStream_t s = ctx_.stream();
  const T* in = x;
  for (idx l = 0; l < num_layers(); ++l) {
    const idx in_w = sizes_[l], out_w = sizes_[l + 1];
    T* W = params_.data() + w_off_[l];
    T* b = params_.data() + b_off_[l];
    const Act act = acts_[l];
    MatmulArgs<T> a;
    a.trans_a = true;
    a.m = out_w, a.n = rows, a.k = in_w;
    a.A = W, a.lda = in_w, a.B = in, a.ldb = in_w, a.D = outs[l], a.ldd = out_w;
    a.epilogue = act == Act::Relu ? Epilogue::ReluBias : Epilogue::Bias;
    a.bias = b;
    if (matmul_.run(a, math)) {
      if (act != Act::Identity && act != Act::Relu) bias_activation<T>(s, outs[l], nullptr, rows, out_w, act);
    } else {
      a.epilogue = Epilogue::None;
      a.bias = nullptr;
      matmul_.run(a, math);
      bias_activation<T>(s, outs[l], b, rows, out_w, act);
    }
    in = outs[l];
  }
}

template <class T>
void Network<T>::backward_layers(const T* x, idx rows, T* grad) {
  cudaStream_t s = ctx_.stream();
  T* delta = delta_a_.data();
  T* below = delta_b_.data();
  for (idx l = num_layers() - 1; l >= 0; --l) {
    const idx in_w = sizes_[l], out_w = sizes_[l + 1];
    const T* a_in = l == 0 ? x : acts_buf_.data() + act_off_[l - 1];
    // dW (in x out, column-major) = A_in (in x rows) · deltaᵀ, db = Σ over rows of delta.
    MatmulArgs<T> w;
    w.trans_b = true;
    w.m = in_w, w.n = out_w, w.k = rows;
    w.A = a_in, w.lda = in_w, w.B = delta, w.ldb = out_w, w.D = grad + w_off_[l], w.ldd = in_w;
    w.epilogue = Epilogue::BiasGradB;
    w.bias = grad + b_off_[l];
    if (!matmul_.run(w, math)) {
      w.epilogue = Epilogue::None;
      w.bias = nullptr;
      matmul_.run(w, math);
      column_sums<T>(s, grad + b_off_[l], delta, rows, out_w);
    }
    if (l == 0) break;
    // dA of the layer below = W (in x out) · delta, then times g'(a) of that layer.
    MatmulArgs<T> d;
    d.m = in_w, d.n = rows, d.k = out_w;
    d.A = params_.data() + w_off_[l], d.lda = in_w, d.B = delta, d.ldb = out_w, d.D = below, d.ldd = in_w;
    matmul_.run(d, math);
    activation_backward<T>(s, below, acts_buf_.data() + act_off_[l - 1], rows * in_w, acts_[l - 1]);
    std::swap(delta, below);
  }
}

// ------------------------------------------------------------------ training steps
template <class T>
void Network<T>::ensure_train_workspace(idx rows, bool values, bool weights) {
  act_off_.clear();
  idx total = 0;
  for (idx l = 0; l < num_layers(); ++l) {
    act_off_.push_back(total);
    total += align_up(rows * sizes_[l + 1], idx(kSegmentAlignBytes / sizeof(T)));
  }
  const idx widest = *std::max_element(sizes_.begin() + 1, sizes_.end());
  // Graphs point into these buffers: drop them before any of them is reallocated (also when
  // a reallocation then fails for lack of memory).
  const bool grows = std::size_t(total) > acts_buf_.capacity() || std::size_t(rows * widest) > delta_a_.capacity() ||
                     std::size_t(rows * widest) > delta_b_.capacity() ||
                     std::size_t(rows * input_width()) > batch_x_.capacity() ||
                     std::size_t(rows) > batch_labels_.capacity() || std::size_t(rows) > row_loss_.capacity() ||
                     (values && std::size_t(rows * output_width()) > batch_values_.capacity()) ||
                     (weights && std::size_t(rows) > batch_weights_.capacity());
  if (grows) clear_graphs();
  acts_buf_.reserve(std::size_t(total), "the training activations");
  delta_a_.reserve(std::size_t(rows * widest), "the backward deltas");
  delta_b_.reserve(std::size_t(rows * widest), "the backward deltas");
  batch_x_.reserve(std::size_t(rows * input_width()), "a batch of inputs");
  batch_labels_.reserve(std::size_t(rows), "a batch of labels");
  if (values) batch_values_.reserve(std::size_t(rows * output_width()), "a batch of targets");
  if (weights) batch_weights_.reserve(std::size_t(rows), "a batch of weights");
  row_loss_.reserve(std::size_t(rows), "the per-row losses");
}

template <class T>
UpdateKind Network<T>::update_kind(const StepConfig& cfg) const {
  UpdateKind k;
  k.adam = cfg.adam;
  k.momentum = !cfg.adam && cfg.momentum != 0.0;
  k.nesterov = k.momentum && cfg.nesterov;
  k.weight_decay = cfg.weight_decay != 0.0;
  k.clip = cfg.clip_norm > 0.0;
  return k;
}

template <class T>
void Network<T>::write_hyper(const StepConfig& cfg) {
  Hyper h;
  h.lr = cfg.lr, h.momentum = cfg.momentum, h.beta1 = cfg.beta1, h.beta2 = cfg.beta2, h.eps = cfg.eps;
  h.weight_decay = cfg.weight_decay, h.l2 = cfg.l2, h.clip_norm = cfg.clip_norm;
  h.l2_per_sample = cfg.l2_per_sample ? 1 : 0;
  *host_hyper_ = h;  // every public call synchronises before returning: the buffer is free again
  check(cudaMemcpyAsync(hyper_.data(), host_hyper_, sizeof(Hyper), cudaMemcpyHostToDevice, ctx_.stream()),
        "upload optimizer settings");
}

template <class T>
void Network<T>::enqueue_step(const StepShape& sh) {
  cudaStream_t s = ctx_.stream();
  StepState* st = state_.data();
  const idx rows = sh.rows, out_w = output_width();
  T* xb = batch_x_.data();
  std::int64_t* lb = sh.labels ? batch_labels_.data() : nullptr;
  T* vb = sh.values ? batch_values_.data() : nullptr;
  T* wb = sh.weights ? batch_weights_.data() : nullptr;
  if (sh.gather)
    gather_batch<T>(s, st, order_.data(), rows, data_.X, input_width(), xb, data_.labels, lb, data_.values, out_w,
                    vb, data_.weights, wb);
  step_begin<T>(s, st, hyper_.data(), wb, rows, sh.update, -1.0);
  std::vector<T*> outs;
  for (idx l = 0; l < num_layers(); ++l) outs.push_back(acts_buf_.data() + act_off_[l]);
  forward_layers(xb, rows, outs.data());
  loss_rows<T>(s, loss_, outs.back(), rows, out_w, lb, vb, wb, st, delta_a_.data(), row_loss_.data());
  reduce_sum<double>(s, row_loss_.data(), rows, false, partials_.data(), &st->row_loss_sum);
  if (sh.l2) reduce_sum<T>(s, params_.data(), weight_end_, true, partials_.data(), &st->l2_sum);
  else check(cudaMemsetAsync(&st->l2_sum, 0, sizeof(double), s), "zero l2 sum");
  finish_loss(s, st, sh.gather ? rows : 0);
  backward_layers(xb, rows, grad_.data());
  if (sh.l2) add_l2<T>(s, grad_.data(), params_.data(), weight_end_, st);
  if (!sh.update) return;
  if (sh.kind.clip) reduce_sum<T>(s, grad_.data(), device_count_, true, partials_.data(), &st->grad_sq);
  optimizer_update<T>(s, sh.kind, params_.data(), velocity_.data(), adam_m_.data(), adam_v_.data(), grad_.data(),
                      device_count_, weight_end_, hyper_.data(), st);
}

template <class T>
void Network<T>::run_step(const StepShape& sh) {
  const ShapeKey key{sh.rows, sh.flags() | int(math) << 11};
  if (!use_graphs || !sh.gather) return enqueue_step(sh);
  auto found = graphs_.find(key);
  if (found == graphs_.end()) {
    if (eager_runs_[key]++ == 0) return enqueue_step(sh);  // warm-up: plans, algorithm choice
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    check(cudaStreamBeginCapture(ctx_.stream(), cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    try {
      enqueue_step(sh);
    } catch (...) {
      cudaStreamEndCapture(ctx_.stream(), &graph);
      if (graph) cudaGraphDestroy(graph);
      cudaGetLastError();
      throw;
    }
    check(cudaStreamEndCapture(ctx_.stream(), &graph), "cudaStreamEndCapture");
    cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    check(status, "cudaGraphInstantiate");
    found = graphs_.emplace(key, exec).first;
  }
  check(cudaGraphLaunch(found->second, ctx_.stream()), "cudaGraphLaunch");
}

namespace {
template <class T>
void upload(T* dev, const T* host, idx count, cudaStream_t s, const char* what) {
  if (host && count > 0) check(cudaMemcpyAsync(dev, host, sizeof(T) * count, cudaMemcpyHostToDevice, s), what);
}
}  // namespace

template <class T>
double Network<T>::loss_and_grad(Rows<T> h, double l2, T* grad) {
  std::lock_guard<std::mutex> lock(mutex_);
  ctx_.activate();
  cudaStream_t s = ctx_.stream();
  ensure_train_workspace(h.n, h.values != nullptr, h.weights != nullptr);
  upload(batch_x_.data(), h.X, h.n * input_width(), s, "upload X");
  upload(batch_labels_.data(), h.labels, h.n, s, "upload labels");
  upload(batch_values_.data(), h.values, h.n * output_width(), s, "upload targets");
  upload(batch_weights_.data(), h.weights, h.n, s, "upload weights");
  StepConfig cfg;
  cfg.l2 = l2;
  write_hyper(cfg);
  StepShape sh;
  sh.rows = h.n, sh.labels = h.labels, sh.values = h.values, sh.weights = h.weights, sh.l2 = l2 != 0.0;
  enqueue_step(sh);
  check(cudaMemcpyAsync(host_state_, state_.data(), sizeof(StepState), cudaMemcpyDeviceToHost, s), "read loss");
  copy_layout(grad, grad_.data(), true);  // synchronises
  return host_state_->step_loss;
}

template <class T>
double Network<T>::train_step(Rows<T> h, const StepConfig& cfg) {
  std::lock_guard<std::mutex> lock(mutex_);
  ctx_.activate();
  cudaStream_t s = ctx_.stream();
  ensure_train_workspace(h.n, h.values != nullptr, h.weights != nullptr);
  ensure_optimizer_state(cfg);
  upload(batch_x_.data(), h.X, h.n * input_width(), s, "upload X");
  upload(batch_labels_.data(), h.labels, h.n, s, "upload labels");
  upload(batch_values_.data(), h.values, h.n * output_width(), s, "upload targets");
  upload(batch_weights_.data(), h.weights, h.n, s, "upload weights");
  write_hyper(cfg);
  StepShape sh;
  sh.rows = h.n, sh.labels = h.labels, sh.values = h.values, sh.weights = h.weights;
  sh.update = true, sh.l2 = cfg.l2 != 0.0, sh.kind = update_kind(cfg);
  enqueue_step(sh);
  check(cudaMemcpyAsync(host_state_, state_.data(), sizeof(StepState), cudaMemcpyDeviceToHost, s), "read loss");
  ctx_.synchronize();
  return host_state_->step_loss;
}

template <class T>
void Network<T>::apply_gradient(const T* grad, const StepConfig& cfg, double mass) {
  std::lock_guard<std::mutex> lock(mutex_);
  ctx_.activate();
  cudaStream_t s = ctx_.stream();
  ensure_optimizer_state(cfg);
  copy_layout_in(grad_.data(), grad);
  write_hyper(cfg);
  StepState* st = state_.data();
  step_begin<T>(s, st, hyper_.data(), nullptr, 0, true, mass);
  const UpdateKind kind = update_kind(cfg);
  if (cfg.l2 != 0.0) add_l2<T>(s, grad_.data(), params_.data(), weight_end_, st);
  if (kind.clip) reduce_sum<T>(s, grad_.data(), device_count_, true, partials_.data(), &st->grad_sq);
  optimizer_update<T>(s, kind, params_.data(), velocity_.data(), adam_m_.data(), adam_v_.data(), grad_.data(),
                      device_count_, weight_end_, hyper_.data(), st);
  ctx_.synchronize();
}

template <class T>
void Network<T>::reserve_data(const Rows<T>& r, Rows<T>& bound) {
  bound.X = data_x_.reserve(std::size_t(r.n * input_width()), "the training data");
  if (r.labels) bound.labels = data_labels_.reserve(std::size_t(r.n), "the training labels");
  if (r.values) bound.values = data_values_.reserve(std::size_t(r.n * output_width()), "the training targets");
  if (r.weights) bound.weights = data_weights_.reserve(std::size_t(r.n), "the sample weights");
}

template <class T>
void Network<T>::bind_data(Rows<T> r, bool on_device) {
  std::lock_guard<std::mutex> lock(mutex_);
  ctx_.activate();
  clear_graphs();
  data_ = Rows<T>{};  // set only once everything is in place
  streaming_ = false;
  Rows<T> bound = r;
  if (on_device && r.labels) {  // device labels are checked here, once: the kernels trust them
    std::vector<std::int64_t> labels(static_cast<std::size_t>(r.n));
    check(cudaMemcpy(labels.data(), r.labels, sizeof(std::int64_t) * r.n, cudaMemcpyDeviceToHost), "read labels");
    for (std::int64_t v : labels)
      if (v < 0 || v >= output_width()) throw std::invalid_argument("y: class index out of range");
  }
  if (!on_device && stream_data) {
    streaming_ = true;
  } else if (!on_device) {
    try {
      reserve_data(r, bound);
    } catch (const DeviceOutOfMemory&) {
      data_x_ = DeviceBuffer<T>();  // what did fit goes back; the rows stay on the host
      data_labels_ = DeviceBuffer<std::int64_t>();
      data_values_ = DeviceBuffer<T>();
      data_weights_ = DeviceBuffer<T>();
      bound = r;
      streaming_ = true;
    }
  }
  if (!on_device && !streaming_) {
    cudaStream_t s = ctx_.stream();
    bound.X = data_x_.reserve(std::size_t(r.n * input_width()), "the training data");
    upload(data_x_.data(), r.X, r.n * input_width(), s, "upload the training data");
    if (r.labels) {
      bound.labels = data_labels_.reserve(std::size_t(r.n), "the training labels");
      upload(data_labels_.data(), r.labels, r.n, s, "upload the training labels");
    }
    if (r.values) {
      bound.values = data_values_.reserve(std::size_t(r.n * output_width()), "the training targets");
      upload(data_values_.data(), r.values, r.n * output_width(), s, "upload the training targets");
    }
    if (r.weights) {
      bound.weights = data_weights_.reserve(std::size_t(r.n), "the sample weights");
      upload(data_weights_.data(), r.weights, r.n, s, "upload the sample weights");
    }
    ctx_.synchronize();
  }
  if (streaming_) {  // the host reads the caller's order itself
    data_ = bound;
    return;
  }
  order_.reserve(std::size_t(r.n), "the epoch's row order");
  if (host_order_cap_ < r.n) {
    if (host_order_) cudaFreeHost(host_order_);
    host_order_ = nullptr;
    host_order_cap_ = 0;
    check(cudaMallocHost(&host_order_, sizeof(std::int64_t) * r.n), "pinned host memory for the row order");
    host_order_cap_ = r.n;
  }
  data_ = bound;
}

template <class T>
void Network<T>::release_data() {
  std::lock_guard<std::mutex> lock(mutex_);
  ctx_.activate();
  clear_graphs();
  data_ = Rows<T>{};
  data_x_ = DeviceBuffer<T>();  // give the memory back
  data_values_ = DeviceBuffer<T>();
  data_weights_ = DeviceBuffer<T>();
  data_labels_ = DeviceBuffer<std::int64_t>();
  streaming_ = false;
  free_staging();
}

template <class T>
double Network<T>::train_epoch(const std::int64_t* order, idx batch, const StepConfig& cfg,
                               const std::function<void()>& between_batches) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!data_.X) throw std::logic_error("train_epoch: no data bound (bind_data first)");
  ctx_.activate();
  cudaStream_t s = ctx_.stream();
  const idx n = data_.n;
  batch = std::max<idx>(1, std::min(batch, n));
  ensure_train_workspace(batch, data_.values != nullptr, data_.weights != nullptr);
  ensure_optimizer_state(cfg);
  if (streaming_) return train_epoch_streamed(order, batch, cfg, between_batches);
  if (order) std::memcpy(host_order_, order, sizeof(std::int64_t) * n);
  else std::iota(host_order_, host_order_ + n, std::int64_t(0));
  check(cudaMemcpyAsync(order_.data(), host_order_, sizeof(std::int64_t) * n, cudaMemcpyHostToDevice, s),
        "upload the row order");
  write_hyper(cfg);
  StepState* st = state_.data();
  check(cudaMemsetAsync(&st->cursor, 0, sizeof(long long), s), "reset cursor");
  check(cudaMemsetAsync(&st->epoch_loss, 0, sizeof(double), s), "reset epoch loss");
  check(cudaMemsetAsync(&st->epoch_mass, 0, sizeof(double), s), "reset epoch mass");
  StepShape sh;
  sh.gather = true, sh.labels = data_.labels, sh.values = data_.values, sh.weights = data_.weights;
  sh.update = true, sh.l2 = cfg.l2 != 0.0, sh.kind = update_kind(cfg);
  try {
    for (idx r0 = 0; r0 < n; r0 += batch) {
      sh.rows = std::min(batch, n - r0);
      run_step(sh);
      if (between_batches) between_batches();
    }
  } catch (...) {
    cudaStreamSynchronize(s);  // the queued steps finish: the model stays consistent
    throw;
  }
  check(cudaMemcpyAsync(host_state_, st, sizeof(StepState), cudaMemcpyDeviceToHost, s), "read the epoch loss");
  ctx_.synchronize();
  return host_state_->epoch_mass > 0 ? host_state_->epoch_loss / host_state_->epoch_mass : 0.0;
}

template <class T>
void Network<T>::ensure_staging(idx rows) {
  if (rows <= staging_rows_) return;
  free_staging();
  const idx in_w = input_width(), out_w = output_width();
  for (Staging& st : staging_) {
    check(cudaMallocHost(&st.x, sizeof(T) * rows * in_w), "pinned host memory for a batch");
    check(cudaMallocHost(&st.labels, sizeof(std::int64_t) * rows), "pinned host memory for a batch");
    check(cudaMallocHost(&st.values, sizeof(T) * rows * out_w), "pinned host memory for a batch");
    check(cudaMallocHost(&st.weights, sizeof(T) * rows), "pinned host memory for a batch");
    check(cudaEventCreateWithFlags(&st.copied, cudaEventDisableTiming), "cudaEventCreate");
  }
  staging_rows_ = rows;
}

template <class T>
void Network<T>::free_staging() {
  for (Staging& st : staging_) {
    if (st.copied) cudaEventSynchronize(st.copied), cudaEventDestroy(st.copied);
    if (st.x) cudaFreeHost(st.x);
    if (st.labels) cudaFreeHost(st.labels);
    if (st.values) cudaFreeHost(st.values);
    if (st.weights) cudaFreeHost(st.weights);
    st = Staging{};
  }
  staging_rows_ = 0;
}

// The rows stay on the host: while the GPU runs step k, the host gathers batch k+1 into the other
// pinned staging set, whose previous copy (batch k-1) has finished (its event). The steps are the
// resident path's steps without the gather, so the results are the same bit for bit.
template <class T>
double Network<T>::train_epoch_streamed(const std::int64_t* order, idx batch, const StepConfig& cfg,
                                        const std::function<void()>& between_batches) {
  cudaStream_t s = ctx_.stream();
  const idx n = data_.n, in_w = input_width(), out_w = output_width();
  ensure_staging(batch);
  write_hyper(cfg);
  StepState* st = state_.data();
  check(cudaMemsetAsync(&st->epoch_loss, 0, sizeof(double), s), "reset epoch loss");
  check(cudaMemsetAsync(&st->epoch_mass, 0, sizeof(double), s), "reset epoch mass");
  StepShape sh;
  sh.labels = data_.labels, sh.values = data_.values, sh.weights = data_.weights;
  sh.update = true, sh.l2 = cfg.l2 != 0.0, sh.kind = update_kind(cfg);
  int k = 0;
  try {
    for (idx r0 = 0; r0 < n; r0 += batch, ++k) {
      const idx rows = std::min(batch, n - r0);
      Staging& stage = staging_[k % 2];
      check(cudaEventSynchronize(stage.copied), "wait for a staging buffer");
      for (idx i = 0; i < rows; ++i) {
        const idx src = order ? idx(order[r0 + i]) : r0 + i;
        std::memcpy(stage.x + i * in_w, data_.X + src * in_w, sizeof(T) * in_w);
        if (data_.labels) stage.labels[i] = data_.labels[src];
        if (data_.values) std::memcpy(stage.values + i * out_w, data_.values + src * out_w, sizeof(T) * out_w);
        if (data_.weights) stage.weights[i] = data_.weights[src];
      }
      check(cudaMemcpyAsync(batch_x_.data(), stage.x, sizeof(T) * rows * in_w, cudaMemcpyHostToDevice, s), "copy a batch");
      if (data_.labels)
        check(cudaMemcpyAsync(batch_labels_.data(), stage.labels, sizeof(std::int64_t) * rows, cudaMemcpyHostToDevice, s),
              "copy a batch");
      if (data_.values)
        check(cudaMemcpyAsync(batch_values_.data(), stage.values, sizeof(T) * rows * out_w, cudaMemcpyHostToDevice, s),
              "copy a batch");
      if (data_.weights)
        check(cudaMemcpyAsync(batch_weights_.data(), stage.weights, sizeof(T) * rows, cudaMemcpyHostToDevice, s),
              "copy a batch");
      check(cudaEventRecord(stage.copied, s), "cudaEventRecord");
      sh.rows = rows;
      enqueue_step(sh);
      if (between_batches) between_batches();
    }
  } catch (...) {
    cudaStreamSynchronize(s);
    throw;
  }
  check(cudaMemcpyAsync(host_state_, st, sizeof(StepState), cudaMemcpyDeviceToHost, s), "read the epoch loss");
  ctx_.synchronize();
  return host_state_->epoch_mass > 0 ? host_state_->epoch_loss / host_state_->epoch_mass : 0.0;
}

// ------------------------------------------------------------------ inference
template <class T>
void Network<T>::forward(const T* X, bool x_on_device, idx n, T* out, bool out_on_device, bool transform) {
  std::lock_guard<std::mutex> lock(mutex_);
  ctx_.activate();
  cudaStream_t s = ctx_.stream();
  const idx widest = *std::max_element(sizes_.begin(), sizes_.end());
  const idx in_w = input_width(), out_w = output_width();
  const idx chunk = std::max<idx>(1, std::min<idx>(n, idx(kInferenceBytes / sizeof(T)) / widest));
  T* ping = infer_a_.reserve(std::size_t(chunk * widest), "inference scratch");
  T* pong = infer_b_.reserve(std::size_t(chunk * widest), "inference scratch");
  if (!x_on_device) infer_in_.reserve(std::size_t(chunk * in_w), "a chunk of inputs");
  if (!out_on_device) infer_out_.reserve(std::size_t(chunk * out_w), "a chunk of outputs");
  std::vector<T*> outs(static_cast<std::size_t>(num_layers()));
  for (idx r0 = 0; r0 < n; r0 += chunk) {
    const idx rows = std::min(chunk, n - r0);
    const T* x = X + r0 * in_w;
    if (!x_on_device) {
      upload(infer_in_.data(), x, rows * in_w, s, "upload X");
      x = infer_in_.data();
    }
    for (idx l = 0; l + 1 < num_layers(); ++l) outs[l] = l % 2 ? pong : ping;
    outs.back() = out_on_device ? out + r0 * out_w : infer_out_.data();
    forward_layers(x, rows, outs.data());
    if (transform) output_transform<T>(s, outs.back(), rows, out_w, loss_);
    if (!out_on_device)
      check(cudaMemcpyAsync(out + r0 * out_w, outs.back(), sizeof(T) * rows * out_w, cudaMemcpyDeviceToHost, s),
            "download the output");
  }
  ctx_.synchronize();
}

template <class T>
void Network<T>::activations(const T* X, idx n, const std::vector<T*>& outs) {
  std::lock_guard<std::mutex> lock(mutex_);
  ctx_.activate();
  cudaStream_t s = ctx_.stream();
  DeviceBuffer<T> x;
  upload(x.reserve(std::size_t(n * input_width()), "the inputs"), X, n * input_width(), s, "upload X");
  std::vector<DeviceBuffer<T>> bufs(static_cast<std::size_t>(num_layers()));
  std::vector<T*> ptrs;
  for (idx l = 0; l < num_layers(); ++l) ptrs.push_back(bufs[l].reserve(std::size_t(n * sizes_[l + 1]), "the activations"));
  forward_layers(x.data(), n, ptrs.data());
  output_transform<T>(s, ptrs.back(), n, output_width(), loss_);
  for (idx l = 0; l < num_layers(); ++l)
    check(cudaMemcpyAsync(outs[l], ptrs[l], sizeof(T) * n * sizes_[l + 1], cudaMemcpyDeviceToHost, s),
          "download the activations");
  ctx_.synchronize();
}

template <class T>
double Network<T>::evaluate(Rows<T> h, T* logits) {
  std::lock_guard<std::mutex> lock(mutex_);
  ctx_.activate();
  cudaStream_t s = ctx_.stream();
  const idx n = h.n, in_w = input_width(), out_w = output_width();
  const idx widest = *std::max_element(sizes_.begin(), sizes_.end());
  const idx chunk = std::max<idx>(1, std::min<idx>(n, idx(kInferenceBytes / sizeof(T)) / widest));
  T* ping = infer_a_.reserve(std::size_t(chunk * widest), "inference scratch");
  T* pong = infer_b_.reserve(std::size_t(chunk * widest), "inference scratch");
  infer_in_.reserve(std::size_t(chunk * in_w), "a chunk of inputs");
  infer_out_.reserve(std::size_t(chunk * out_w), "a chunk of outputs");
  DeviceBuffer<std::int64_t> labels;
  DeviceBuffer<T> values;
  DeviceBuffer<double> row_loss, sum;
  row_loss.reserve(std::size_t(chunk), "the per-row losses");
  sum.reserve(1, "the loss");
  if (h.labels) labels.reserve(std::size_t(chunk), "a chunk of labels");
  if (h.values) values.reserve(std::size_t(chunk * out_w), "a chunk of targets");
  std::vector<T*> outs(static_cast<std::size_t>(num_layers()));
  double total = 0.0;
  for (idx r0 = 0; r0 < n; r0 += chunk) {
    const idx rows = std::min(chunk, n - r0);
    upload(infer_in_.data(), h.X + r0 * in_w, rows * in_w, s, "upload X");
    if (h.labels) upload(labels.data(), h.labels + r0, rows, s, "upload labels");
    if (h.values) upload(values.data(), h.values + r0 * out_w, rows * out_w, s, "upload targets");
    for (idx l = 0; l + 1 < num_layers(); ++l) outs[l] = l % 2 ? pong : ping;
    outs.back() = infer_out_.data();
    forward_layers(infer_in_.data(), rows, outs.data());
    loss_rows<T>(s, loss_, outs.back(), rows, out_w, h.labels ? labels.data() : nullptr,
                 h.values ? values.data() : nullptr, nullptr, nullptr, nullptr, row_loss.data());
    reduce_sum<double>(s, row_loss.data(), rows, false, partials_.data(), sum.data());
    double part = 0.0;
    check(cudaMemcpyAsync(&part, sum.data(), sizeof(double), cudaMemcpyDeviceToHost, s), "read the loss");
    if (logits)
      check(cudaMemcpyAsync(logits + r0 * out_w, outs.back(), sizeof(T) * rows * out_w, cudaMemcpyDeviceToHost, s),
            "download the logits");
    ctx_.synchronize();
    total += part;
  }
  return total / double(n);
}

template class Network<float>;
template class Network<double>;

}  // namespace dp::cuda
