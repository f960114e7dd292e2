// A dense, C-contiguous array in GPU memory, handed to Python: it exposes
// __cuda_array_interface__ (CuPy, Numba, PyTorch) and __dlpack__ (torch.from_dlpack,
// cupy.from_dlpack), so outputs for device inputs stay on the device without a copy.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <cstdint>
#include <string>
#include <vector>
#include "device_buffer.hpp"

namespace dp::cuda {

class DeviceArray {
 public:
  DeviceArray(std::vector<std::int64_t> shape, bool is_double, int device);
  ~DeviceArray();
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  std::uintptr_t ptr() const { return reinterpret_cast<std::uintptr_t>(data_); }
  const std::vector<std::int64_t>& shape() const { return shape_; }
  bool is_double() const { return is_double_; }
  int device() const { return device_; }
  std::int64_t size() const;
  pybind11::array to_numpy() const;

 private:
  std::vector<std::int64_t> shape_;
  bool is_double_;
  int device_;
  void* data_ = nullptr;
};

void bind_device_array(pybind11::module_& m);

}  // namespace dp::cuda
