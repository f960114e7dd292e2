// The portable bf16 level: packing and products in plain C++ (float32 arithmetic on bf16
// values), so precision="bf16" works on every CPU.
#include <cstring>
#include "../../runtime/bf16_dispatch.hpp"

namespace dp {
namespace isa_generic_bf16 {
#include "../../kernels/gemm_bf16/bf16_template.hpp"

constexpr int kMR = 4, kNR = 16, kG = 2;

void ukr(idx kc, const bf16* Ap, const bf16* Bp, float* C, idx ldc, float alpha, float beta) {
  bf16_ukr_portable<kMR, kNR, kG>(kc, Ap, Bp, C, ldc, alpha, beta);
}
void pack_a(const float* A, idx lda, bool ta, idx i0, idx m, idx K, bf16* Ap) {
  bf16_pack_a_portable<kMR, kG>(A, lda, ta, i0, m, K, Ap);
}
void pack_b(const float* B, idx ldb, bool tb, idx j0, idx n, idx K, bf16* Bp) {
  bf16_pack_b_portable<kNR, kG>(B, ldb, tb, j0, n, K, Bp);
}
std::uint64_t fingerprint(const float* x, idx n) { return bf16_fingerprint_portable(x, n); }

}  // namespace isa_generic_bf16

void fill_bf16_arch_generic(GemmBf16Arch& a) {
  using namespace isa_generic_bf16;
  a = {"generic", kMR, kNR, kG, /*mc=*/64, /*kc=*/256, /*nc=*/512, ukr, 0, nullptr, 0, 0, nullptr, pack_a, pack_b,
       nullptr, nullptr, nullptr, fingerprint, /*flops_per_thread=*/1.0e6};
}

}  // namespace dp
