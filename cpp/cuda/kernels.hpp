// The backend's own kernels (everything that is not a matrix product), as host-side launchers
// on a stream. Element-wise work is one thread per element; every reduction runs in a fixed
// order (a fixed grid of partial sums, then one block), never with floating-point atomics, so
// results are bitwise reproducible.
#pragma once
#include <cstdint>
#include <cuda_runtime.h>
#include "../common/base.hpp"
#include "step_state.hpp"

namespace dp::cuda {

using idx = std::int64_t;

// Loss ids as the core numbers them (cross_entropy, mse, binary_cross_entropy, poisson).
enum class LossId : int { CrossEntropy = 0, MeanSquared = 1, BinaryCrossEntropy = 2, Poisson = 3 };

// Optimizer update of one step, chosen when the step is planned (part of a graph's key).
struct UpdateKind {
  bool adam = false, momentum = false, nesterov = false, weight_decay = false, clip = false;
};

// Z (rows x width, row-major) += b (if bias) then Z = g(Z).
template <class T>
void bias_activation(cudaStream_t s, T* Z, const T* bias, idx rows, idx width, Act act);
// dA = dA * g'(A), g' read from the activation's output.
template <class T>
void activation_backward(cudaStream_t s, T* dA, const T* A, idx count, Act act);
// db[j] = Σ_i dZ[i, j] (rows x width), rows summed in order.
template <class T>
void column_sums(cudaStream_t s, T* db, const T* dZ, idx rows, idx width);
// Row softmax or element-wise sigmoid of the logits, in place (predict_proba).
template <class T>
void output_transform(cudaStream_t s, T* logits, idx rows, idx width, LossId loss);

// Rows of a resident data set picked by order[cursor + i] (cursor read from the state).
template <class T>
void gather_batch(cudaStream_t s, const StepState* st, const std::int64_t* order, idx rows,
                  const T* X, idx in_w, T* xb, const std::int64_t* labels, std::int64_t* lb,
                  const T* values, idx out_w, T* vb, const T* weights, T* wb);

// Starts a step: the batch mass (`mass` when >= 0, else rows or Σ weights), this step's l2,
// and -- when `count_step` -- the step count and Adam's bias corrections.
template <class T>
void step_begin(cudaStream_t s, StepState* st, const Hyper* h, const T* weights, idx rows,
                bool count_step, double mass);
// Per-row loss (double) and d(mean loss)/d(logits) (if dlogits is not null), scaled by w_i / mass.
template <class T>
void loss_rows(cudaStream_t s, LossId loss, const T* logits, idx rows, idx c, const std::int64_t* labels,
               const T* values, const T* weights, const StepState* st, T* dlogits, double* row_loss);
// *out = Σ x[i] (or Σ x[i]² when square), in a fixed order; `partials` holds kReducePartials.
constexpr int kReducePartials = 256;
template <class In>
void reduce_sum(cudaStream_t s, const In* x, idx n, bool square, double* partials, double* out);
// The batch's loss (mean + L2 term) into the state and the epoch sums; advances the cursor.
void finish_loss(cudaStream_t s, StepState* st, idx advance);
// g[i] += l2 · p[i] for the weights (the first `weights` entries of the flat vector).
template <class T>
void add_l2(cudaStream_t s, T* grad, const T* params, idx weights, const StepState* st);
// One fused optimizer update over the flat vector: clipping, decoupled decay (weights only),
// then SGD / momentum / Nesterov / Adam, as the CPU core does.
template <class T>
void optimizer_update(cudaStream_t s, UpdateKind kind, T* params, T* velocity, T* m, T* v, const T* grad,
                      idx count, idx weights, const Hyper* h, const StepState* st);

}  // namespace dp::cuda
