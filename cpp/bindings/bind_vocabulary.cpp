// The vocabulary as Python enums, built from the core's tables (common/vocabulary.hpp):
// _core.Activation, _core.Loss, _core.OptimizerKind and _core.output_activation(loss).
// They are Python IntEnums: a member is the int id the saved formats store, and every binding
// that takes an id accepts a member or a plain int.
#include <pybind11/native_enum.h>
#include <pybind11/pybind11.h>
#include "../common/vocabulary.hpp"
#include "checks.hpp"
#include "bindings.hpp"

namespace dp::bind {

void register_vocabulary(py::module_& m) {
  py::native_enum<Act> act(m, "Activation", "enum.IntEnum", "Activations; values are the saved ids");
  for (const auto& e : kActivations) act.value(e.name, e.id);
  act.finalize();

  py::native_enum<LossKind> loss(m, "Loss", "enum.IntEnum", "Losses; values are the saved ids");
  for (const auto& e : kLosses) loss.value(e.name, e.id);
  loss.finalize();

  py::native_enum<OptimKind> opt(m, "OptimizerKind", "enum.IntEnum",
                                 "Optimizers; values are the checkpointed ids");
  for (const auto& e : kOptimizers) opt.value(e.name, e.id);
  opt.finalize();

  m.def("output_activation",
        [](int id) { return std::string(loss_entry(checked_loss(id)).output_name); },
        py::arg("loss"),
        "The output activation a loss implies: 'softmax' (cross_entropy), 'identity' (mse), "
        "'sigmoid' (binary_cross_entropy)");
}

}  // namespace dp::bind
