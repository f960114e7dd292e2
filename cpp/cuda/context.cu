#include "context.hpp"
#include <string>

namespace dp::cuda {
namespace {
// cuBLASLt's recommendation for Hopper is 32 MiB; fixed, so algorithm choice never depends on
// what memory happens to be free.
constexpr std::size_t kWorkspaceBytes = std::size_t(32) << 20;
}  // namespace

void throw_cuda_error(cudaError_t status, const char* what) {
  cudaGetLastError();  // clear a sticky launch error so the next call starts clean
  std::string msg = std::string(what) + ": " + cudaGetErrorString(status);
  if (status == cudaErrorMemoryAllocation) throw DeviceOutOfMemory(msg);
  throw std::runtime_error("CUDA error in " + msg);
}

void throw_cublas_error(cublasStatus_t status, const char* what) {
  std::string msg = std::string(what) + ": cuBLAS status " + std::to_string(int(status));
  if (status == CUBLAS_STATUS_ALLOC_FAILED) throw DeviceOutOfMemory(msg);
  throw std::runtime_error("cuBLASLt error in " + msg);
}

void* device_alloc(std::size_t bytes, const char* what) {
  void* ptr = nullptr;
  if (bytes == 0) bytes = 1;
  cudaError_t status = cudaMalloc(&ptr, bytes);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    std::size_t free_bytes = 0, total = 0;
    cudaMemGetInfo(&free_bytes, &total);
    throw DeviceOutOfMemory(std::string("not enough GPU memory for ") + what + ": needs " +
                            std::to_string(bytes >> 20) + " MiB, " + std::to_string(free_bytes >> 20) +
                            " MiB free of " + std::to_string(total >> 20) + " MiB");
  }
  check(status, what);
  return ptr;
}

int device_count(std::string* why_not) {
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    if (why_not) *why_not = cudaGetErrorString(status);
    cudaGetLastError();
    return 0;
  }
  if (count == 0 && why_not) *why_not = "no CUDA device found";
  return count;
}

DeviceInfo device_info(int device) {
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  return {prop.name, prop.major, prop.minor, prop.multiProcessorCount, prop.totalGlobalMem};
}

Context::Context(int device) : device_(device) {
  activate();
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  check(cublasLtCreate(&lt_), "cublasLtCreate");
  workspace_.reserve(kWorkspaceBytes, "the cuBLASLt workspace");
}

Context::~Context() {
  cudaSetDevice(device_);
  if (stream_) cudaStreamSynchronize(stream_);
  if (lt_) cublasLtDestroy(lt_);
  if (stream_) cudaStreamDestroy(stream_);
}

void Context::activate() const { check(cudaSetDevice(device_), "cudaSetDevice"); }

void Context::synchronize() const { check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }

}  // namespace dp::cuda
