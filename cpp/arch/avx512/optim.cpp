// The Adam loop (kernels/adam_loop.hpp) in 512-bit vectors: compiled with -mavx512f and
// -ffp-contract=off, so it computes the portable loop's bits, 8 doubles / 16 floats at a time.
#include "../../kernels/adam_loop.hpp"
#include "../../runtime/dispatch.hpp"

namespace dp {

void adam_avx512_f32(const AdamSpan<float>& s) { adam_span(s); }
void adam_avx512_f64(const AdamSpan<double>& s) { adam_span(s); }

}  // namespace dp
