// Shared by every part of the core: the index type, the vocabulary (activation ids, losses), aligned
// vectors and scratch buffers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>
#include "vocabulary.hpp"

namespace dp {

using idx = std::ptrdiff_t;

// Allocates on 64-byte (cache-line) boundaries. A plain std::vector of a large size comes from
// glibc's mmap path 16 bytes past a page start, so every 64-byte vector load of a row of weights
// straddles two cache lines; streaming weights from L2 (one-sample GEMV, small-batch steps) loses
// a quarter or more of its bandwidth to that on a Sapphire Rapids core.
template <class T>
struct AlignedAllocator {
  using value_type = T;
  static constexpr std::size_t kAlignment = 64;
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) noexcept {}
  T* allocate(std::size_t count) {
    if (count > std::size_t(-1) / sizeof(T) - kAlignment) throw std::bad_alloc();
    // aligned_alloc wants a whole number of alignments, and may return null for zero bytes
    const std::size_t bytes =
        count == 0 ? kAlignment : (count * sizeof(T) + kAlignment - 1) / kAlignment * kAlignment;
    void* p = std::aligned_alloc(kAlignment, bytes);
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) noexcept { std::free(p); }
  template <class U>
  bool operator==(const AlignedAllocator<U>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const AlignedAllocator<U>&) const noexcept { return false; }
};

// The parameters, optimizer moments and activation buffers: what the kernels stream.
template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

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
      T* fresh = AlignedAllocator<T>().allocate(count);
      std::free(data_);
      data_ = fresh;
      capacity_ = count;
    }
    return data_;
  }

 private:
  T* data_ = nullptr;
  std::size_t capacity_ = 0;
};

}  // namespace dp
