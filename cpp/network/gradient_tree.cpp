#include "gradient_tree.hpp"
#include <algorithm>
#include <stdexcept>

namespace dp {
namespace {

// dst = f(a) + f(b) element by element, f(x) = x · scale where scaled; every product and sum is
// rounded on its own. dst may be a.
template <class T, bool ScaleA, bool ScaleB>
void add_pair(T* dst, const T* a, T sa, const T* b, T sb, idx n) {
  for (idx i = 0; i < n; ++i) {
    const T x = ScaleA ? a[i] * sa : a[i];
    const T y = ScaleB ? b[i] * sb : b[i];
    dst[i] = x + y;
  }
}

// dst[0, n) = a + b over the parameters [from, from + n).
template <class T>
void add_values(T* dst, const TreeValue<T>& a, const TreeValue<T>& b, idx from, idx n) {
  const T* x = a.data + from;
  const T* y = b.data + from;
  if (a.scaled && b.scaled) return add_pair<T, true, true>(dst, x, a.scale, y, b.scale, n);
  if (a.scaled) return add_pair<T, true, false>(dst, x, a.scale, y, T(1), n);
  if (b.scaled) return add_pair<T, false, true>(dst, x, T(1), y, b.scale, n);
  add_pair<T, false, false>(dst, x, T(1), y, T(1), n);
}

// dst[0, n) = a over the parameters [from, from + n); dst may be a's own values.
template <class T>
void store_value(T* dst, const TreeValue<T>& a, idx from, idx n) {
  const T* x = a.data + from;
  if (!a.scaled) {
    if (x != dst) std::copy_n(x, n, dst);
    return;
  }
  const T s = a.scale;
  for (idx i = 0; i < n; ++i) dst[i] = x[i] * s;
}

void visit(idx lo, idx hi, idx a, idx b, std::vector<std::pair<idx, idx>>& nodes) {
  if (hi <= a || lo >= b) return;
  if (a <= lo && hi <= b) {
    nodes.emplace_back(lo, hi);
    return;
  }
  const idx mid = (lo + hi) / 2;
  visit(lo, mid, a, b, nodes);
  visit(mid, hi, a, b, nodes);
}

}  // namespace

std::vector<std::pair<idx, idx>> tree_cover(idx a, idx b, idx total) {
  std::vector<std::pair<idx, idx>> nodes;
  if (a < b) visit(0, total, a, b, nodes);
  return nodes;
}

template <class T>
T* GradientTree<T>::level(std::size_t l) {
  // Growing the outer vector moves the inner ones, whose memory (and pointers into it) stays.
  while (levels_.size() <= l) levels_.emplace_back();
  AlignedVector<T>& buffer = levels_[l];
  const std::size_t count = std::size_t(model_->num_params());
  if (buffer.size() != count) buffer.assign(count, T(0));
  return buffer.data();
}

template <class T>
TreeValue<T> GradientTree<T>::leaf(idx k, T* into) {
  const MicroBatches<T>& b = *batch_;
  const idx i = k - b.first, r0 = i * b.micro, rows = std::min(b.micro, b.n - r0);
  const double mass = b.masses[i];
  double* stats = stats_ + 2 * i;
  if (rows <= 0 || mass <= 0.0) {  // as the reference: a zero gradient, nothing computed
    std::fill_n(into, model_->num_params(), T(0));
    stats[0] = stats[1] = 0.0;
    return {into, false, T(1)};
  }
  const idx out_w = model_->output_width();
  const Target<T> y{b.y.labels ? b.y.labels + r0 : nullptr,
                    b.y.values ? b.y.values + r0 * out_w : nullptr};
  const T* X = b.X + r0 * model_->input_width();
  const T* weights = b.weights ? b.weights + r0 : nullptr;
  stats[1] = mass;
  if (b.mass_in_backprop) {
    stats[0] = trainer_->scaled_gradient(*model_, X, y, weights, rows, T(mass), into) * mass;
    return {into, false, T(1)};
  }
  stats[0] = trainer_->gradient(*model_, X, y, weights, rows, T(0), into) * mass;
  return {into, true, T(mass)};
}

template <class T>
TreeValue<T> GradientTree<T>::subtree(idx lo, idx hi, std::size_t l) {
  if (hi - lo == 1) return leaf(lo, level(l));
  const idx mid = (lo + hi) / 2;
  const TreeValue<T> left = subtree(lo, mid, l);        // in level l
  const TreeValue<T> right = subtree(mid, hi, l + 1);   // in level l + 1
  T* sum = level(l);
  add_values(sum, left, right, 0, model_->num_params());
  return {sum, false, T(1)};
}

template <class T>
void GradientTree<T>::sum(Model<T>& model, Trainer<T>& trainer, const MicroBatches<T>& batch,
                          const TreeLayout& layout, T* out, double* stats) {
  const idx count = batch.count();
  if (batch.micro < 1 || batch.first < 0 || batch.first + count > batch.total)
    throw std::invalid_argument("GradientTree: leaves outside the tree");
  model_ = &model;
  trainer_ = &trainer;
  batch_ = &batch;
  stats_ = stats;
  const std::vector<std::pair<idx, idx>> nodes = tree_cover(batch.first, batch.first + count, batch.total);
  const std::size_t segments = layout.places.size();
  for (std::size_t j = 0; j < nodes.size(); ++j) {
    const auto [lo, hi] = nodes[j];
    // The node's last addition (or a lone leaf's scaling) writes straight into out; a lone
    // leaf's gradient goes there itself when the node is one piece of out (one segment).
    TreeValue<T> left{nullptr, false, T(1)}, right{nullptr, false, T(1)};
    if (hi - lo == 1) {
      const idx whole = model.num_params();
      left = leaf(lo, segments == 1 ? out + layout.places[0] + idx(j) * whole : level(0));
    } else {
      const idx mid = (lo + hi) / 2;
      left = subtree(lo, mid, 0);
      right = subtree(mid, hi, 1);
    }
    for (std::size_t s = 0; s < segments; ++s) {
      const idx from = layout.bounds[s], n = layout.bounds[s + 1] - from;
      T* dst = out + layout.places[s] + idx(j) * n;
      if (right.data)
        add_values(dst, left, right, from, n);
      else
        store_value(dst, left, from, n);
    }
  }
}

template class GradientTree<float>;
template class GradientTree<double>;

}  // namespace dp
