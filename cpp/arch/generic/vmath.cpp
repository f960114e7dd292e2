// Portable sigmoid and tanh for float32: the scalar reference functions, element by element.
#include "../../kernels/activations.hpp"
#include "../../runtime/dispatch.hpp"

namespace dp {
namespace {

void sigmoid_scalar(const float* in, float* out, idx n) {
  for (idx i = 0; i < n; ++i) out[i] = activate(Act::Sigmoid, in[i]);
}
void tanh_scalar(const float* in, float* out, idx n) {
  for (idx i = 0; i < n; ++i) out[i] = std::tanh(in[i]);
}

}  // namespace

void exp_generic_f64(const double* in, double* out, idx n) {
  for (idx i = 0; i < n; ++i) out[i] = std::exp(in[i]);
}

void fill_vmath_generic(VectorMath& vm) {
  vm = {"generic", sigmoid_scalar, tanh_scalar, adam_generic_f32, adam_generic_f64, exp_generic_f64,
        column_sums_generic_f32, column_sums_generic_f64, relu_backward_generic_f32, relu_backward_generic_f64};
}

}  // namespace dp
