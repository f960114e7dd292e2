// Shape checks at the binding boundary. The Python layer validates and converts user input first
// (dtype, contiguity, NaN policy); these checks make the raw-pointer core safe even when _core is
// called directly: a wrong shape is a ValueError here, never an out-of-bounds read.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <unistd.h>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>
#include "../common/base.hpp"

namespace dp::bind {

namespace py = pybind11;

template <class T>
using Array = py::array_t<T, py::array::c_style>;

inline std::string shape_text(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t d = 0; d < a.ndim(); ++d) s += (d ? ", " : "") + std::to_string(a.shape(d));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// expected: -1 means "any size" for that dimension.
inline void require_shape(const py::array& a, const std::vector<idx>& expected, const char* name) {
  bool ok = a.ndim() == py::ssize_t(expected.size());
  for (std::size_t d = 0; ok && d < expected.size(); ++d)
    ok = expected[d] < 0 || a.shape(d) == expected[d];
  if (!ok) {
    std::string want = "(";
    for (std::size_t d = 0; d < expected.size(); ++d)
      want += (d ? ", " : "") + (expected[d] < 0 ? std::string("?") : std::to_string(expected[d]));
    want += expected.size() == 1 ? ",)" : ")";
    throw py::value_error(std::string(name) + ": expected shape " + want + ", got " +
                          shape_text(a));
  }
}

inline void require_ndim(const py::array& a, int ndim, const char* name) {
  if (a.ndim() != ndim)
    throw py::value_error(std::string(name) + ": expected a " + std::to_string(ndim) +
                          "-D array, got shape " + shape_text(a));
}

// An output array the core writes into: exactly dtype T, C-contiguous, writeable and of the
// expected shape. pybind11 would otherwise convert a mismatched output into a temporary copy
// and the result would be silently lost. check_shape=false: any shape (element-wise kernels).
template <class T>
T* output_data(const py::array& a, const std::vector<idx>& expected, const char* name,
               bool check_shape = true) {
  if (!a.dtype().is(py::dtype::of<T>()))
    throw py::type_error(std::string(name) + ": expected dtype " +
                         std::string(py::str(py::dtype::of<T>())) + ", got " +
                         std::string(py::str(a.dtype())));
  if (check_shape) require_shape(a, expected, name);
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(std::string(name) + ": expected a C-contiguous array");
  if (!a.writeable()) throw py::value_error(std::string(name) + ": expected a writeable array");
  return static_cast<T*>(const_cast<void*>(a.data()));
}

// Vocabulary ids: in their tables' ranges (an unknown id would silently act as identity).
inline Act checked_activation(int id, const char* name = "activation") {
  const int count = table_size(kActivations);
  if (id < 0 || id >= count)
    throw py::value_error(std::string(name) + ": expected an activation id in [0, " +
                          std::to_string(count - 1) + "], got " + std::to_string(id));
  return static_cast<Act>(id);
}

inline LossKind checked_loss(int id, const char* name = "loss") {
  const int count = table_size(kLosses);
  if (id < 0 || id >= count)
    throw py::value_error(std::string(name) + ": expected a loss id in [0, " +
                          std::to_string(count - 1) + "], got " + std::to_string(id));
  return static_cast<LossKind>(id);
}

inline OptimKind checked_optimizer_kind(int id, const char* name = "kind") {
  const int count = table_size(kOptimizers);
  if (id < 0 || id >= count)
    throw py::value_error(std::string(name) + ": expected an optimizer id in [0, " +
                          std::to_string(count - 1) + "] (0 sgd, 1 adam), got " + std::to_string(id));
  return static_cast<OptimKind>(id);
}

// Physical memory in bytes (0 if unknown).
inline double physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? double(pages) * double(page) : 0.0;
}

[[noreturn]] inline void raise_memory_error(const std::string& message) {
  PyErr_SetString(PyExc_MemoryError, message.c_str());
  throw py::error_already_set();
}

// Layer widths of a network of `item`-byte values: each >= 1, and the parameters must fit in
// memory. Checked in double precision first, so absurd widths cannot overflow the index type.
inline void check_network_sizes(const std::vector<idx>& sizes, std::size_t item) {
  if (sizes.size() < 2)
    throw py::value_error("sizes: expected at least 2 layer widths, got " +
                          std::to_string(sizes.size()));
  double params = 0.0;
  for (std::size_t l = 0; l < sizes.size(); ++l) {
    if (sizes[l] < 1)
      throw py::value_error("sizes[" + std::to_string(l) + "]: expected a width >= 1, got " +
                            std::to_string(sizes[l]));
    if (l + 1 < sizes.size()) params += double(sizes[l + 1]) * (double(sizes[l]) + 1.0);
  }
  const double bytes = params * double(item), ram = physical_memory_bytes();
  if (params > double(std::numeric_limits<idx>::max() / 8) || (ram > 0 && bytes > ram)) {
    char text[160];
    std::snprintf(text, sizeof text, "sizes: a network of %.3g parameters (%.3g GB) does not "
                  "fit in memory (%.3g GB)", params, bytes / 1e9, ram / 1e9);
    raise_memory_error(text);
  }
}

}  // namespace dp::bind
