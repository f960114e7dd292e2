// Owning device memory: one cudaMalloc per buffer, freed on destruction; grows only (a smaller
// request reuses the memory, so a training step allocates nothing once its shapes have run).
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include "check.hpp"

namespace dp::cuda {

// Allocates `bytes` on the current device; DeviceOutOfMemory names `what` when it does not fit.
void* device_alloc(std::size_t bytes, const char* what);

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept { swap(other); }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    swap(other);
    return *this;
  }
  ~DeviceBuffer() {
    if (data_) cudaFree(data_);
  }

  // At least `count` elements; the contents are kept only when no reallocation happens.
  T* reserve(std::size_t count, const char* what) {
    if (count > capacity_) {
      T* fresh = static_cast<T*>(device_alloc(count * sizeof(T), what));
      if (data_) cudaFree(data_);
      data_ = fresh;
      capacity_ = count;
    }
    return data_;
  }
  T* data() const { return data_; }
  std::size_t capacity() const { return capacity_; }

 private:
  void swap(DeviceBuffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(capacity_, other.capacity_);
  }
  T* data_ = nullptr;
  std::size_t capacity_ = 0;
};

}  // namespace dp::cuda
