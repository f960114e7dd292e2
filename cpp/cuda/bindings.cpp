// deltaprop._cuda: the CUDA backend as its own extension module, so the CPU module never
// depends on CUDA. Network_float32/64 mirror the CPU core's method names; host arrays come in
// as numpy, device arrays as raw pointers checked by the Python layer (deltaprop/cuda.py).
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <optional>
#include "device_array.hpp"
#include "network.hpp"

namespace py = pybind11;

namespace dp::cuda {
namespace {

template <class T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

[[noreturn]] void bad_shape(const char* name, const std::string& expected, const py::array& got) {
  std::string shape = "(";
  for (py::ssize_t i = 0; i < got.ndim(); ++i) shape += std::to_string(got.shape(i)) + (i + 1 < got.ndim() ? ", " : "");
  throw py::value_error(std::string(name) + ": expected shape " + expected + ", got " + shape + ")");
}

void require_2d(const py::array& a, idx rows, idx cols, const char* name) {
  if (a.ndim() != 2 || (rows >= 0 && a.shape(0) != rows) || a.shape(1) != cols)
    bad_shape(name, "(" + (rows >= 0 ? std::to_string(rows) : std::string("n")) + ", " + std::to_string(cols) + ")", a);
}

void require_1d(const py::array& a, idx n, const char* name) {
  if (a.ndim() != 1 || a.shape(0) != n) bad_shape(name, "(" + std::to_string(n) + ",)", a);
}

// Host rows with their checks; the arrays stay alive as long as this object.
template <class T>
struct HostRows {
  Array<T> X;
  std::optional<Array<std::int64_t>> labels;
  std::optional<Array<T>> values, weights;
  Rows<T> rows(const Network<T>& net) const {
    require_2d(X, -1, net.input_width(), "X");
    Rows<T> r;
    r.n = X.shape(0);
    if (r.n < 1) throw py::value_error("X: expected at least 1 row");
    r.X = X.data();
    if (labels && net.loss() != LossId::CrossEntropy)
      throw py::value_error("y: class labels need the cross_entropy loss; give target values");
    if (labels) {
      require_1d(*labels, r.n, "y");
      const std::int64_t* lab = labels->data();
      for (idx i = 0; i < r.n; ++i)
        if (lab[i] < 0 || lab[i] >= net.output_width()) throw py::value_error("y: class index out of range");
      r.labels = lab;
    } else if (values) {
      require_2d(*values, r.n, net.output_width(), "y");
      r.values = values->data();
    } else {
      throw py::value_error("y: give labels or target values");
    }
    if (weights) {
      require_1d(*weights, r.n, "sample_weight");
      r.weights = weights->data();
    }
    return r;
  }
};

StepConfig step_config(const py::object& cfg) {
  StepConfig c;
  c.adam = cfg.attr("kind").cast<int>() == 1;
  c.lr = cfg.attr("lr").cast<double>();
  c.momentum = cfg.attr("momentum").cast<double>();
  c.nesterov = cfg.attr("nesterov").cast<bool>();
  c.beta1 = cfg.attr("beta1").cast<double>();
  c.beta2 = cfg.attr("beta2").cast<double>();
  c.eps = cfg.attr("eps").cast<double>();
  c.weight_decay = cfg.attr("weight_decay").cast<double>();
  c.l2 = cfg.attr("l2").cast<double>();
  c.l2_per_sample = cfg.attr("l2_per_sample").cast<bool>();
  c.clip_norm = cfg.attr("clip_norm").cast<double>();
  return c;
}

inline void check_signals() {
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) throw py::error_already_set();
}

template <class T>
idx n_bound(const Network<T>& net) {
  if (net.bound_rows() < 1) throw py::value_error("train_epoch: no training data bound (bind_data first)");
  return net.bound_rows();
}

template <class T>
py::array_t<T> flat(idx n) { return py::array_t<T>(py::ssize_t(n)); }

template <class T>
void bind_network(py::module_& m, const char* name) {
  using Net = Network<T>;
  py::class_<Net>(m, name)
      .def(py::init([](int device, std::vector<idx> sizes, std::vector<int> acts, int loss, Array<T> params) {
             if (loss < 0 || loss > int(LossId::Poisson))
               throw py::value_error("loss: unknown loss id " + std::to_string(loss));
             std::vector<Act> a;
             for (int v : acts) {
               if (v < 0 || v > 4) throw py::value_error("activation: unknown activation id " + std::to_string(v));
               a.push_back(static_cast<Act>(v));
             }
             idx count = 0;
             for (std::size_t l = 0; l + 1 < sizes.size(); ++l) count += sizes[l + 1] * sizes[l] + sizes[l + 1];
             require_1d(params, count, "params");
             return new Net(device, std::move(sizes), std::move(a), static_cast<LossId>(loss), params.data());
           }),
           py::arg("device"), py::arg("sizes"), py::arg("activations"), py::arg("loss"), py::arg("params"))
      .def_property_readonly("num_params", &Net::num_params)
      .def_property_readonly("sizes", &Net::sizes)
      .def_property_readonly("device", &Net::device)
      .def_property(
          "math", [](const Net& n) { return n.math == MathMode::TF32 ? "tf32" : "fp32"; },
          [](Net& n, const std::string& mode) {
            if (mode != "fp32" && mode != "tf32") throw py::value_error("precision: expected 'fp32' or 'tf32'");
            py::gil_scoped_release nogil;
            n.set_math(mode == "tf32" ? MathMode::TF32 : MathMode::Strict);
          })
      .def_readwrite("use_graphs", &Net::use_graphs)
      .def_readwrite("stream_data", &Net::stream_data)
      .def_property_readonly("streaming", &Net::streaming)
      .def_property("epilogues", &Net::epilogues,
                    [](Net& n, bool on) {
                      py::gil_scoped_release nogil;
                      n.set_epilogues(on);
                    })
      .def("get_params", [](Net& n) {
        auto out = flat<T>(n.num_params());
        T* o = out.mutable_data();
        py::gil_scoped_release nogil;
        n.get_params(o);
        return out;
      })
      .def("set_params", [](Net& n, Array<T> theta) {
        require_1d(theta, n.num_params(), "theta");
        const T* t = theta.data();
        py::gil_scoped_release nogil;
        n.set_params(t);
      })
      .def("forward", [](Net& n, Array<T> X, bool transform) {
        require_2d(X, -1, n.input_width(), "X");
        const idx rows = X.shape(0);
        py::array_t<T> out({py::ssize_t(rows), py::ssize_t(n.output_width())});
        const T* x = X.data();
        T* o = out.mutable_data();
        py::gil_scoped_release nogil;
        n.forward(x, false, rows, o, false, transform);
        return out;
      }, py::arg("X"), py::arg("transform") = false)
      .def("forward_device", [](Net& n, std::uintptr_t x, idx rows, std::uintptr_t out, bool transform) {
        py::gil_scoped_release nogil;
        n.forward(reinterpret_cast<const T*>(x), true, rows, reinterpret_cast<T*>(out), true, transform);
      }, py::arg("x_ptr"), py::arg("rows"), py::arg("out_ptr"), py::arg("transform") = false)
      .def("activations", [](Net& n, Array<T> X) {
        require_2d(X, -1, n.input_width(), "X");
        const idx rows = X.shape(0);
        py::list result;
        std::vector<T*> outs;
        for (idx l = 0; l < n.num_layers(); ++l) {
          py::array_t<T> a({py::ssize_t(rows), py::ssize_t(n.sizes()[l + 1])});
          outs.push_back(a.mutable_data());
          result.append(a);
        }
        const T* x = X.data();
        py::gil_scoped_release nogil;
        n.activations(x, rows, outs);
        return result;
      })
      .def("evaluate", [](Net& n, Array<T> X, std::optional<Array<std::int64_t>> labels,
                          std::optional<Array<T>> values) {
        HostRows<T> h{X, labels, values, std::nullopt};
        Rows<T> r = h.rows(n);
        py::array_t<T> logits({py::ssize_t(r.n), py::ssize_t(n.output_width())});
        T* lg = logits.mutable_data();
        double loss;
        {
          py::gil_scoped_release nogil;
          loss = n.evaluate(r, lg);
        }
        return py::make_tuple(loss, logits);
      })
      .def("loss_and_grad", [](Net& n, Array<T> X, std::optional<Array<std::int64_t>> labels,
                               std::optional<Array<T>> values, double l2, std::optional<Array<T>> weights) {
        HostRows<T> h{X, labels, values, weights};
        Rows<T> r = h.rows(n);
        auto grad = flat<T>(n.num_params());
        T* g = grad.mutable_data();
        double loss;
        {
          py::gil_scoped_release nogil;
          loss = n.loss_and_grad(r, l2, g);
        }
        return py::make_tuple(loss, grad);
      }, py::arg("X"), py::arg("labels"), py::arg("values"), py::arg("l2"), py::arg("weights") = py::none())
      .def("train_step", [](Net& n, Array<T> X, std::optional<Array<std::int64_t>> labels,
                            std::optional<Array<T>> values, std::optional<Array<T>> weights, py::object cfg) {
        HostRows<T> h{X, labels, values, weights};
        Rows<T> r = h.rows(n);
        StepConfig c = step_config(cfg);
        py::gil_scoped_release nogil;
        return n.train_step(r, c);
      })
      .def("bind_data", [](Net& n, Array<T> X, std::optional<Array<std::int64_t>> labels,
                           std::optional<Array<T>> values, std::optional<Array<T>> weights) {
        HostRows<T> h{X, labels, values, weights};
        Rows<T> r = h.rows(n);
        py::gil_scoped_release nogil;
        n.bind_data(r, false);
      })
      .def("bind_device_data", [](Net& n, std::uintptr_t x, std::uintptr_t labels, std::uintptr_t values,
                                  std::uintptr_t weights, idx rows) {
        Rows<T> r;
        r.X = reinterpret_cast<const T*>(x);
        r.labels = reinterpret_cast<const std::int64_t*>(labels);
        r.values = reinterpret_cast<const T*>(values);
        r.weights = reinterpret_cast<const T*>(weights);
        r.n = rows;
        if (!r.X || rows < 1 || (!r.labels && !r.values)) throw py::value_error("bind_device_data: missing data");
        py::gil_scoped_release nogil;
        n.bind_data(r, true);
      })
      .def("release_data", &Net::release_data, py::call_guard<py::gil_scoped_release>())
      .def("train_epoch_bound", [](Net& net, std::optional<py::array_t<std::int64_t, py::array::c_style>> order,
                                   idx batch, py::object cfg) {
        StepConfig c = step_config(cfg);
        const std::int64_t* ord = nullptr;
        const idx n = n_bound(net);
        if (order) {  // every index must name a bound row: the gather kernel trusts them
          require_1d(*order, n, "order");
          ord = order->data();
          for (idx i = 0; i < n; ++i)
            if (ord[i] < 0 || ord[i] >= n) throw py::value_error("order: row index out of range");
        }
        if (batch < 1) throw py::value_error("batch_size: must be >= 1");
        py::gil_scoped_release nogil;
        return net.train_epoch(ord, batch, c, check_signals);
      })
      .def("optimizer_state", [](Net& n) {
        auto vel = flat<T>(n.num_params()), m = flat<T>(n.num_params()), v = flat<T>(n.num_params());
        bool have[3] = {false, false, false};
        std::int64_t steps = 0;
        {
          py::gil_scoped_release nogil;
          n.get_optimizer_state(vel.mutable_data(), m.mutable_data(), v.mutable_data(), have);
          steps = n.optimizer_steps();
        }
        py::dict state;
        state["steps"] = steps;
        state["velocity"] = have[0] ? vel : flat<T>(0);
        state["adam_m"] = have[1] ? m : flat<T>(0);
        state["adam_v"] = have[2] ? v : flat<T>(0);
        return state;
      })
      .def("set_optimizer_state", [](Net& n, std::int64_t steps, Array<T> vel, Array<T> m, Array<T> v) {
        for (auto* a : {&vel, &m, &v})
          if (a->size() != 0) require_1d(*a, n.num_params(), "optimizer state");
        if ((m.size() == 0) != (v.size() == 0)) throw py::value_error("optimizer state: give both Adam moments");
        py::gil_scoped_release nogil;
        n.set_optimizer_state(steps, vel.size() ? vel.data() : nullptr, m.size() ? m.data() : nullptr,
                              v.size() ? v.data() : nullptr);
      })
      .def("save_snapshot", &Net::save_snapshot, py::call_guard<py::gil_scoped_release>())
      .def("restore_snapshot", &Net::restore_snapshot, py::call_guard<py::gil_scoped_release>())
      .def("params_finite", &Net::params_finite, py::call_guard<py::gil_scoped_release>())
      .def("apply_gradient", [](Net& n, Array<T> grad, py::object cfg, std::optional<double> mass) {
        require_1d(grad, n.num_params(), "grad");
        StepConfig c = step_config(cfg);
        const T* g = grad.data();
        py::gil_scoped_release nogil;
        n.apply_gradient(g, c, mass ? *mass : 0.0);
      }, py::arg("grad"), py::arg("config"), py::arg("mass") = py::none())
      .def("reset_optimizer_state", &Net::reset_optimizer_state, py::call_guard<py::gil_scoped_release>());
}

}  // namespace
}  // namespace dp::cuda

