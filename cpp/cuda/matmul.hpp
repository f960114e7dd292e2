// Matrix products through cuBLASLt, column-major as cuBLAS sees them (a row-major (rows, cols)
// array is a column-major (cols, rows) matrix), with the fused epilogues a dense layer needs:
// bias, ReLU + bias (forward) and the bias gradient of B (the dW product of backward).
//
// A plan (descriptors + the heuristic's algorithm) is made once per shape, epilogue and operand
// alignment and reused, so the algorithm -- and with it the result -- never changes between
// calls, and no heuristic query happens while a CUDA graph is being captured.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <tuple>
#include "context.hpp"

namespace dp::cuda {

enum class Epilogue : int { None = 0, Bias = 1, ReluBias = 2, BiasGradB = 3 };
enum class MathMode : int { Strict = 0, TF32 = 1 };

template <class T>
struct MatmulArgs {
  bool trans_a = false, trans_b = false;
  std::int64_t m = 0, n = 0, k = 0;
  const T* A = nullptr;  // stored trans_a ? (k x m) : (m x k), leading dimension lda
  std::int64_t lda = 0;
  const T* B = nullptr;  // stored trans_b ? (n x k) : (k x n)
  std::int64_t ldb = 0;
  T* D = nullptr;        // (m x n)
  std::int64_t ldd = 0;
  Epilogue epilogue = Epilogue::None;
  T* bias = nullptr;     // Bias/ReluBias: m values read; BiasGradB: n values written
};

class Matmul {
 public:
  explicit Matmul(const Context& ctx) : ctx_(ctx) {}
  ~Matmul();
  Matmul(const Matmul&) = delete;
  Matmul& operator=(const Matmul&) = delete;

  // D = op(A) op(B), then the epilogue. Returns false, having run nothing, when cuBLASLt offers
  // no algorithm for this epilogue (the caller then runs the plain product and its own kernel).
  // `allow_epilogues` false forces that fallback everywhere (tests compare both paths).
  template <class T>
  bool run(const MatmulArgs<T>& args, MathMode math);
  bool allow_epilogues = true;

 private:
  struct Plan;
  using Key = std::tuple<int, int, int, int, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                         std::int64_t, std::int64_t, int, int>;
  template <class T>
  Plan* plan_for(const MatmulArgs<T>& args, MathMode math);
  const Context& ctx_;
  std::map<Key, std::shared_ptr<Plan>> plans_;  // shared_ptr: Plan stays incomplete here
};

}  // namespace dp::cuda
