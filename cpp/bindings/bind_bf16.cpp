// Bindings of the bf16 GEMM and its level: gemm_bf16_float32 (float32 arrays in and out, bf16
// products), the rounding as a kernel (bf16_round_float32, for tests and tools), and the level
// in use, the CPU's best, a setter for tests, the tile and the blocks.
#include <pybind11/stl.h>
#include <algorithm>
#include <stdexcept>
#include "../kernels/gemm_bf16/gemm_bf16.hpp"
#include "../runtime/bf16_dispatch.hpp"
#include "checks.hpp"
#include "bindings.hpp"

namespace dp::bind {
namespace {

// Rows contiguous, possibly further apart than the width (a column slice): the leading dimension.
idx row_stride(const py::array_t<float>& a, const char* name) {
  require_ndim(a, 2, name);
  const auto item = py::ssize_t(sizeof(float));
  if (a.strides(1) != item && a.shape(1) > 1)
    throw py::value_error(std::string(name) + ": rows must be contiguous (inner stride 4 bytes), got " +
                          std::to_string(a.strides(1)));
  const py::ssize_t row = a.shape(0) > 1 ? a.strides(0) : a.shape(1) * item;
  if (row % item != 0 || row < a.shape(1) * item)
    throw py::value_error(std::string(name) + ": row stride " + std::to_string(row) +
                          " bytes is not a whole number of elements >= the width");
  return std::max<idx>(1, row / item);
}

template <class F>
auto value_errors(const char* arg, F&& f) {
  try {
    return f();
  } catch (const std::invalid_argument& e) {
    throw py::value_error(std::string(arg) + ": " + e.what());
  }
}

}  // namespace

void register_bf16(py::module_& m) {
  m.def("gemm_bf16_float32",
        [](py::array_t<float> A, py::array_t<float> B, py::array C, bool ta, bool tb, float alpha,
           float beta) {
          const idx lda = row_stride(A, "A"), ldb = row_stride(B, "B");
          const idx M = ta ? A.shape(1) : A.shape(0), K = ta ? A.shape(0) : A.shape(1);
          const idx N = tb ? B.shape(0) : B.shape(1);
          require_shape(B, tb ? std::vector<idx>{N, K} : std::vector<idx>{K, N}, "B");
          float* c = output_data<float>(C, {M, N}, "out");
          const float* a = A.data();
          const float* b = B.data();
          py::gil_scoped_release nogil;
          gemm_bf16(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, N);
        },
        py::arg("A"), py::arg("B"), py::arg("out"), py::arg("trans_a"), py::arg("trans_b"),
        py::arg("alpha"), py::arg("beta"),
        "out = alpha op(A) op(B) + beta out with bf16 products, float32 sums.");
  m.def("bf16_round_float32",
        [](Array<float> x) {
          Array<float> out(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
          const float* in = x.data();
          float* o = out.mutable_data();
          for (idx i = 0; i < x.size(); ++i) o[i] = bf16_to_float(bf16_from_float(in[i]));
          return out;
        },
        py::arg("x"), "x rounded to bfloat16 (nearest even; subnormals to zero), as float32.");
  m.def("bf16_level", [] { return bf16_level_name(active_bf16_level()); },
        "The bf16 GEMM level in use: 'amx', 'avx512bf16' or 'generic'.");
  m.def("cpu_max_bf16_level", [] { return bf16_level_name(cpu_max_bf16_level()); });
  m.def("bf16_levels", &supported_bf16_levels, "The bf16 levels this CPU and build support.");
  m.def("amx_unavailable_reason", &amx_unavailable_reason);
  m.def("set_bf16_level",
        [](const std::string& name) {
          value_errors("level", [&] {
            set_bf16_level(parse_bf16_level(name));
            return 0;
          });
        },
        py::arg("level"));
  m.def("bf16_tile", [] {
    const GemmBf16Arch& a = active_bf16_arch();
    return py::make_tuple(a.mr, a.nr, a.kg);
  }, "(MR, NR, K granule) of the bf16 level in use.");
  m.def("bf16_gemm_blocks", [] {
    const GemmBf16Arch& a = active_bf16_arch();
    return py::make_tuple(a.mc, a.kc, a.nc);
  }, "(MC, KC, NC) of the bf16 level in use.");
  m.def("set_bf16_gemm_blocks",
        [](const std::string& spec) {
          value_errors("spec", [&] {
            set_bf16_gemm_blocks(spec);
            return 0;
          });
        },
        py::arg("spec"), "'table' or 'MC,KC,NC' for every bf16 level (not while products run).");
}

}  // namespace dp::bind
