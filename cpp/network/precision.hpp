// The precision of a model's matrix products. Parameters, gradients, optimizer state, bias,
// activations, losses and updates are always in the model's dtype; Bf16 (float32 models only)
// rounds the two operands of every forward and backward GEMM to bfloat16 and sums the products
// in float32 (kernels/gemm_bf16/).
#pragma once
#include <stdexcept>
#include <string>

namespace dp {

enum class Precision : int { Fp32 = 0, Bf16 = 1 };

inline const char* precision_name(Precision p) { return p == Precision::Bf16 ? "bf16" : "fp32"; }

inline Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::Fp32;
  if (name == "bf16") return Precision::Bf16;
  throw std::invalid_argument("expected one of 'fp32', 'bf16', got '" + name + "'");
}

}  // namespace dp
