// Bindings of layer 1 (kernels) for one dtype: outputs are preallocated by the caller
// (python/deltaprop/kernels.py) and must be exactly of that dtype, C-contiguous and writeable;
// inputs are converted to C-contiguous arrays of that dtype. Every size is checked before a raw
// pointer reaches the core, and the GIL is released around the work.
#include <pybind11/stl.h>
#include <algorithm>
#include <optional>
#include "../kernels/activations.hpp"
#include "../kernels/gemm/gemm.hpp"
#include "../kernels/gemm/gemv.hpp"
#include "../kernels/losses.hpp"
#include "../layers/dense.hpp"
#include "checks.hpp"
#include "bindings.hpp"

namespace dp::bind {
namespace {

// A matrix whose rows are contiguous but may be further apart than its width (a column slice
// of a larger array): its leading dimension in elements. Anything else is the caller's to copy.
template <class T>
idx leading_dimension(const py::array_t<T>& a, const char* name) {
  require_ndim(a, 2, name);
  const auto item = py::ssize_t(sizeof(T));
  if (a.strides(1) != item && a.shape(1) > 1)
    throw py::value_error(std::string(name) + ": rows must be contiguous (inner stride " +
                          std::to_string(item) + " bytes), got " + std::to_string(a.strides(1)));
  const py::ssize_t row = a.shape(0) > 1 ? a.strides(0) : a.shape(1) * item;
  if (row % item != 0 || row < a.shape(1) * item)
    throw py::value_error(std::string(name) + ": row stride " + std::to_string(row) +
                          " bytes is not a whole number of elements >= the width");
  return std::max<idx>(1, row / item);
}

template <class T>
void bind_gemm(py::module_& m, const std::string& sfx) {
  // A and B may be row-strided views (leading dimension > width): no copy for column slices.
  m.def(("gemm_" + sfx).c_str(),
        [](py::array_t<T> A, py::array_t<T> B, py::array C, bool ta, bool tb, T alpha, T beta) {
          const idx lda = leading_dimension(A, "A"), ldb = leading_dimension(B, "B");
          const idx M = ta ? A.shape(1) : A.shape(0), K = ta ? A.shape(0) : A.shape(1);
          const idx N = tb ? B.shape(0) : B.shape(1);
          require_shape(B, tb ? std::vector<idx>{N, K} : std::vector<idx>{K, N}, "B");
          T* c = output_data<T>(C, {M, N}, "out");
          const T* a = A.data();
          const T* b = B.data();
          py::gil_scoped_release nogil;
          gemm(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, N);
        });
  m.def(("gemm_reference_" + sfx).c_str(),
        [](Array<T> A, Array<T> B, py::array C, bool ta, bool tb, T alpha, T beta) {
          require_ndim(A, 2, "A");
          require_ndim(B, 2, "B");
          const idx M = ta ? A.shape(1) : A.shape(0), K = ta ? A.shape(0) : A.shape(1);
          const idx N = tb ? B.shape(0) : B.shape(1);
          require_shape(B, tb ? std::vector<idx>{N, K} : std::vector<idx>{K, N}, "B");
          T* c = output_data<T>(C, {M, N}, "out");
          const T *a = A.data(), *b = B.data();
          const idx lda = A.shape(1), ldb = B.shape(1);
          py::gil_scoped_release nogil;
          gemm_reference(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, N);
        });
  m.def(("gemv_" + sfx).c_str(), [](Array<T> A, Array<T> x, py::array y, bool trans, T alpha, T beta) {
    require_ndim(A, 2, "A");
    const idx rows = A.shape(0), cols = A.shape(1);
    require_shape(x, {trans ? rows : cols}, "x");
    T* yv = output_data<T>(y, {trans ? cols : rows}, "out");
    const T* a = A.data();
    const T* xv = x.data();
    py::gil_scoped_release nogil;
    gemv(trans, rows, cols, alpha, a, cols, xv, beta, yv);
  });
}

template <class T>
void bind_layers(py::module_& m, const std::string& sfx) {
  m.def(("dense_forward_" + sfx).c_str(),
        [](Array<T> X, Array<T> W, Array<T> b, py::array Z, py::array A, int act) {
          require_ndim(X, 2, "X");
          require_ndim(W, 2, "W");
          const idx n = X.shape(0), in = X.shape(1), out = W.shape(0);
          require_shape(W, {out, in}, "W");
          require_shape(b, {out}, "b");
          const Act g = checked_activation(act);
          T* z = output_data<T>(Z, {n, out}, "Z");
          T* a = output_data<T>(A, {n, out}, "A");
          if (z == a) throw py::value_error("A: must not share memory with Z");
          const T *x = X.data(), *w = W.data(), *bb = b.data();
          py::gil_scoped_release nogil;
          dense_forward(a, z, x, w, bb, n, in, out, g);
        });
  m.def(("dense_backward_" + sfx).c_str(),
        [](Array<T> X, Array<T> W, Array<T> dZ, py::array dX, py::array dW, py::array db) {
          require_ndim(X, 2, "X");
          require_ndim(W, 2, "W");
          const idx n = X.shape(0), in = X.shape(1), out = W.shape(0);
          require_shape(W, {out, in}, "W");
          require_shape(dZ, {n, out}, "dZ");
          T* dx = output_data<T>(dX, {n, in}, "dX");
          T* dw = output_data<T>(dW, {out, in}, "dW");
          T* dbb = output_data<T>(db, {out}, "db");
          const T *x = X.data(), *w = W.data(), *dz = dZ.data();
          py::gil_scoped_release nogil;
          dense_backward_input(dx, dz, w, static_cast<const T*>(nullptr), Act::Identity, n, in, out);
          dense_backward_weights(dw, dz, x, n, in, out, T(1), T(0));
          column_sums(dbb, dz, n, out);
        });
  // Element-wise: any shapes, equal sizes.
  m.def(("activation_forward_" + sfx).c_str(), [](int act, Array<T> Z, py::array A) {
    const Act g = checked_activation(act);
    if (Z.size() != A.size()) throw py::value_error("A: size differs from Z");
    T* a = output_data<T>(A, {}, "A", false);
    const T* z = Z.data();
    const idx n = Z.size();
    py::gil_scoped_release nogil;
    activation_forward(g, z, a, n);
  });
  m.def(("activation_backward_" + sfx).c_str(), [](int act, Array<T> A, Array<T> dA, py::array dZ) {
    const Act g = checked_activation(act);
    if (A.size() != dA.size()) throw py::value_error("dA: size differs from A");
    if (A.size() != dZ.size()) throw py::value_error("dZ: size differs from A");
    T* dz = output_data<T>(dZ, {}, "dZ", false);
    const T *a = A.data(), *da = dA.data();
    const idx n = A.size();
    py::gil_scoped_release nogil;
    activation_backward(g, a, da, dz, n);
  });
}

template <class T>
void bind_losses(py::module_& m, const std::string& sfx) {
  m.def(("softmax_cross_entropy_" + sfx).c_str(),
        [](Array<T> logits, std::optional<Array<std::int64_t>> labels,
           std::optional<Array<T>> probs, py::array grad) {
          require_ndim(logits, 2, "logits");
          const idx n = logits.shape(0), c = logits.shape(1);
          if (n < 1 || c < 1)
            throw py::value_error("logits: expected a non-empty (n, C) array, got " +
                                  shape_text(logits));
          T* g = output_data<T>(grad, {n, c}, "grad");
          Target<T> t;
          if (labels) {
            require_shape(*labels, {n}, "labels");
            const std::int64_t* y = labels->data();
            for (idx i = 0; i < n; ++i)
              if (y[i] < 0 || y[i] >= c)
                throw py::value_error("labels: class indices must lie in [0, " +
                                      std::to_string(c - 1) + "], got " + std::to_string(y[i]));
            t.labels = y;
          } else if (probs) {
            require_shape(*probs, {n, c}, "labels");
            t.values = probs->data();
          } else {
            throw py::value_error("labels: give class indices or probability rows");
          }
          const T* z = logits.data();
          py::gil_scoped_release nogil;
          return softmax_cross_entropy(z, n, c, t, g);
        });
  // Element-wise losses over all values (means over a non-empty array).
  m.def(("mse_" + sfx).c_str(), [](Array<T> pred, Array<T> target, py::array grad) {
    if (pred.size() < 1) throw py::value_error("pred: expected a non-empty array");
    if (pred.size() != target.size()) throw py::value_error("target: size differs from pred");
    if (pred.size() != grad.size()) throw py::value_error("grad: size differs from pred");
    T* g = output_data<T>(grad, {}, "grad", false);
    const T *p = pred.data(), *t = target.data();
    const idx n = pred.size();
    py::gil_scoped_release nogil;
    return mean_squared_error(p, 1, n, t, g);
  });
  m.def(("sigmoid_binary_cross_entropy_" + sfx).c_str(),
        [](Array<T> logits, Array<T> target, py::array grad) {
          if (logits.size() < 1) throw py::value_error("logits: expected a non-empty array");
          if (logits.size() != target.size())
            throw py::value_error("target: size differs from logits");
          if (logits.size() != grad.size()) throw py::value_error("grad: size differs from logits");
          T* g = output_data<T>(grad, {}, "grad", false);
          const T *z = logits.data(), *t = target.data();
          const idx n = logits.size();
          py::gil_scoped_release nogil;
          return sigmoid_binary_cross_entropy(z, 1, n, t, g);
        });
  m.def(("poisson_" + sfx).c_str(), [](Array<T> logits, Array<T> target, py::array grad) {
    if (logits.size() < 1) throw py::value_error("logits: expected a non-empty array");
    if (logits.size() != target.size()) throw py::value_error("target: size differs from logits");
    if (logits.size() != grad.size()) throw py::value_error("grad: size differs from logits");
    T* g = output_data<T>(grad, {}, "grad", false);
    const T *z = logits.data(), *t = target.data();
    const idx n = logits.size();
    py::gil_scoped_release nogil;
    return poisson_log_link(z, 1, n, t, g);
  });
}

// True when every value is finite: x * 0 is 0 for finite x and NaN for NaN or ±inf, so one
// vectorisable sum answers the question (the order of the sum cannot change a NaN result).
template <class T>
bool all_finite(const T* x, idx n) {
  constexpr int kLanes = 16;  // independent sums: the loop runs at load speed, not add latency
  T acc[kLanes] = {};
  idx i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += x[i + l] * T(0);
  for (; i < n; ++i) acc[0] += x[i] * T(0);
  T total = 0;
  for (int l = 0; l < kLanes; ++l) total += acc[l];
  return total == T(0);
}

template <class T>
void bind_checks(py::module_& m, const std::string& sfx) {
  m.def(("all_finite_" + sfx).c_str(), [](Array<T> a) {
    const T* x = a.data();
    const idx n = a.size();
    if (n < (idx(1) << 16)) return all_finite(x, n);
    py::gil_scoped_release nogil;
    return all_finite(x, n);
  });
}

// (min, max) of class labels in one pass: two numpy reductions cost ~2 us of a batch-1 training
// step's ~70.
void bind_label_range(py::module_& m) {
  m.def("value_range_int64", [](Array<std::int64_t> a) {
    const std::int64_t* x = a.data();
    const idx n = a.size();
    if (n == 0) throw py::value_error("value_range_int64: expected a non-empty array");
    std::int64_t lo = x[0], hi = x[0];
    for (idx i = 1; i < n; ++i) {
      lo = std::min(lo, x[i]);
      hi = std::max(hi, x[i]);
    }
    return py::make_tuple(lo, hi);
  });
}

}  // namespace

void register_kernels(py::module_& m) {
  bind_checks<float>(m, "float32");
  bind_label_range(m);
  bind_checks<double>(m, "float64");
  bind_gemm<float>(m, "float32");
  bind_gemm<double>(m, "float64");
  bind_layers<float>(m, "float32");
  bind_layers<double>(m, "float64");
  bind_losses<float>(m, "float32");
  bind_losses<double>(m, "float64");
}

}  // namespace dp::bind
