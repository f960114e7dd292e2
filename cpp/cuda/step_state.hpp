// Scalars of training that live in device memory, so that a captured CUDA graph replays a step
// with the current learning rate, step count and batch position without being captured again.
#pragma once
#include <cstdint>

namespace dp::cuda {

// Written by the host before an epoch (or a single step): the optimizer's settings.
struct Hyper {
  double lr = 0.01, momentum = 0.0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0, l2 = 0.0, clip_norm = 0.0;
  int l2_per_sample = 0;
};

// Written by the step's kernels.
struct StepState {
  long long steps = 0;      // optimizer steps taken (Adam's t)
  long long cursor = 0;     // position of the next batch in the epoch's row order
  double mass = 0;          // rows of the batch, or the sum of their weights
  double row_loss_sum = 0;  // Σ w_i loss_i over the batch
  double l2_sum = 0;        // Σ W² before the update (for the L2 term of the loss)
  double grad_sq = 0;       // ‖g‖² (gradient clipping)
  double l2_eff = 0;        // this step's l2 (scikit-learn's alpha divides it by the mass)
  double adam_step_size = 0, adam_inv_sqrt_bc2 = 0;
  double step_loss = 0;     // the batch's mean loss with the L2 term
  double epoch_loss = 0;    // Σ step_loss · mass over the epoch so far
  double epoch_mass = 0;
};

}  // namespace dp::cuda
