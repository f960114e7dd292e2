// The gradient of a batch as a fixed tree of micro-batch gradient sums (deterministic
// data-parallel training, python/deltaprop/distributed/tree.py): a batch of K micro-batches of
// `micro` rows is summed in one binary tree over the micro-batch index — node [lo, hi) is the sum
// of [lo, mid) and [mid, hi), mid = (lo + hi) / 2 — and leaf k is micro-batch k's gradient sum:
// the gradient of its mean loss times its mass (rows or weight sum). A process holding the rows
// of the contiguous leaves [first, first + count) sums the largest whole subtrees inside them
// (the cover), left to right. The tree depends on K only, so whoever adds the subtrees of a
// partition of [0, K) in the same tree gets the same bits.
//
// Every element is rounded as the reference does it in numpy — leaf = float(mass) · gradient,
// node = left + right, each its own rounding (this file is built without FP contraction) — so
// the results are bitwise those of separate gradient calls added in the tree, for any thread count.
#pragma once
#include <utility>
#include <vector>
#include "../common/base.hpp"
#include "../kernels/losses.hpp"
#include "model.hpp"
#include "trainer.hpp"

namespace dp {

// Where the node sums go in the caller's flat buffer: cover node j's parameters
// [bounds[s], bounds[s + 1]) start at out + places[s] + j · (bounds[s + 1] - bounds[s]). One
// segment (bounds {0, P}, places {0}) gives rows of P; several give an all-to-all's send layout
// (segment s of every node together), with room between the groups if the places leave some.
struct TreeLayout {
  std::vector<idx> bounds;  // segments + 1 parameter indices: 0 = bounds[0] <= ... <= P
  std::vector<idx> places;  // segments offsets into out
};

template <class T>
struct MicroBatches {
  const T* X = nullptr;         // (n, inputs): the rows of leaves first .. first + count - 1
  Target<T> y;                  // their targets
  const T* weights = nullptr;   // (n) or null
  const double* masses = nullptr;  // (count): each leaf's rows or weight sum
  idx n = 0;
  idx micro = 1;                // rows per leaf; the last leaf may hold fewer
  idx first = 0, total = 1;     // the first leaf's index, and K
  // Each leaf's mass folded into backpropagation (Trainer::scaled_gradient) instead of a
  // multiplication of its gradient: no pass over the gradient, but other bits than the
  // reference's — for sums that promise agreement to rounding only.
  bool mass_in_backprop = false;
  idx count() const { return (n + micro - 1) / micro; }
};

// The maximal subtrees of the tree over [0, total) inside [a, b), left to right.
std::vector<std::pair<idx, idx>> tree_cover(idx a, idx b, idx total);

// A node's value during the sum: `data`, times `scale` element by element where `scaled` (a
// leaf whose scaling by its mass is fused into the addition that reads it).
template <class T>
struct TreeValue {
  const T* data;
  bool scaled;
  T scale;
};

template <class T>
class GradientTree {
 public:
  // The cover's subtree sums into `out` (placed by `layout`); stats (count, 2) receives each
  // leaf's (loss sum, mass): the mean loss times the mass, or (0, 0) for a leaf whose mass is
  // not positive (its gradient sum is zero, not computed). Parameters are not changed.
  void sum(Model<T>& model, Trainer<T>& trainer, const MicroBatches<T>& batch,
           const TreeLayout& layout, T* out, double* stats);

 private:
  TreeValue<T> leaf(idx k, T* into);
  TreeValue<T> subtree(idx lo, idx hi, std::size_t level);
  T* level(std::size_t l);  // level l's buffer (num_params), made on first use

  // The call's inputs, for the recursion.
  Model<T>* model_ = nullptr;
  Trainer<T>* trainer_ = nullptr;
  const MicroBatches<T>* batch_ = nullptr;
  double* stats_ = nullptr;
  std::vector<AlignedVector<T>> levels_;  // one gradient per tree level: reused, never shrunk
};

}  // namespace dp
