// Shape checks at the binding boundary. The Python layer validates and converts user input first
// (dtype, contiguity, NaN policy); these checks make the raw-pointer core safe even when _core is
// called directly: a wrong shape is a ValueError here, never an out-of-bounds read.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <string>
#include <vector>
#include "../kernels/common.hpp"

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

}  // namespace dp::bind
