#include "device_array.hpp"
#include <pybind11/stl.h>
#include <algorithm>
#include <numeric>

namespace py = pybind11;

namespace dp::cuda {
namespace {

// DLPack 0.8 ABI (dlpack.h), the unversioned "dltensor" capsule every consumer accepts.
struct DLDevice { std::int32_t device_type; std::int32_t device_id; };
struct DLDataType { std::uint8_t code; std::uint8_t bits; std::uint16_t lanes; };
struct DLTensor {
  void* data; DLDevice device; std::int32_t ndim; DLDataType dtype;
  std::int64_t* shape; std::int64_t* strides; std::uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor; void* manager_ctx; void (*deleter)(DLManagedTensor* self);
};
constexpr std::int32_t kDLCUDA = 2;
constexpr std::uint8_t kDLFloat = 2;

struct Exported {  // the managed tensor plus what keeps its memory alive
  DLManagedTensor managed{};
  std::vector<std::int64_t> shape;
  PyObject* owner = nullptr;
};

void delete_exported(DLManagedTensor* self) {
  auto* e = static_cast<Exported*>(self->manager_ctx);
  {
    py::gil_scoped_acquire gil;
    Py_XDECREF(e->owner);
  }
  delete e;
}

void capsule_destructor(PyObject* capsule) {
  // Still named "dltensor": no consumer took it, so it is ours to free.
  if (PyCapsule_IsValid(capsule, "dltensor")) {
    auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, "dltensor"));
    if (managed && managed->deleter) managed->deleter(managed);
  }
}

// What a producer's "dltensor" capsule describes, read without consuming it: the capsule object
// stays alive with the caller (and frees the tensor when it goes), so nothing is owned here.
py::dict describe_dlpack(py::capsule capsule) {
  if (!PyCapsule_IsValid(capsule.ptr(), "dltensor"))
    throw py::type_error("X: expected an unconsumed DLPack capsule named 'dltensor'");
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), "dltensor"));
  const DLTensor& t = managed->dl_tensor;
  if (t.ndim < 0 || t.ndim > 8) throw py::value_error("X: a DLPack tensor with " + std::to_string(t.ndim) + " dimensions");
  py::list shape, strides;
  for (int i = 0; i < t.ndim; ++i) shape.append(t.shape[i]);
  if (t.strides)
    for (int i = 0; i < t.ndim; ++i) strides.append(t.strides[i]);  // in elements
  std::string typestr;
  if (t.dtype.lanes == 1 && (t.dtype.code == kDLFloat || t.dtype.code == 0 || t.dtype.code == 1)) {
    const char kind = t.dtype.code == kDLFloat ? 'f' : t.dtype.code == 0 ? 'i' : 'u';
    typestr = std::string("<") + kind + std::to_string(t.dtype.bits / 8);
  }
  py::dict d;
  d["ptr"] = reinterpret_cast<std::uintptr_t>(static_cast<char*>(t.data) + t.byte_offset);
  d["shape"] = py::tuple(shape);
  d["strides"] = t.strides ? py::object(py::tuple(strides)) : py::object(py::none());
  d["typestr"] = typestr;  // "" for a type deltaprop does not read
  d["device_type"] = t.device.device_type;  // 1 CPU, 2 CUDA, ...
  d["device_id"] = t.device.device_id;
  return d;
}

}  // namespace

DeviceArray::DeviceArray(std::vector<std::int64_t> shape, bool is_double, int device)
    : shape_(std::move(shape)), is_double_(is_double), device_(device) {
  check(cudaSetDevice(device), "cudaSetDevice");
  // From the device's memory pool (cudaMallocAsync): an output per call costs no cudaMalloc.
  const std::size_t bytes = std::max<std::size_t>(1, std::size_t(size()) * (is_double ? 8 : 4));
  cudaError_t status = cudaMallocAsync(&data_, bytes, nullptr);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    throw DeviceOutOfMemory("not enough GPU memory for an output array of " + std::to_string(bytes >> 20) + " MiB");
  }
  check(status, "cudaMallocAsync");
  check(cudaStreamSynchronize(nullptr), "cudaStreamSynchronize");  // usable from any stream
}

