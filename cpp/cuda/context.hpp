// The execution context of one model on one GPU: the device, one non-blocking stream, a
// cuBLASLt handle and a fixed workspace. One stream and a fixed workspace make every result
// reproducible run to run (cuBLAS "Results reproducibility"), and let a whole training step be
// captured into a CUDA graph.
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cstddef>
#include <string>
#include "device_buffer.hpp"

namespace dp::cuda {

// Devices visible to this process (0 without a driver or GPU); `why_not` says what failed.
int device_count(std::string* why_not = nullptr);

struct DeviceInfo {
  std::string name;
  int major = 0, minor = 0, multiprocessors = 0;
  std::size_t total_memory = 0;
};
DeviceInfo device_info(int device);

class Context {
 public:
  explicit Context(int device);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  cublasLtHandle_t lt() const { return lt_; }
  void* workspace() const { return workspace_.data(); }
  std::size_t workspace_bytes() const { return workspace_.capacity(); }
  // Makes this context's device current for the calling thread (every entry point calls it).
  void activate() const;
  void synchronize() const;

 private:
  int device_;
  cudaStream_t stream_ = nullptr;
  cublasLtHandle_t lt_ = nullptr;
  DeviceBuffer<unsigned char> workspace_;
};

}  // namespace dp::cuda
