#include "matmul.hpp"
#include <cuda_runtime.h>
#include <algorithm>
#include <type_traits>

namespace dp::cuda {
namespace {

template <class T>
constexpr cudaDataType_t data_type() {
  return std::is_same_v<T, double> ? CUDA_R_64F : CUDA_R_32F;
}

template <class T>
cublasComputeType_t compute_type(MathMode math) {
  if (std::is_same_v<T, double>) return CUBLAS_COMPUTE_64F;
  return math == MathMode::TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

cublasLtEpilogue_t lt_epilogue(Epilogue e) {
  switch (e) {
    case Epilogue::Bias: return CUBLASLT_EPILOGUE_BIAS;
    case Epilogue::ReluBias: return CUBLASLT_EPILOGUE_RELU_BIAS;
    case Epilogue::BiasGradB: return CUBLASLT_EPILOGUE_BGRADB;
    default: return CUBLASLT_EPILOGUE_DEFAULT;
  }
}

// Largest power of two (<= 256) dividing the address: the heuristic must only pick kernels whose
// vector loads this pointer allows.
int alignment_of(const void* p) {
  auto v = reinterpret_cast<std::uintptr_t>(p);
  int a = 256;
  while (a > 1 && v % std::uintptr_t(a) != 0) a /= 2;
  return a;
}

}  // namespace

struct Matmul::Plan {
  bool supported = false;
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
  ~Plan() {
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (d) cublasLtMatrixLayoutDestroy(d);
    if (desc) cublasLtMatmulDescDestroy(desc);
  }
};

Matmul::~Matmul() = default;

template <class T>
Matmul::Plan* Matmul::plan_for(const MatmulArgs<T>& x, MathMode math) {
  const int align = std::min({alignment_of(x.A), alignment_of(x.B), alignment_of(x.D),
                              x.bias ? alignment_of(x.bias) : 256});
  Key key{int(sizeof(T)), int(math), int(x.trans_a) * 2 + int(x.trans_b), int(x.epilogue),
          x.m, x.n, x.k, x.lda, x.ldb, x.ldd, align, 0};
  auto found = plans_.find(key);
  if (found != plans_.end()) return found->second.get();

  auto plan = std::make_shared<Plan>();
  const cudaDataType_t type = data_type<T>();
  check(cublasLtMatmulDescCreate(&plan->desc, compute_type<T>(math), type), "cublasLtMatmulDescCreate");
  const cublasOperation_t ta = x.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t tb = x.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  check(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)), "TRANSA");
  check(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)), "TRANSB");
  const cublasLtEpilogue_t epi = lt_epilogue(x.epilogue);
  check(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)), "EPILOGUE");
  if (x.bias) {
    const void* bias = x.bias;
    check(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)),
          "BIAS_POINTER");
  }
  check(cublasLtMatrixLayoutCreate(&plan->a, type, x.trans_a ? x.k : x.m, x.trans_a ? x.m : x.k, x.lda),
        "layout A");
  check(cublasLtMatrixLayoutCreate(&plan->b, type, x.trans_b ? x.n : x.k, x.trans_b ? x.k : x.n, x.ldb),
        "layout B");
  check(cublasLtMatrixLayoutCreate(&plan->d, type, x.m, x.n, x.ldd), "layout D");

  cublasLtMatmulPreference_t pref = nullptr;
  check(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
  const std::size_t ws = ctx_.workspace_bytes();
  const std::uint32_t al = std::uint32_t(align);
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
  for (auto attr : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
    cublasLtMatmulPreferenceSetAttribute(pref, attr, &al, sizeof(al));
  cublasLtMatmulHeuristicResult_t result{};
  int count = 0;
  cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(ctx_.lt(), plan->desc, plan->a, plan->b, plan->d,
                                                         plan->d, pref, 1, &result, &count);
  cublasLtMatmulPreferenceDestroy(pref);
  if (status == CUBLAS_STATUS_SUCCESS && count > 0 && result.state == CUBLAS_STATUS_SUCCESS) {
    plan->supported = true;
    plan->algo = result.algo;
  } else if (x.epilogue == Epilogue::None) {
    throw_cublas_error(status == CUBLAS_STATUS_SUCCESS ? CUBLAS_STATUS_NOT_SUPPORTED : status,
                       "cublasLtMatmulAlgoGetHeuristic (no algorithm for a plain product)");
  }
  Plan* raw = plan.get();
  plans_.emplace(key, std::move(plan));
  return raw;
}

template <class T>
bool Matmul::run(const MatmulArgs<T>& x, MathMode math) {
  if (x.epilogue != Epilogue::None && !allow_epilogues) return false;
  Plan* plan = plan_for(x, math);
  if (!plan->supported) return false;
  if (x.bias) {  // plans are shared by layers of equal shape: point at this layer's bias
    const void* bias = x.bias;
    check(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)),
          "BIAS_POINTER");
  }
  using Scale = std::conditional_t<std::is_same_v<T, double>, double, float>;
  const Scale one = 1, zero = 0;
  check(cublasLtMatmul(ctx_.lt(), plan->desc, &one, x.A, plan->a, x.B, plan->b, &zero, x.D, plan->d, x.D,
                       plan->d, &plan->algo, ctx_.workspace(), ctx_.workspace_bytes(), ctx_.stream()),
        "cublasLtMatmul");
  return true;
}

template bool Matmul::run<float>(const MatmulArgs<float>&, MathMode);
template bool Matmul::run<double>(const MatmulArgs<double>&, MathMode);

}  // namespace dp::cuda
