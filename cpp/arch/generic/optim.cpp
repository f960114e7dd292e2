// The portable Adam loop (kernels/adam_loop.hpp), compiled without errno on sqrt so that it
// vectorises at the baseline level.
#include "../../kernels/adam_loop.hpp"
#include "../../runtime/dispatch.hpp"

namespace dp {

void adam_generic_f32(const AdamSpan<float>& s) { adam_span(s); }
void adam_generic_f64(const AdamSpan<double>& s) { adam_span(s); }

}  // namespace dp
