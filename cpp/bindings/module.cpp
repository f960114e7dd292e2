// deltaprop._core: the compiled core. Python code imports it through deltaprop/__init__.py.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include "../runtime/dispatch.hpp"
#include "../runtime/threads.hpp"
#include "bindings.hpp"

#ifndef DELTAPROP_VERSION
#define DELTAPROP_VERSION "0.0.0"
#endif

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "deltaprop's C++ core: GEMM/GEMV kernels, dense layers, losses and networks";
  m.attr("__version__") = DELTAPROP_VERSION;

  m.def("get_num_threads", &dp::get_num_threads);
  m.def("set_num_threads", &dp::set_num_threads, py::arg("n"));
  m.def("openmp_enabled", &dp::openmp_enabled);
  m.def("simd_level", [] { return dp::simd_level_name(dp::active_simd_level()); });
  m.def("cpu_max_simd_level", [] { return dp::simd_level_name(dp::cpu_max_simd_level()); });
  m.def("set_simd_level", [](const std::string& name) {
    try {
      dp::set_simd_level(dp::parse_simd_level(name));
    } catch (const std::invalid_argument& e) {
      throw py::value_error(std::string("level: ") + e.what());
    }
  }, py::arg("level"));
  m.def("gemm_tile", [](const std::string& dtype) {
    const bool f64 = dtype == "float64";
    int mr = f64 ? dp::active_gemm_arch<double>().mr : dp::active_gemm_arch<float>().mr;
    int nr = f64 ? dp::active_gemm_arch<double>().nr : dp::active_gemm_arch<float>().nr;
    return py::make_tuple(mr, nr);
  });

  // std::invalid_argument from the core becomes ValueError; bad_alloc becomes MemoryError
  // (pybind11's defaults).
  dp::bind::register_vocabulary(m);
  dp::bind::register_kernels(m);
  dp::bind::register_network(m);
}
