// The dense layer with bf16 products (float32 models): the same three products as dense.hpp,
// run by the bf16 GEMM. Bias, activation and the activation slope stay float32, in the GEMM's
// epilogue; the weight update of the fused SGD step (dW's beta, alpha) is float32 on the float32
// weights.
#pragma once
#include "../common/base.hpp"
#include "../kernels/gemm_bf16/gemm_bf16.hpp"

namespace dp {

// A = g(X Wᵀ + b). `packed_wt`, when given, is Wᵀ already packed (pack_b_bf16(true, in, out, W,
// in, ...)): inference reuses it across calls; otherwise W is packed inside the product.
void dense_forward_bf16(float* A, const float* X, const float* W, const float* b, idx n, idx in,
                        idx out, Act act, const Bf16PackedB* packed_wt = nullptr);

// dX_pre = (dZ W) * g'(A_prev) when prev_A is given, else dZ W.
void dense_backward_input_bf16(float* dX, const float* dZ, const float* W, const float* prev_A,
                               Act prev_act, idx n, idx in, idx out);

// dW = alpha * dZᵀ X + beta * dW (alpha = -lr, beta = 1 - lr*l2: the fused SGD step on W).
void dense_backward_weights_bf16(float* dW, const float* dZ, const float* X, idx n, idx in,
                                 idx out, float alpha, float beta);

}  // namespace dp
