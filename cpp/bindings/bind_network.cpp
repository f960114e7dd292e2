// Bindings of layer 3 (network) for one dtype: Network_float32 / Network_float64. Parameter
// views share the network's memory and keep it alive; heavy calls release the GIL.
#include <pybind11/functional.h>
#include <pybind11/stl.h>
#include <algorithm>
#include <cmath>
#include <optional>
#include "../network/network.hpp"
#include "checks.hpp"
#include "bindings.hpp"

namespace dp::bind {
namespace {

template <class T>
struct TargetArrays {  // keeps the converted arrays alive while raw pointers are in use
  std::optional<Array<std::int64_t>> labels;
  std::optional<Array<T>> values;
  Target<T> target(const Model<T>& net, idx n) const {
    if (labels) {
      require_shape(*labels, {n}, "y");
      return {labels->data(), nullptr};
    }
    if (!values) throw py::value_error("y: give labels or target values");
    require_shape(*values, {n, net.output_width()}, "y");
    return {nullptr, values->data()};
  }
};

template <class T>
const T* checked_weights(const std::optional<Array<T>>& weights, idx n) {
  if (!weights) return nullptr;
  require_shape(*weights, {n}, "sample_weight");
  return weights->data();
}

template <class T, class Alloc>
py::array_t<T> copy_of(const std::vector<T, Alloc>& v) {
  py::array_t<T> out(py::ssize_t(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

template <class T>
std::vector<T> vector_of(const Array<T>& a, idx expected, const char* name) {
  if (a.size() != 0) require_shape(a, {expected}, name);
  return std::vector<T>(a.data(), a.data() + a.size());
}

// Ctrl-C: look for a pending signal after every batch, with the GIL held briefly.
inline void check_signals() {
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) throw py::error_already_set();
}

// The visiting order of an epoch (null: row order); every index must name a row of X.
inline const std::int64_t* checked_order(const std::optional<Array<std::int64_t>>& order, idx n) {
  if (!order) return nullptr;
  require_shape(*order, {n}, "order");
  const std::int64_t* ord = order->data();
  for (idx i = 0; i < n; ++i)
    if (ord[i] < 0 || ord[i] >= n) throw py::value_error("order: row index out of range");
  return ord;
}

// Staging buffers hold one batch of rows: at least 1, never more than the data has.
inline idx checked_batch(idx batch, idx n) {
  if (batch < 1) throw py::value_error("batch_size: must be >= 1");
  return std::min(batch, n);
}

template <class T>
idx checked_rows(const Model<T>& net, const Array<T>& X) {
  require_shape(X, {-1, net.input_width()}, "X");
  return X.shape(0);
}

// A per-call precision: None for the model's own, else "fp32" or "bf16" (float32 models).
template <class T>
Precision precision_of(const Model<T>& net, const std::optional<std::string>& name) {
  if (!name) return net.precision();
  try {
    const Precision p = parse_precision(*name);
    if (p == Precision::Bf16 && sizeof(T) != sizeof(float))
      throw std::invalid_argument("'bf16' applies to float32 models, this one is float64");
    return p;
  } catch (const std::invalid_argument& e) {
    throw py::value_error(std::string("precision: ") + e.what());
  }
}

// One (n, outputs) result of an inference method of the model (forward: logits, output: the
// output activation's values), computed without the GIL.
template <class T>
Array<T> infer(const Model<T>& net, const Array<T>& X, const std::optional<std::string>& precision,
               void (Model<T>::*method)(const T*, idx, T*, Precision) const) {
  const idx n = checked_rows(net, X);
  const Precision p = precision_of(net, precision);
  Array<T> out({n, net.output_width()});
  const T* x = X.data();
  T* o = out.mutable_data();
  py::gil_scoped_release nogil;
  (net.*method)(x, n, o, p);
  return out;
}

template <class T>
py::array view(const Network<T>& net, const T* ptr, std::vector<py::ssize_t> shape, py::handle owner) {
  std::vector<py::ssize_t> strides(shape.size(), sizeof(T));
  if (shape.size() == 2) strides[0] = shape[1] * sizeof(T);
  (void)net;
  return py::array(py::dtype::of<T>(), shape, strides, ptr, owner);
}

template <class T>
py::tuple gradient_of(Network<T>& net, Array<T> X, std::optional<Array<std::int64_t>> labels,
                      std::optional<Array<T>> values, T l2, std::optional<Array<T>> weights) {
  const idx n = checked_rows(net.model(), X);
  TargetArrays<T> y{labels, values};
  Target<T> t = y.target(net.model(), n);
  const T* w = checked_weights(weights, n);
  Array<T> grad({net.model().num_params()});
  T* g = grad.mutable_data();
  const T* x = X.data();
  double loss;
  {
    py::gil_scoped_release nogil;
    loss = net.gradient(x, t, n, l2, g, w);
  }
  return py::make_tuple(loss, grad);
}

// The placement of tree_gradient's node sums in `out` (gradient_tree.hpp's TreeLayout): segment
// bounds 0 = b0 <= b1 <= ... = num_params and one place per segment, or None for both (rows of
// num_params). Every node's segment must lie inside out.
inline TreeLayout checked_layout(const std::optional<Array<std::int64_t>>& bounds,
                                 const std::optional<Array<std::int64_t>>& places, idx params,
                                 idx nodes, idx out_size) {
  if (bounds.has_value() != places.has_value())
    throw py::value_error("bounds, places: give both or neither");
  TreeLayout layout{{0, params}, {0}};
  if (bounds) {
    require_ndim(*bounds, 1, "bounds");
    require_shape(*places, {bounds->shape(0) - 1}, "places");
    if (bounds->shape(0) < 2)
      throw py::value_error("bounds: expected at least 2 segment bounds, got " + shape_text(*bounds));
    layout.bounds.assign(bounds->data(), bounds->data() + bounds->shape(0));
    layout.places.assign(places->data(), places->data() + places->shape(0));
  }
  if (layout.bounds.front() != 0 || layout.bounds.back() != params)
    throw py::value_error("bounds: expected 0 first and num_params (" + std::to_string(params) +
                          ") last");
  for (std::size_t s = 0; s < layout.places.size(); ++s) {
    const idx n = layout.bounds[s + 1] - layout.bounds[s];
    if (n < 0) throw py::value_error("bounds: expected non-decreasing segment bounds");
    if (layout.places[s] < 0 || layout.places[s] + nodes * n > out_size)
      throw py::value_error("out: segment " + std::to_string(s) + " of " + std::to_string(nodes) +
                            " node(s) placed at " + std::to_string(layout.places[s]) +
                            " does not fit in " + std::to_string(out_size) + " values");
  }
  return layout;
}

template <class T>
void tree_gradient_of(Network<T>& net, Array<T> X, std::optional<Array<std::int64_t>> labels,
                      std::optional<Array<T>> values, std::optional<Array<T>> weights,
                      Array<double> masses, idx micro_batch, idx first, idx total, py::array out,
                      py::array stats, std::optional<Array<std::int64_t>> bounds,
                      std::optional<Array<std::int64_t>> places, bool mass_in_backprop) {
  MicroBatches<T> batch;
  batch.n = checked_rows(net.model(), X);
  TargetArrays<T> y{labels, values};
  batch.y = y.target(net.model(), batch.n);
  batch.weights = checked_weights(weights, batch.n);
  if (micro_batch < 1)
    throw py::value_error("micro_batch: expected rows >= 1, got " + std::to_string(micro_batch));
  batch.micro = micro_batch;
  const idx leaves = batch.count();
  if (first < 0 || total < 1 || first + leaves > total)
    throw py::value_error("first, total: the " + std::to_string(leaves) + " micro-batch(es) from " +
                          std::to_string(first) + " do not lie in a tree of " +
                          std::to_string(total));
  require_shape(masses, {leaves}, "masses");
  batch.masses = masses.data();
  batch.first = first;
  batch.total = total;
  batch.mass_in_backprop = mass_in_backprop;
  batch.X = X.data();
  double* st = output_data<double>(stats, {leaves, 2}, "stats");
  T* o = output_data<T>(out, {}, "out", false);
  const idx nodes = idx(tree_cover(first, first + leaves, total).size());
  const TreeLayout layout = checked_layout(bounds, places, net.model().num_params(), nodes,
                                           idx(out.size()));
  py::gil_scoped_release nogil;
  net.tree_gradient(batch, layout, o, st);
}

template <class T>
void bind_network_type(py::module_& m, const char* name) {
  using Net = Network<T>;
  py::class_<Net>(m, name)
      .def(py::init([](std::vector<idx> sizes, std::vector<int> acts, int loss, std::uint64_t seed) {
             check_network_sizes(sizes, sizeof(T));
             const LossKind kind = checked_loss(loss);
             std::vector<Act> a;
             for (int v : acts) a.push_back(checked_activation(v));
             return new Net(std::move(sizes), std::move(a), kind, seed);
           }),
           py::arg("sizes"), py::arg("activations"), py::arg("loss"), py::arg("seed"))
      .def_property_readonly("num_params", [](const Net& net) { return net.model().num_params(); })
      .def_property_readonly("sizes", [](const Net& net) { return net.model().sizes(); })
      .def("params", [](py::object self) {
        Net& net = self.cast<Net&>();
        return view(net, net.params(), {net.model().num_params()}, self);
      })
      .def("weight", [](py::object self, idx l) {
        Net& net = self.cast<Net&>();
        const Model<T>& m = net.model();
        if (l < 0 || l >= m.num_layers()) throw py::index_error("layer index out of range");
        return view(net, net.params() + m.weight_offset(l), {m.sizes()[l + 1], m.sizes()[l]}, self);
      })
      .def("bias", [](py::object self, idx l) {
        Net& net = self.cast<Net&>();
        const Model<T>& m = net.model();
        if (l < 0 || l >= m.num_layers()) throw py::index_error("layer index out of range");
        return view(net, net.params() + m.bias_offset(l), {m.sizes()[l + 1]}, self);
      })
      .def_property(
          "precision", [](const Net& net) { return precision_name(net.model().precision()); },
          [](Net& net, const std::string& name) {
            try {
              net.set_precision(parse_precision(name));
            } catch (const std::invalid_argument& e) {
              const std::string what = e.what();
              throw py::value_error(what.rfind("precision:", 0) == 0 ? what : "precision: " + what);
            }
          },
          "Precision of the products: 'fp32', or 'bf16' (float32 networks: bf16 products, float32 "
          "sums; parameters, gradients and updates stay float32).")
      .def("forward", [](const Net& self, Array<T> X, std::optional<std::string> precision) {
        return infer(self.model(), X, precision, &Model<T>::forward);
      }, py::arg("X"), py::arg("precision") = py::none())
      .def("output", [](const Net& self, Array<T> X, std::optional<std::string> precision) {
        return infer(self.model(), X, precision, &Model<T>::output);
      }, py::arg("X"), py::arg("precision") = py::none())
      .def("activations", [](const Net& self, Array<T> X, std::optional<std::string> precision) {
        const Model<T>& net = self.model();
        const idx n = checked_rows(net, X);
        const Precision p = precision_of(net, precision);
        py::list result;
        std::vector<T*> outs;
        for (idx l = 0; l < net.num_layers(); ++l) {
          Array<T> a({n, net.sizes()[l + 1]});
          outs.push_back(a.mutable_data());
          result.append(a);
        }
        const T* x = X.data();
        py::gil_scoped_release nogil;
        net.activations(x, n, outs, p);
        return result;
      }, py::arg("X"), py::arg("precision") = py::none())
      .def("evaluate_loss",
           [](const Net& self, Array<T> X, std::optional<Array<std::int64_t>> labels,
              std::optional<Array<T>> values, std::optional<std::string> precision) {
             const Model<T>& net = self.model();
             const idx n = checked_rows(net, X);
             TargetArrays<T> y{labels, values};
             Target<T> t = y.target(net, n);
             const Precision p = precision_of(net, precision);
             const T* x = X.data();
             py::gil_scoped_release nogil;
             return net.evaluate_loss(x, t, n, p);
           },
           py::arg("X"), py::arg("labels"), py::arg("values"), py::arg("precision") = py::none())
      .def("evaluate",
           [](const Net& self, Array<T> X, std::optional<Array<std::int64_t>> labels,
              std::optional<Array<T>> values, std::optional<std::string> precision) {
             const Model<T>& net = self.model();
             const idx n = checked_rows(net, X);
             TargetArrays<T> y{labels, values};
             Target<T> t = y.target(net, n);
             const Precision p = precision_of(net, precision);
             Array<T> logits({n, net.output_width()});
             T* out = logits.mutable_data();
             const T* x = X.data();
             double loss;
             {
               py::gil_scoped_release nogil;
               loss = net.evaluate(x, t, n, out, p);
             }
             return py::make_tuple(loss, logits);
           },
           py::arg("X"), py::arg("labels"), py::arg("values"), py::arg("precision") = py::none(),
           "(mean loss, logits) from one forward pass")
      .def("gradient", &gradient_of<T>, py::arg("X"), py::arg("labels"), py::arg("values"),
           py::arg("l2"), py::arg("weights") = py::none(),
           "(mean loss + l2/2 Σ‖W‖², its gradient): the gradient without an update")
      .def("loss_and_grad", &gradient_of<T>, py::arg("X"), py::arg("labels"), py::arg("values"),
           py::arg("l2"), py::arg("weights") = py::none(), "The former name of gradient")
      .def("apply_gradient",
           [](Net& net, Array<T> grad, const OptimConfig& cfg, std::optional<double> mass) {
             require_shape(grad, {net.model().num_params()}, "grad");
             if (cfg.l2_per_sample && cfg.l2 != 0.0 && !mass)
               throw py::value_error("mass: expected the batch's rows (or weight sum) with "
                                     "l2_per_sample, got None");
             if (mass && !(*mass >= 0.0))
               throw py::value_error("mass: expected a number >= 0, got " + std::to_string(*mass));
             std::vector<T> g(grad.data(), grad.data() + grad.size());  // the caller's stays as is
             py::gil_scoped_release nogil;
             net.apply_gradient(g.data(), cfg, mass.value_or(0.0));
           },
           py::arg("grad"), py::arg("cfg"), py::arg("mass") = py::none(),
           "One optimizer step from a gradient of the data loss (as gradient(l2=0) gives, e.g. "
           "averaged over shards); the coupled L2 term (cfg.l2, over `mass` with l2_per_sample) "
           "is added here")
      .def("tree_gradient", &tree_gradient_of<T>, py::arg("X"), py::arg("labels"),
           py::arg("values"), py::arg("weights"), py::arg("masses"), py::arg("micro_batch"),
           py::arg("first"), py::arg("total"), py::arg("out"), py::arg("stats"),
           py::arg("bounds") = py::none(), py::arg("places") = py::none(),
           py::arg("mass_in_backprop") = false,
           "The rows of micro-batches first, first + 1, ... (micro_batch rows each, the last may "
           "hold fewer) of a batch of `total` micro-batches: each one's gradient sum (the gradient "
           "of its mean loss times its mass, masses[i]: rows or weight sum) added in the fixed "
           "tree over the micro-batch index, into out: the sums of the largest whole subtrees "
           "inside those micro-batches, left to right (rows of num_params, or segment s of node j "
           "at places[s] + j * (bounds[s + 1] - bounds[s])); stats (micro-batches, 2) receives "
           "each one's (loss sum, mass). mass_in_backprop: each mass folded into backpropagation "
           "(no pass over the gradient; rounded otherwise than the reference). Nothing is "
           "allocated; the parameters are unchanged")
      .def("apply_gradient_sum",
           [](Net& net, py::array grad_sum, const OptimConfig& cfg, double mass) {
             T* g = output_data<T>(grad_sum, {net.model().num_params()}, "grad_sum");
             if (!(mass > 0.0) || !std::isfinite(mass))
               throw py::value_error("mass: expected a finite number > 0, got " + std::to_string(mass));
             py::gil_scoped_release nogil;
             net.apply_gradient_sum(g, cfg, mass);
           },
           py::arg("grad_sum"), py::arg("cfg"), py::arg("mass"),
           "apply_gradient(grad_sum / mass, cfg, mass) without a copy: grad_sum is divided in "
           "place (it is scratch afterwards)")
      .def("apply_gradient_sum_part",
           [](Net& net, Array<T> grad_part, idx start, const OptimConfig& cfg, double mass,
              std::optional<Array<T>> addend) {
             require_ndim(grad_part, 1, "grad_part");
             const idx count = grad_part.shape(0), params = net.model().num_params();
             if (addend) require_shape(*addend, {count}, "addend");
             if (start < 0 || start > params - count)
               throw py::value_error("start: expected the part's " + std::to_string(count) +
                                     " parameters to lie in [0, " + std::to_string(params) +
                                     "), got start " + std::to_string(start));
             if (!(mass > 0.0) || !std::isfinite(mass))
               throw py::value_error("mass: expected a finite number > 0, got " + std::to_string(mass));
             const T* g = grad_part.data();
             const T* a = addend ? addend->data() : nullptr;
             py::gil_scoped_release nogil;
             return net.apply_gradient_sum_part(g, a, start, count, cfg, mass);
           },
           py::arg("grad_part"), py::arg("start"), py::arg("cfg"), py::arg("mass"),
           py::arg("addend") = py::none(),
           "apply_gradient_sum on parameters [start, start + len(grad_part)) alone, from "
           "grad_part (+ addend: the sum's last addition, rounded on its own), when the update is "
           "element by element (plain SGD, no L2 term for this batch): the same bits as the whole "
           "update there. Counts the step; returns False (nothing changed) otherwise")
      .def("train_step_sgd",
           [](Net& net, Array<T> X, std::optional<Array<std::int64_t>> labels,
              std::optional<Array<T>> values, T lr, T l2) {
             const idx n = checked_rows(net.model(), X);
             TargetArrays<T> y{labels, values};
             Target<T> t = y.target(net.model(), n);
             const T* x = X.data();
             py::gil_scoped_release nogil;
             return net.train_step_sgd(x, t, n, lr, l2);
           })
      .def("train_step",
           [](Net& net, Array<T> X, std::optional<Array<std::int64_t>> labels,
              std::optional<Array<T>> values, std::optional<Array<T>> weights,
              const OptimConfig& cfg) {
             const idx n = checked_rows(net.model(), X);
             TargetArrays<T> y{labels, values};
             Target<T> t = y.target(net.model(), n);
             const T* w = checked_weights(weights, n);
             const T* x = X.data();
             py::gil_scoped_release nogil;
             return net.train_step(x, t, w, n, cfg);
           })
      .def("train_epoch",
           [](Net& net, Array<T> X, std::optional<Array<std::int64_t>> labels,
              std::optional<Array<T>> values, std::optional<Array<T>> weights,
              std::optional<Array<std::int64_t>> order, idx batch, const OptimConfig& cfg) {
             const idx n = checked_rows(net.model(), X);
             TargetArrays<T> y{labels, values};
             Target<T> t = y.target(net.model(), n);
             const T* w = checked_weights(weights, n);
             const std::int64_t* ord = checked_order(order, n);
             batch = checked_batch(batch, n);
             const T* x = X.data();
             py::gil_scoped_release nogil;
             return net.train_epoch(x, t, w, n, ord, batch, cfg, check_signals);
           })
      .def("optimizer_state",
           [](const Net& net) {
             py::dict state;
             const OptimizerState<T>& opt = net.optimizer();
             state["steps"] = opt.steps();
             state["velocity"] = copy_of(opt.velocity());
             state["adam_m"] = copy_of(opt.adam_m());
             state["adam_v"] = copy_of(opt.adam_v());
             return state;
           })
      .def("set_optimizer_state",
           [](Net& net, std::int64_t steps, Array<T> velocity, Array<T> m, Array<T> v) {
             const idx p = net.model().num_params();
             net.set_optimizer_state(steps, vector_of(velocity, p, "velocity"),
                                     vector_of(m, p, "adam_m"), vector_of(v, p, "adam_v"));
           })
      .def("reset_optimizer_state", &Net::reset_optimizer_state);
}

void bind_optimizer_config(py::module_& m) {
  py::class_<OptimConfig>(m, "OptimizerConfig")
      .def(py::init<>())
      .def_property(
          "kind", [](const OptimConfig& c) { return c.kind; },
          [](OptimConfig& c, int k) { c.kind = checked_optimizer_kind(k); })
      .def_readwrite("lr", &OptimConfig::lr)
      .def_readwrite("momentum", &OptimConfig::momentum)
      .def_readwrite("nesterov", &OptimConfig::nesterov)
      .def_readwrite("beta1", &OptimConfig::beta1)
      .def_readwrite("beta2", &OptimConfig::beta2)
      .def_readwrite("eps", &OptimConfig::eps)
      .def_readwrite("weight_decay", &OptimConfig::weight_decay)
      .def_readwrite("l2", &OptimConfig::l2)
      .def_readwrite("l2_per_sample", &OptimConfig::l2_per_sample)
      .def_readwrite("clip_norm", &OptimConfig::clip_norm)
      .def_property_readonly("is_plain_sgd", &OptimConfig::is_plain_sgd);
}

}  // namespace

void register_network(py::module_& m) {
  bind_optimizer_config(m);
  bind_network_type<float>(m, "Network_float32");
  bind_network_type<double>(m, "Network_float64");
}

}  // namespace dp::bind