PYBIND11_MODULE(_cuda, m) {
  using namespace dp::cuda;
  m.doc() = "deltaprop's CUDA backend (cuBLASLt products, own kernels, CUDA graphs)";
  py::register_exception<DeviceOutOfMemory>(m, "DeviceOutOfMemory", PyExc_MemoryError);
  m.def("device_count", []() { return device_count(nullptr); });
  m.def("why_unavailable", []() {
    std::string why;
    return device_count(&why) > 0 ? std::string() : why;
  });
  m.def("device_info", [](int device) {
    DeviceInfo info = device_info(device);
    py::dict d;
    d["name"] = info.name;
    d["compute_capability"] = py::make_tuple(info.major, info.minor);
    d["multiprocessors"] = info.multiprocessors;
    d["total_memory"] = info.total_memory;
    return d;
  });
  m.def("runtime_version", []() {
    int v = 0;
    cudaRuntimeGetVersion(&v);
    return v;
  });
  m.def("cublaslt_version", []() { return cublasLtGetVersion(); });
  m.def("synchronize", [](int device) {
    py::gil_scoped_release nogil;
    check(cudaSetDevice(device), "cudaSetDevice");
    check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  });
  m.def("pointer_device", [](std::uintptr_t ptr) {
    cudaPointerAttributes attr{};
    cudaError_t status = cudaPointerGetAttributes(&attr, reinterpret_cast<const void*>(ptr));
    if (status != cudaSuccess) {
      cudaGetLastError();
      return -2;
    }
    return attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged ? attr.device : -1;
  }, "The device holding `ptr`, -1 for host memory, -2 if CUDA cannot tell.");
  bind_device_array(m);
  bind_network<float>(m, "Network_float32");
  bind_network<double>(m, "Network_float64");
}
