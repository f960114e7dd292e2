// Error handling of the CUDA backend: every CUDA and cuBLASLt status is checked and turned into
// a C++ exception carrying what was being done; the bindings map them to Python exceptions
// (DeviceOutOfMemory -> MemoryError, the rest -> RuntimeError).
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <new>
#include <stdexcept>
#include <string>

namespace dp::cuda {

// The device ran out of memory; the model is left as it was before the call.
class DeviceOutOfMemory : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* what);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* what);

inline void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw_cuda_error(status, what);
}

inline void check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) throw_cublas_error(status, what);
}

// Launch errors (bad configuration) show up on the next cudaGetLastError.
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

}  // namespace dp::cuda
