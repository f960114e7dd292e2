#include "dense_bf16.hpp"

namespace dp {

void dense_forward_bf16(float* A, const float* X, const float* W, const float* b, idx n, idx in,
                        idx out, Act act, const Bf16PackedB* packed_wt) {
  GemmEpilogue<float> ep;
  ep.bias = b;
  ep.act = act;
  gemm_bf16(false, true, n, out, in, 1.0f, X, in, W, in, 0.0f, A, out, &ep, packed_wt);
}

void dense_backward_input_bf16(float* dX, const float* dZ, const float* W, const float* prev_A,
                               Act prev_act, idx n, idx in, idx out) {
  GemmEpilogue<float> ep;
  ep.slope_of = prev_A;
  ep.ld_slope = in;
  ep.slope_act = prev_act;
  gemm_bf16(false, false, n, in, out, 1.0f, dZ, out, W, in, 0.0f, dX, in, prev_A ? &ep : nullptr);
}

void dense_backward_weights_bf16(float* dW, const float* dZ, const float* X, idx n, idx in,
                                 idx out, float alpha, float beta) {
  gemm_bf16(true, false, out, in, n, alpha, dZ, out, X, in, beta, dW, in);
}

}  // namespace dp
