// Vectorised float32 transcendental activations (sigmoid, tanh), one implementation per
// instruction set, chosen with the GEMM kernels. float64 and the portable level use the scalar
// functions of activations.hpp, which stay the reference. runtime/dispatch.hpp picks one.
#pragma once
#include "../common/base.hpp"

namespace dp {

struct VectorMath {
  const char* name;
  void (*sigmoid_f32)(const float* in, float* out, idx n);  // out may alias in
  void (*tanh_f32)(const float* in, float* out, idx n);
};

}  // namespace dp