DeviceArray::~DeviceArray() {
  if (!data_) return;
  cudaSetDevice(device_);
  cudaFreeAsync(data_, nullptr);
}

std::int64_t DeviceArray::size() const {
  return std::accumulate(shape_.begin(), shape_.end(), std::int64_t(1), std::multiplies<std::int64_t>());
}

py::array DeviceArray::to_numpy() const {
  py::array out(is_double_ ? py::dtype::of<double>() : py::dtype::of<float>(),
                std::vector<py::ssize_t>(shape_.begin(), shape_.end()));
  check(cudaSetDevice(device_), "cudaSetDevice");
  check(cudaMemcpy(out.mutable_data(), data_, std::size_t(size()) * (is_double_ ? 8 : 4),
                   cudaMemcpyDeviceToHost),
        "download an array");
  return out;
}

void bind_device_array(py::module_& m) {
  m.def("describe_dlpack", &describe_dlpack, py::arg("capsule"),
        "Pointer, shape, strides (elements), typestr and device of an unconsumed DLPack capsule.");
  py::class_<DeviceArray>(m, "DeviceArray", "A C-contiguous float array in GPU memory.")
      .def(py::init<std::vector<std::int64_t>, bool, int>(), py::arg("shape"), py::arg("is_double"),
           py::arg("device"))
      .def_property_readonly("ptr", &DeviceArray::ptr)
      .def_property_readonly("shape", [](const DeviceArray& a) { return py::tuple(py::cast(a.shape())); })
      .def_property_readonly("dtype", [](const DeviceArray& a) {
        return a.is_double() ? py::dtype::of<double>() : py::dtype::of<float>();
      })
      .def_property_readonly("device", &DeviceArray::device)
      .def("get", &DeviceArray::to_numpy, "A numpy copy on the host.")
      .def("__array__", [](const DeviceArray& a, py::args, py::kwargs) { return a.to_numpy(); })
      .def_property_readonly("__cuda_array_interface__", [](const DeviceArray& a) {
        py::dict d;
        d["shape"] = py::tuple(py::cast(a.shape()));
        d["typestr"] = a.is_double() ? "<f8" : "<f4";
        d["data"] = py::make_tuple(a.ptr(), false);
        d["version"] = 3;
        d["strides"] = py::none();
        d["stream"] = py::none();  // the producing stream was synchronised before return
        return d;
      })
      .def("__dlpack_device__", [](const DeviceArray& a) { return py::make_tuple(kDLCUDA, a.device()); })
      .def("__dlpack__",
           [](py::object self, py::kwargs) {
             // Every producing call synchronises its stream before returning, so the data is
             // ready on any consumer stream.
             const DeviceArray& a = self.cast<const DeviceArray&>();
             auto* e = new Exported;
             e->shape = a.shape();
             e->owner = self.ptr();
             Py_INCREF(e->owner);
             DLTensor& t = e->managed.dl_tensor;
             t.data = reinterpret_cast<void*>(a.ptr());
             t.device = {kDLCUDA, a.device()};
             t.ndim = std::int32_t(e->shape.size());
             t.dtype = {kDLFloat, std::uint8_t(a.is_double() ? 64 : 32), 1};
             t.shape = e->shape.data();
             t.strides = nullptr;
             t.byte_offset = 0;
             e->managed.manager_ctx = e;
             e->managed.deleter = delete_exported;
             return py::reinterpret_steal<py::object>(PyCapsule_New(&e->managed, "dltensor", capsule_destructor));
           })
      .def("__repr__", [](const DeviceArray& a) {
        std::string s = "DeviceArray(shape=(";
        for (auto d : a.shape()) s += std::to_string(d) + ",";
        return s + "), dtype=" + (a.is_double() ? "float64" : "float32") + ", device=cuda:" +
               std::to_string(a.device()) + ")";
      });
}

}  // namespace dp::cuda
