// Shared by every part of the core: the index type, the vocabulary (activation ids, losses), aligned
// scratch buffers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include "vocabulary.hpp"

namespace dp {

using idx = std::ptrdiff_t;

// A growable 64-byte-aligned scratch buffer. Grows only (never shrinks), so once a workload has
// run, repeated runs allocate nothing.
template <class T>
class ScratchBuffer {
 public:
  ScratchBuffer() = default;
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;
  ~ScratchBuffer() { std::free(data_); }

  T* reserve(std::size_t count) {
    if (count > capacity_) {
      std::size_t bytes = ((count * sizeof(T) + 63) / 64) * 64;
      void* fresh = std::aligned_alloc(64, bytes);
      if (!fresh) throw std::bad_alloc();
      std::free(data_);
      data_ = static_cast<T*>(fresh);
      capacity_ = count;
    }
    return data_;
  }

 private:
  T* data_ = nullptr;
  std::size_t capacity_ = 0;
};

}  // namespace dp
