// A network on one GPU: the same model as the CPU core's Network (layers z = W a + b, the
// output activation following from the loss, the flat parameter vector in the same order) with
// its parameters, gradients, optimizer state and workspaces in device memory.
//
// Device layout: the weights of every layer first, then every bias, each segment starting on a
// 256-byte boundary (aligned operands let cuBLASLt use its fastest kernels and its bias
// epilogues; "is this a weight" is one comparison). Host arrays use the CPU core's order
// (layer by layer, W row-major then b); get/set convert.
//
// A training step is forward (cuBLASLt with bias / ReLU+bias epilogues), one fused loss kernel,
// backward (cuBLASLt with the bias-gradient epilogue), then one fused optimizer kernel over the
// flat vector. Over a resident data set, each step shape is run eagerly once, then captured
// into a CUDA graph and replayed. All calls on one network are serialised by a mutex.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>
#include "context.hpp"
#include "kernels.hpp"
#include "matmul.hpp"

namespace dp::cuda {

// Settings of a training step, as the CPU core's OptimConfig.
struct StepConfig {
  bool adam = false;
  double lr = 0.01, momentum = 0.0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  bool nesterov = false;
  double weight_decay = 0.0, l2 = 0.0, clip_norm = 0.0;
  bool l2_per_sample = false;
};

// Pointers to a batch or a data set: device memory (or host memory for the host entry points).
template <class T>
struct Rows {
  const T* X = nullptr;
  const std::int64_t* labels = nullptr;
  const T* values = nullptr;
  const T* weights = nullptr;
  idx n = 0;
};

template <class T>
class Network {
 public:
  // hidden_acts: one per hidden layer; params: the initial flat vector in host order.
  Network(int device, std::vector<idx> sizes, std::vector<Act> hidden_acts, LossId loss, const T* params);
  ~Network();

  int device() const { return ctx_.device(); }
  idx num_layers() const { return idx(sizes_.size()) - 1; }
  idx num_params() const { return host_count_; }
  const std::vector<idx>& sizes() const { return sizes_; }
  idx input_width() const { return sizes_.front(); }
  idx output_width() const { return sizes_.back(); }
  LossId loss() const { return loss_; }
  idx bound_rows() const { return data_.n; }

  MathMode math = MathMode::Strict;  // set through set_math (graphs are keyed on it)
  void set_math(MathMode m) {
    std::lock_guard<std::mutex> lock(mutex_);
    math = m;
  }
  bool use_graphs = true;
  void set_epilogues(bool on);
  bool epilogues() const { return matmul_.allow_epilogues; }

  // Parameters and optimizer state in host order (host pointers, num_params values each).
  void get_params(T* out);
  void set_params(const T* in);
  // A copy of the parameters kept on the device (the last finite weights of a fit), and back.
  void save_snapshot();
  void restore_snapshot();
  // True when no parameter is NaN or inf (one reduction on the device).
  bool params_finite();
  // One optimizer step from a gradient computed elsewhere (host, host order, the data loss
  // alone): adds the L2 term (over `mass` when l2 is per sample), clips, decays and updates.
  void apply_gradient(const T* grad, const StepConfig& cfg, double mass);
  std::int64_t optimizer_steps();
  // Which of velocity, adam_m, adam_v exist (were used); filled into host arrays when asked.
  void get_optimizer_state(T* velocity, T* m, T* v, bool* have);
  void set_optimizer_state(std::int64_t steps, const T* velocity, const T* m, const T* v);
  void reset_optimizer_state();

  // Inference. X is (n, in) on the host or the device; out (n, out) likewise; transform applies
  // softmax/sigmoid (predict_proba).
  void forward(const T* X, bool x_on_device, idx n, T* out, bool out_on_device, bool transform);
  // Every layer's output (host arrays), the last after softmax/sigmoid.
  void activations(const T* X, idx n, const std::vector<T*>& outs);
  // Mean loss (weights ignored: as the CPU core's evaluate_loss) and, if logits, the logits.
  double evaluate(Rows<T> host, T* logits);

