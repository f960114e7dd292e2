// The buffers backpropagation needs for a batch: every layer's activation a(l+1) (n, sizes[l+1];
// the output layer keeps its logits), two delta buffers (n, widest layer) that alternate going
// down the layers, and a bias-gradient buffer (widest layer). Sized for the largest batch seen:
// a smaller (e.g. last) batch reuses the same memory, so steady-state training never allocates.
#pragma once
#include <algorithm>
#include <vector>
#include "../common/base.hpp"

namespace dp {

template <class T>
class BackpropWorkspace {
 public:
  // sizes: the network's L+1 layer widths; n: the batch's rows.
  void reserve(const std::vector<idx>& sizes, idx n) {
    act_off_.clear();  // keeps its capacity: no allocation after the first call
    idx total = 0;
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
      act_off_.push_back(total);
      total += n * sizes[l + 1];
    }
    if (n <= rows_) return;
    const idx widest = *std::max_element(sizes.begin() + 1, sizes.end());
    acts_.assign(std::size_t(total), T(0));
    delta_a_.assign(std::size_t(n * widest), T(0));
    delta_b_.assign(std::size_t(n * widest), T(0));
    db_.assign(std::size_t(widest), T(0));
    rows_ = n;
  }

  T* act(idx l) { return acts_.data() + act_off_[std::size_t(l)]; }  // a(l+1), (n, sizes[l+1])
  T* delta_a() { return delta_a_.data(); }  // receives dLoss/dlogits, then alternates with delta_b
  T* delta_b() { return delta_b_.data(); }
  T* db() { return db_.data(); }

 private:
  idx rows_ = 0;  // capacity in rows
  AlignedVector<T> acts_, delta_a_, delta_b_, db_;
  std::vector<idx> act_off_;
};

}  // namespace dp
