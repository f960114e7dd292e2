// deltaprop._core: the compiled core. Python code imports it through deltaprop/__init__.py.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include "../runtime/blocking.hpp"
#include "../runtime/cpu_info.hpp"
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

  m.def("cpu_info", [] {
    const dp::CpuInfo& c = dp::cpu_info();
    auto cache = [](const dp::CacheLevel& l) {
      py::dict d;
      d["size"] = l.size, d["ways"] = l.ways, d["sets"] = l.sets, d["line"] = l.line, d["shared_by"] = l.shared_by;
      return d;
    };
    py::dict d;
    d["vendor"] = c.vendor, d["model"] = c.model, d["uarch"] = c.uarch;
    d["l1d"] = cache(c.l1d), d["l2"] = cache(c.l2), d["l3"] = cache(c.l3);
    d["avx512"] = c.avx512, d["avx512_bf16"] = c.avx512_bf16, d["amx_bf16"] = c.amx_bf16;
    d["fma512_units"] = c.fma512_units;
    return d;
  }, "What the CPU is: vendor, model, caches of one core, extensions, 512-bit FMA pipes.");
  m.def("gemm_blocks", [](const std::string& dtype) {
    const bool f64 = dtype == "float64";
    if (!f64 && dtype != "float32") throw py::value_error("dtype: expected 'float32' or 'float64', got '" + dtype + "'");
    const auto& a32 = dp::active_gemm_arch<float>();
    const auto& a64 = dp::active_gemm_arch<double>();
    return f64 ? py::make_tuple(a64.mc, a64.kc, a64.nc) : py::make_tuple(a32.mc, a32.kc, a32.nc);
  }, py::arg("dtype"), "(MC, KC, NC) of the active instruction set's GEMM.");
  m.def("model_gemm_blocks", [](const std::string& dtype) {
    const bool f64 = dtype == "float64";
    const auto& a = f64 ? dp::active_gemm_arch<double>().mr : dp::active_gemm_arch<float>().mr;
    const int nr = f64 ? dp::active_gemm_arch<double>().nr : dp::active_gemm_arch<float>().nr;
    const dp::GemmBlocks b = dp::model_blocks(dp::cpu_info(), a, nr, f64 ? 8 : 4);
    return py::make_tuple(b.mc, b.kc, b.nc);
  }, py::arg("dtype"), "(MC, KC, NC) the analytical model derives from this CPU's caches.");
  m.def("set_gemm_blocks", [](const std::string& spec) {
    try {
      dp::set_gemm_blocks(spec);
    } catch (const std::invalid_argument& e) {
      throw py::value_error(std::string("spec: ") + e.what());
    }
  }, py::arg("spec"), "'table', 'model' or 'MC,KC,NC' for every instruction set (not while products run).");
  m.def("worker_pinning", &dp::worker_pinning_enabled,
        "Whether the kernels' OpenMP workers are kept off their caller's CPU (DELTAPROP_PIN_THREADS).");
  m.def("step_team", &dp::step_team_enabled,
        "Whether a training step runs as one parallel region of all threads (DELTAPROP_STEP_TEAM=1; off by default).");
  m.def("set_step_team", &dp::set_step_team, py::arg("on"),
        "One parallel region per training step (True) or one per product (False); same results.");
  m.def("gemm_loop_order", [] { return std::string(dp::gemm_loop_order_name(dp::gemm_loop_order())); },
        "The GEMM blocks' tile-loop order: 'auto' (from the L2 size), 'rows' or 'columns' (DELTAPROP_GEMM_ORDER).");
  m.def("set_gemm_loop_order", [](const std::string& name) {
    try {
      dp::set_gemm_loop_order(dp::parse_gemm_loop_order(name));
    } catch (const std::invalid_argument& e) {
      throw py::value_error(std::string("name: ") + e.what());
    }
  }, py::arg("name"), "'auto', 'rows' or 'columns'; the same bits in every order (not while products run).");
  m.def("gemm_blocks_source", &dp::gemm_blocks_source);
  m.def("gemm_variant", [] { return dp::gemm_variant_name(dp::active_gemm_variant()); },
        "The vendor family whose GEMM choices the avx512 and avx2 levels use: 'intel' or 'zen4'.");
  m.def("gemm_arch_variant", [] { return std::string(dp::active_gemm_arch<float>().variant); },
        "What the active level's GEMM table was made for: 'intel', 'zen4' (avx512), 'zen3' (avx2), '' (generic).");
  m.def("cpu_gemm_variant", [] { return dp::gemm_variant_name(dp::cpu_gemm_variant()); });
  m.def("set_gemm_variant", [](const std::string& name) {
    try {
      dp::set_gemm_variant(dp::parse_gemm_variant(name));
    } catch (const std::invalid_argument& e) {
      throw py::value_error(std::string("name: ") + e.what());
    }
  }, py::arg("name"), "'auto', 'intel', 'zen4' or 'zen3' (the AMD family, as 'zen4'); not while products run; keeps the block setting.");

  // std::invalid_argument from the core becomes ValueError; bad_alloc becomes MemoryError
  // (pybind11's defaults).
  dp::bind::register_vocabulary(m);
  dp::bind::register_kernels(m);
  dp::bind::register_network(m);
  dp::bind::register_bf16(m);
}
