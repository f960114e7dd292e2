// The dense layer, forward and backward side by side (z = W a + b, row-major batches):
//   forward:  Z = X Wᵀ + b, A = g(Z)          X (n, in), W (out, in), b (out), Z, A (n, out)
//   backward: dW = dZᵀ X, db = Σ_rows dZ, dX = dZ W   dZ (n, out), dX (n, in)
// Bias and activation run in the GEMM's epilogue; the previous layer's activation slope is
// applied in the epilogue of the dX product, so backward never makes an extra pass for it.
#pragma once
#include "../common/base.hpp"

namespace dp {

// Z may be null (only A is kept). A may not alias X.
template <class T>
void dense_forward(T* A, T* Z, const T* X, const T* W, const T* b, idx n, idx in, idx out, Act act);

// dX_pre = (dZ W) * g'(A_prev) when prev_A is given (the delta of the layer below), else dZ W.
template <class T>
void dense_backward_input(T* dX, const T* dZ, const T* W, const T* prev_A, Act prev_act, idx n,
                          idx in, idx out);

// dW = alpha * dZᵀ X + beta * dW: alpha = 1, beta = 0 for a gradient; alpha = -lr and
// beta = 1 - lr*l2 apply a plain SGD step (with L2) to W in place, with no gradient buffer.
template <class T>
void dense_backward_weights(T* dW, const T* dZ, const T* X, idx n, idx in, idx out, T alpha,
                            T beta);

// A small batch (n <= the GEMM policy's fused_sgd_max_batch, at most kFusedSgdMaxBatch) with a
// plain SGD step, fused (dense_sgd_fused.cpp):
// dX = g'(prev_A) ⊙ (dZ W_old) (dX may be null for the input layer) and
// W = (1 - lr l2) W - lr dZᵀ X in one pass over W. Returns false, doing nothing, where the batch
// is larger or the instruction set offers no fused kernel.
inline constexpr idx kFusedSgdMaxBatch = 16;
template <class T>
bool dense_backward_sgd_fused(T* dX, const T* dZ, T* W, const T* X, const T* prev_A, Act prev_act,
                              idx n, idx in, idx out, T lr, T l2);

// db[j] = Σ_i dZ[i, j], summed row by row in a fixed order.
template <class T>
void column_sums(T* db, const T* dZ, idx n, idx out);

}  // namespace dp
