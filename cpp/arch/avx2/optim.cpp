// The Adam loop (kernels/adam_loop.hpp) in 256-bit vectors: compiled with -mavx2 and
// -ffp-contract=off (no FMA contraction), so it computes the portable loop's bits.
#include "../../kernels/adam_loop.hpp"
#include "../../runtime/dispatch.hpp"

namespace dp {

void adam_avx2_f32(const AdamSpan<float>& s) { adam_span(s); }
void adam_avx2_f64(const AdamSpan<double>& s) { adam_span(s); }

}  // namespace dp
