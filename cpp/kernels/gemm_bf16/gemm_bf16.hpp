// Mixed-precision GEMM: C = alpha * op(A) op(B) + beta * C with A, B, C float32 in memory, the
// products taken in bf16 (A and B rounded to nearest even while they are packed: the panels are
// bf16, half the bytes) and summed in float32. The epilogue (bias, activation, slope) is the
// float32 GEMM's, applied in float32. Results are bitwise identical for every thread count.
//
// An op(B) that several products share (a layer's weights) can be packed once into a
// Bf16PackedB and passed instead of B.
#pragma once
#include <cstdlib>
#include <memory>
#include "../../arch/gemm_bf16_arch.hpp"
#include "../gemm/gemm.hpp"

namespace dp {

// op(B) (K x N) packed for one bf16 level: ceil(N / nr) panels of nr x Kp bf16 values.
class Bf16PackedB {
 public:
  idx K = 0, N = 0;
  const char* level = nullptr;  // the GemmBf16Arch it was packed for (its layout)
  int nr = 0, kg = 0;
  idx kp() const { return (K + kg - 1) / kg * kg; }
  const bf16* data() const { return data_.get(); }
  bf16* reserve(std::size_t count);
  bool fits(const GemmBf16Arch& arch, idx k, idx n) const {
    return data_ && level == arch.name && nr == arch.nr && kg == arch.kg && K == k && N == n;
  }

 private:
  struct Free {
    void operator()(bf16* p) const { std::free(p); }
  };
  std::unique_ptr<bf16[], Free> data_;
  std::size_t capacity_ = 0;
};

// Packs op(B) (K x N; op(B)(k, j) = B[k*ldb + j], or B[j*ldb + k] when trans_b) for the active
// level into `out`, reusing its memory when large enough.
void pack_b_bf16(bool trans_b, idx K, idx N, const float* B, idx ldb, Bf16PackedB& out);

// As gemm(), in bf16 products. `packed_b`, when given, is op(B) packed by pack_b_bf16 for the
// active level with these K and N (B and trans_b are then not read; B may be null); a packing
// that no longer fits (the level changed) throws std::logic_error.
void gemm_bf16(bool trans_a, bool trans_b, idx M, idx N, idx K, float alpha, const float* A,
               idx lda, const float* B, idx ldb, float beta, float* C, idx ldc,
               const GemmEpilogue<float>* epilogue = nullptr,
               const Bf16PackedB* packed_b = nullptr);

// One sample through C = a Bᵀ (B as a layer's W), columns [j0, j1) only, in bf16 products: the
// twin of gemv_columns (gemm.hpp) for a caller that splits several products' columns among the
// threads of its own region. The values are those of gemm_bf16 with M = 1 and no packed B. Its
// team is gemv_team's (the same memory-bound stream of float32 weights); gemv_split_bf16 is
// thread t's first column (whole kernel tiles). `arch` is bf16_gemv_arch(): the active level, or
// null when that level has no few-rows kernel (the portable one: use gemm_bf16).
const GemmBf16Arch* bf16_gemv_arch();
void gemv_columns_bf16(const GemmBf16Arch& arch, idx j0, idx j1, idx K, const float* a,
                       const float* B, idx ldb, float* C, const GemmEpilogue<float>* epilogue = nullptr);
idx gemv_split_bf16(const GemmBf16Arch& arch, idx N, int t, int team);

}  // namespace dp