  // Gradient of the (weighted) mean loss + l2/2 Σ‖W‖² into grad (host order). Host rows.
  double loss_and_grad(Rows<T> host, double l2, T* grad);
  // One step of the optimizer on host rows; returns the loss before the update.
  double train_step(Rows<T> host, const StepConfig& cfg);
  // Keeps a data set on the device for train_epoch: copied from host pointers, or used in place
  // from device pointers (the caller keeps that memory alive until release_data). Host data that
  // does not fit in GPU memory (or any host data when stream_data is set) stays on the host and
  // is streamed: each batch gathered on the host into pinned memory while the GPU runs the
  // previous step, then copied in (the caller keeps the host arrays alive too).
  void bind_data(Rows<T> rows, bool on_device);
  bool stream_data = false;
  bool streaming() const { return streaming_; }
  void release_data();
  // One epoch over the bound data in `order` (host, n indices; null: row order), batches of
  // `batch` rows; `between_batches` runs on the host after each batch is queued. Returns the
  // epoch's mean loss (read from the device once).
  double train_epoch(const std::int64_t* order, idx batch, const StepConfig& cfg,
                     const std::function<void()>& between_batches);

 private:
  struct StepShape;
  struct Workspace;
  void upload_params(const T* in);
  void copy_layout(T* host, const T* dev, bool to_host);
  void copy_layout_in(T* dev, const T* host);
  void forward_layers(const T* x, idx rows, T* const* outs);
  void backward_layers(const T* x, idx rows, T* grad);
  void ensure_train_workspace(idx rows, bool values, bool weights);
  void ensure_optimizer_state(const StepConfig& cfg);
  void write_hyper(const StepConfig& cfg);
  void enqueue_step(const StepShape& shape);
  void run_step(const StepShape& shape);
  UpdateKind update_kind(const StepConfig& cfg) const;

  Context ctx_;
  Matmul matmul_;
  std::vector<idx> sizes_;
  std::vector<Act> acts_;  // one per layer, Identity for the output layer
  LossId loss_;
  idx host_count_ = 0, device_count_ = 0, weight_end_ = 0;
  std::vector<idx> w_off_, b_off_, host_w_off_;
  DeviceBuffer<T> params_, grad_, velocity_, adam_m_, adam_v_, snapshot_;
  bool have_velocity_ = false, have_adam_ = false;
  DeviceBuffer<StepState> state_;
  DeviceBuffer<Hyper> hyper_;
  DeviceBuffer<double> partials_, row_loss_;
  Hyper* host_hyper_ = nullptr;      // pinned: the source of the per-epoch upload
  StepState* host_state_ = nullptr;  // pinned: the destination of the once-per-epoch read
  // Training workspace: every layer's output, two delta buffers, the batch's rows.
  DeviceBuffer<T> acts_buf_, delta_a_, delta_b_, batch_x_, batch_values_, batch_weights_;
  DeviceBuffer<std::int64_t> batch_labels_;
  std::vector<idx> act_off_;
  // Inference scratch (ping-pong).
  DeviceBuffer<T> infer_a_, infer_b_, infer_in_, infer_out_;
  // The bound data set and the epoch's order.
  Rows<T> data_{};
  bool streaming_ = false;
  // Streaming: two pinned staging sets (X, labels, targets, weights of one batch) and the events
  // that say when the copy out of each has finished.
  struct Staging {
    T* x = nullptr;
    std::int64_t* labels = nullptr;
    T* values = nullptr;
    T* weights = nullptr;
    cudaEvent_t copied = nullptr;
  };
  Staging staging_[2];
  idx staging_rows_ = 0;
  void ensure_staging(idx rows);
  void reserve_data(const Rows<T>& r, Rows<T>& bound);
  void free_staging();
  double train_epoch_streamed(const std::int64_t* order, idx batch, const StepConfig& cfg,
                              const std::function<void()>& between_batches);
  DeviceBuffer<T> data_x_, data_values_, data_weights_;
  DeviceBuffer<std::int64_t> data_labels_, order_;
  std::int64_t* host_order_ = nullptr;  // pinned staging of the epoch's order
  idx host_order_cap_ = 0;
  // One graph per step shape, captured on the shape's second run (the first, eager, run makes
  // the cuBLASLt plans); cleared whenever a buffer the graphs point into is reallocated.
  using ShapeKey = std::pair<idx, int>;
  std::map<ShapeKey, cudaGraphExec_t> graphs_;
  std::map<ShapeKey, int> eager_runs_;
  void clear_graphs();
  std::mutex mutex_;
};

}  // namespace dp::cuda
