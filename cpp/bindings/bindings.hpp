// Registration entry points of the binding files, called from module.cpp.
#pragma once
#include <pybind11/pybind11.h>

namespace dp::bind {
void register_vocabulary(pybind11::module_& m);
void register_kernels(pybind11::module_& m);
void register_network(pybind11::module_& m);
void register_bf16(pybind11::module_& m);
}  // namespace dp::bind
